"""Nothing is unpickled: weights load with ``weights_only=True``, arrays without pickles, and no
module of the package imports a pickle-like loader.

A static scan of every package module catches a new call written without the safe flag; the
runtime tests feed the ImageNet weights path a cache file that would run code if unpickled.
"""

from __future__ import annotations

import ast
import pathlib
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parent.parent
PACKAGE_DIRS = ("indexer", "server", "client", "cli", "proto", "render")
UNSAFE_MODULES = {"pickle", "cPickle", "dill", "cloudpickle", "marshal", "shelve", "joblib"}
# call name -> (keyword, value it must have)
SAFE_FLAG = {
    "torch.load": ("weights_only", True),
    "load_state_dict_from_url": ("weights_only", True),
    "get_state_dict": ("weights_only", True),
    "np.load": ("allow_pickle", False),
    "numpy.load": ("allow_pickle", False),
}


def _sources() -> list[Path]:
    return sorted(p for d in PACKAGE_DIRS for p in (REPO / d).rglob("*.py"))


def _call_name(node: ast.Call) -> str:
    parts = []
    func = node.func
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if isinstance(func, ast.Name):
        parts.append(func.id)
    return ".".join(reversed(parts))


def _problems(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    where = path.relative_to(REPO)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for name in names:
                if name.split(".")[0] in UNSAFE_MODULES:
                    found.append(f"{where}:{node.lineno}: imports {name}")
        elif isinstance(node, ast.Call):
            name = _call_name(node)
            key = name if name in SAFE_FLAG else name.rsplit(".", 1)[-1]
            if name == "torch.hub.load":
                found.append(f"{where}:{node.lineno}: torch.hub.load runs code from the hub")
            if key not in SAFE_FLAG:
                continue
            flag, wanted = SAFE_FLAG[key]
            given = {k.arg: k.value for k in node.keywords}
            value = given.get(flag)
            if not (isinstance(value, ast.Constant) and value.value is wanted):
                found.append(f"{where}:{node.lineno}: {name}(...) without {flag}={wanted}")
    return found


def test_the_scan_sees_the_package():
    files = _sources()
    assert len(files) > 40
    calls = [n for p in files for n in ast.walk(ast.parse(p.read_text())) if isinstance(n, ast.Call)]
    names = {_call_name(c) for c in calls}
    assert {"torch.load", "np.load"} <= names, "the scan would miss the loads it is meant to check"


def test_every_load_refuses_pickles():
    problems = [problem for path in _sources() for problem in _problems(path)]
    assert problems == []


def test_the_scan_catches_an_unsafe_load(tmp_path, monkeypatch):
    bad = tmp_path / "bad.py"
    bad.write_text("import pickle\nimport torch, numpy as np\n"
                   "torch.load('w.pt')\nnp.load('a.npy', allow_pickle=True)\nW.get_state_dict(progress=True)\n")
    monkeypatch.setattr(f"{__name__}.REPO", tmp_path)
    assert len(_problems(bad)) == 4


# -- the ImageNet weights from the torch hub cache -----------------------------------------------


class _RunsCodeWhenUnpickled:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.touch, (self.marker,)


@pytest.fixture
def hub_cache(tmp_path, monkeypatch) -> Path:
    from latentspace.indexer.models.alexnet import cached_weights_path

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    path = cached_weights_path()
    assert path.is_relative_to(tmp_path)
    path.parent.mkdir(parents=True)
    return path


def test_imagenet_weights_load_with_weights_only(hub_cache, monkeypatch):
    from torchvision.models import alexnet

    from latentspace.indexer.models.alexnet import SPEC

    torch.manual_seed(3)
    torch.save(alexnet(weights=None).state_dict(), hub_cache)
    calls = []
    real_load = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    state = SPEC.load_pretrained()
    assert calls == [True]
    assert set(state) == set(alexnet(weights=None).state_dict())


def test_a_cache_file_that_runs_code_is_refused_unrun(hub_cache, tmp_path):
    from latentspace.indexer.embedders import WeightsUnavailable
    from latentspace.indexer.models.alexnet import SPEC

    marker = tmp_path / "code-ran"
    torch.save({"features.0.weight": _RunsCodeWhenUnpickled(marker)}, hub_cache)
    with pytest.raises(WeightsUnavailable, match="cannot be read"):
        SPEC.load_pretrained()
    assert not marker.exists(), "unpickling ran the file's code"
