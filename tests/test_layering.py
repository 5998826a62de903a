"""The layers of the package, read from its imports: transport at the edges, the core in between.

Only the gRPC layer of the server (``server/rpc/``, and ``server/app.py`` which starts it), the
client and the generated code itself may import gRPC, protobuf or the generated messages; the
core (search, arithmetic, pictures), the indexer, the renderer and the CLI never do. Likewise only ``server/metrics.py`` and the gRPC layer
import prometheus_client. The client
talks to a server and nothing else: it imports neither torch nor FAISS nor the server's, the
indexer's or the renderer's modules. Imports inside functions count as well.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE_DIRS = ("indexer", "server", "client", "cli", "proto", "render")

TRANSPORT = ("grpc", "grpc_health", "grpc_reflection", "google.protobuf", "latentspace.proto")
"""gRPC and the generated code (``grpc`` covers its submodules, not ``grpc_health``: each is listed)."""
TRANSPORT_ALLOWED = ("server/rpc/", "server/app.py", "client/", "proto/")

METRICS = ("prometheus_client",)
METRICS_ALLOWED = ("server/metrics.py", "server/rpc/", "server/app.py")
"""The core reports through ``server/search/events.py``; only the edges know what records it."""

CLIENT_FORBIDDEN = ("torch", "torchvision", "faiss", "latentspace.server", "latentspace.indexer", "latentspace.render")


def _package_of(path: Path) -> str:
    """``latentspace.server.search`` for ``server/search/engine.py`` (for relative imports)."""
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(("latentspace", *parts[:-1]))


def imports(path: Path) -> list[tuple[int, str]]:
    """``(line, absolute module name)`` of every import in ``path``; ``from a import b`` gives ``a.b`` too."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _package_of(path).split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append((node.lineno, module))
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return found


def _matches(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _sources() -> list[Path]:
    return sorted(p for d in PACKAGE_DIRS for p in (REPO / d).rglob("*.py"))


def violations() -> list[str]:
    found = []
    for path in _sources():
        where = path.relative_to(REPO).as_posix()
        for line, module in imports(path):
            if _matches(module, TRANSPORT) and not where.startswith(TRANSPORT_ALLOWED):
                found.append(f"{where}:{line}: imports {module}, but only {', '.join(TRANSPORT_ALLOWED)} may "
                             f"import gRPC or the generated code")
            if _matches(module, METRICS) and not where.startswith(METRICS_ALLOWED):
                found.append(f"{where}:{line}: imports {module}, but only {', '.join(METRICS_ALLOWED)} may "
                             f"import the metrics library (the core reports through ServingEvents)")
            if where.startswith("client/") and _matches(module, CLIENT_FORBIDDEN):
                found.append(f"{where}:{line}: imports {module}; the client talks to a server and imports "
                             f"none of {', '.join(CLIENT_FORBIDDEN)}")
    return sorted(set(found))


def test_the_sources_are_found():
    where = {p.relative_to(REPO).as_posix() for p in _sources()}
    assert {"server/rpc/servicer.py", "server/search/engine.py", "client/client.py", "cli/main.py"} <= where


def test_relative_imports_resolve_to_module_names(tmp_path, monkeypatch):
    (tmp_path / "server" / "search").mkdir(parents=True)
    probe = tmp_path / "server" / "search" / "probe.py"
    probe.write_text("from ..rpc import convert\nfrom . import engine\nimport grpc.aio\n", encoding="utf-8")
    monkeypatch.setattr(f"{__name__}.REPO", tmp_path)
    names = {module for _, module in imports(probe)}
    assert {"latentspace.server.rpc.convert", "latentspace.server.search.engine", "grpc.aio"} <= names


def test_only_the_edges_import_transport_and_the_client_stays_thin():
    found = violations()
    assert not found, "layering broken:\n" + "\n".join(found)
