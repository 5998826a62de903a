"""Regenerate the gRPC stubs in ``proto/v1`` from ``proto/v1/*.proto`` (``make proto``).

The .proto files are compiled under the virtual include path ``latentspace/proto`` so the
generated modules import each other as ``from latentspace.proto.v1 import ..._pb2``: no
``sys.path`` tricks, the same from a checkout and from an installed wheel. The output is a
pure function of the .proto files and the grpcio-tools version, so a test can regenerate into
a temporary folder and fail when the committed stubs are stale.

    python -m latentspace.proto.generate            # rewrite proto/v1/*_pb2*.py{,i}
    python -m latentspace.proto.generate --check    # exit 1 if they are stale
"""

from __future__ import annotations

import argparse
import filecmp
import importlib.resources
import shutil
import sys
import tempfile
from pathlib import Path

__all__ = ["PROTO_ROOT", "GENERATED_SUFFIXES", "generate", "stale_files"]

PROTO_ROOT = Path(__file__).resolve().parent
"""The ``proto/`` folder; its ``v1/`` holds the .proto files and the committed stubs."""

VIRTUAL_ROOT = "latentspace/proto"
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


def _protos(root: Path) -> list[Path]:
    return sorted((root / "v1").glob("*.proto"))


def generate(out_dir: Path, *, root: Path = PROTO_ROOT) -> list[Path]:
    """Compile every ``root/v1/*.proto`` into ``out_dir`` (flat); returns the files written."""
    from grpc_tools import protoc  # a dev dependency: only needed to regenerate

    well_known = importlib.resources.files("grpc_tools") / "_proto"
    with tempfile.TemporaryDirectory() as tmp:
        args = [
            "grpc_tools.protoc",
            f"-I{VIRTUAL_ROOT}={root}",
            f"-I{well_known}",
            f"--python_out={tmp}",
            f"--grpc_python_out={tmp}",
            f"--pyi_out={tmp}",
        ]
        args += [f"{VIRTUAL_ROOT}/v1/{proto.name}" for proto in _protos(root)]
        if protoc.main(args) != 0:
            raise RuntimeError(f"protoc failed on {', '.join(p.name for p in _protos(root))}")
        out_dir.mkdir(parents=True, exist_ok=True)
        written = []
        for path in sorted((Path(tmp) / VIRTUAL_ROOT / "v1").iterdir()):
            if path.name.endswith(GENERATED_SUFFIXES):
                shutil.copyfile(path, out_dir / path.name)
                written.append(out_dir / path.name)
    return written


def stale_files(root: Path = PROTO_ROOT) -> list[str]:
    """Names of committed stubs that differ from a fresh generation, are missing, or are extra."""
    committed = {p.name for p in (root / "v1").iterdir() if p.name.endswith(GENERATED_SUFFIXES)}
    with tempfile.TemporaryDirectory() as tmp:
        fresh = {p.name for p in generate(Path(tmp), root=root)}
        differing = [
            name for name in sorted(fresh & committed)
            if not filecmp.cmp(Path(tmp) / name, root / "v1" / name, shallow=False)
        ]
    return sorted(set(differing) | (fresh ^ committed))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale stubs; exit 1 if any")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        for name in stale:
            print(f"stale: proto/v1/{name}", file=sys.stderr)
        return 1 if stale else 0
    for path in generate(PROTO_ROOT / "v1"):
        print(f"wrote proto/v1/{path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
