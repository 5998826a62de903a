"""The vectors ``latentspace index`` stores are AlexNet's own activations, computed independently.

The reference is written here from torchvision alone (no latentspace code): the same seeded
architecture, ImageNet preprocessing on the file opened with Pillow, and the network run module
by module up to the layer. Any drift in preprocessing, layer choice, weights or seeding shows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image
from torchvision.models import AlexNet_Weights

EXPECTED_CHECKPOINT = Path("hub") / "checkpoints" / "alexnet-owt-7be5be79.pth"


def seeded_alexnet(seed: int) -> torch.nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = torchvision.models.alexnet(weights=None)
    return model.eval()


def reference_vectors(model: torch.nn.Module, paths: list[str], layer: str) -> np.ndarray:
    preprocess = AlexNet_Weights.IMAGENET1K_V1.transforms()
    batch = torch.stack([preprocess(Image.open(p).convert("RGB")) for p in paths])
    head = model.classifier[:6] if layer == "fc7" else model.classifier[:3]
    with torch.no_grad():
        x = torch.flatten(model.avgpool(model.features(batch)), 1)
        return head(x).numpy()


@pytest.fixture(scope="module")
def model0() -> torch.nn.Module:
    return seeded_alexnet(0)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, corpus_writer) -> Path:
    root = tmp_path_factory.mktemp("tv-corpus")
    corpus_writer(root, per_label=2)  # 6 files, JPEG and PNG
    return root


@pytest.mark.parametrize("layer", ["fc7", "fc6"])
def test_stored_vectors_equal_torchvision_alexnet(layer, corpus, model0, tmp_path, index_run, export):
    args = ["--layer", layer] if layer == "fc6" else []
    result = index_run(corpus, tmp_path / "idx", *args)
    assert result.code == 0, result.text
    data = export(tmp_path / "idx")
    assert len(data["paths"]) == 6
    expected = reference_vectors(model0, list(data["paths"]), layer)
    assert data["vectors"].shape == (6, 4096)
    assert data["vectors"].dtype == np.float32
    assert (expected >= 0).all() and (expected > 0).any(), "the reference is read after a ReLU"
    np.testing.assert_allclose(data["vectors"], expected, rtol=0, atol=1e-5)


def test_fc6_and_fc7_differ(corpus, model0):
    """Guards the test above: reading the wrong layer must not pass by accident."""
    paths = sorted(str(p) for p in corpus.rglob("*.*"))[:2]
    assert np.abs(reference_vectors(model0, paths, "fc6") - reference_vectors(model0, paths, "fc7")).max() > 1e-2


def test_random_seed_changes_the_weights(corpus, model0, tmp_path, index_run, export):
    result = index_run(corpus, tmp_path / "idx", "--weights", "random:3")
    assert result.code == 0, result.text
    data = export(tmp_path / "idx")
    paths = list(data["paths"])
    np.testing.assert_allclose(data["vectors"], reference_vectors(seeded_alexnet(3), paths, "fc7"), rtol=0, atol=1e-5)
    assert np.abs(data["vectors"] - reference_vectors(model0, paths, "fc7")).max() > 1e-3


def test_weights_file_gives_the_vectors_of_its_model(corpus, tmp_path, index_run, export, monkeypatch):
    model = seeded_alexnet(7)
    weights = tmp_path / "alexnet-seed7.pt"
    torch.save(model.state_dict(), weights)
    # The file must be read with weights_only=True: record every torch.load call.
    calls = []
    real_load = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    result = index_run(corpus, tmp_path / "idx", "--weights", weights)
    assert result.code == 0, result.text
    assert calls and all(c is True for c in calls), calls
    data = export(tmp_path / "idx")
    np.testing.assert_allclose(data["vectors"], reference_vectors(model, list(data["paths"]), "fc7"), rtol=0, atol=1e-5)


def test_same_weights_from_a_checkpoint_match_the_seeded_index(corpus, model0, tmp_path, index_run):
    """The manifest identifies weights by their values, so random:0 saved to a file is the same embedder;
    a training checkpoint ({"state_dict": ..., other keys}) is read too."""
    assert index_run(corpus, tmp_path / "idx", "--weights", "random:0").code == 0
    weights = tmp_path / "same.pt"
    torch.save({"state_dict": model0.state_dict(), "epoch": 3}, weights)
    result = index_run(corpus, tmp_path / "idx", "--weights", weights)
    assert result.code == 0, result.text
    assert "indexed 0 new, 0 changed, 6 unchanged" in result.out


class NotAStateDict:
    pass


def _bad_weights(kind: str, path: Path) -> str:
    """Write a bad weights file; returns a fragment the error message must contain."""
    if kind == "garbage":
        path.write_bytes(b"\x00this is not a torch file\xff" * 10)
        return "not a loadable state-dict file"
    if kind == "pickled-object":  # only loadable without weights_only: must be refused
        torch.save({"model": NotAStateDict()}, path)
        return "not a loadable state-dict file"
    if kind == "tensor":
        torch.save(torch.zeros(3), path)
        return "expected a state dict"
    if kind == "wrong-architecture":  # a wrong shape, missing keys and an unknown key
        torch.save({"features.0.weight": torch.zeros(2, 2), "head.weight": torch.zeros(1)}, path)
        return "do not fit"
    assert kind == "missing-file"
    return "no such file"


@pytest.mark.parametrize("kind", ["garbage", "pickled-object", "tensor", "wrong-architecture", "missing-file"])
def test_bad_weights_file_is_a_clear_error(kind, corpus, tmp_path, index_run):
    weights = tmp_path / "bad.pt"
    fragment = _bad_weights(kind, weights)
    result = index_run(corpus, tmp_path / "idx", "--weights", weights)
    assert result.code == 1, result.text
    assert "Traceback" not in result.err
    assert "error:" in result.err and fragment in result.err, result.err
    assert str(weights) in result.err
    assert not (tmp_path / "idx" / "manifest.json").exists()


@pytest.fixture
def empty_torch_home(tmp_path, monkeypatch) -> tuple[Path, list]:
    """TORCH_HOME pointing at an empty folder, and a record of download attempts (each one fails)."""
    home = tmp_path / "torch-home"
    home.mkdir()
    monkeypatch.setenv("TORCH_HOME", str(home))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    downloads = []

    def no_download(url, *args, **kwargs):
        downloads.append(url)
        raise OSError("network disabled in tests")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_download)
    return home, downloads


@pytest.mark.parametrize("flags", [["--weights", "imagenet"], []], ids=["explicit", "default"])
def test_imagenet_weights_missing_from_cache_fail_fast(flags, empty_torch_home, corpus, tmp_path, cli):
    home, downloads = empty_torch_home
    result = cli("index", corpus, "--index", tmp_path / "idx", "--workers", "0", "--no-progress", *flags)
    assert result.code != 0
    # torchvision's weights API tries the download once the cache misses; it fails, and the
    # message names the file and where to put it.
    assert downloads == ["https://download.pytorch.org/models/" + EXPECTED_CHECKPOINT.name]
    assert str(home / EXPECTED_CHECKPOINT) in result.err, result.err
    assert "could not be downloaded" in result.err
    assert "--weights PATH" in result.err
    assert "Traceback" not in result.err
    assert not (tmp_path / "idx" / "manifest.json").exists()


def test_damaged_cached_imagenet_weights_are_reported(empty_torch_home, corpus, tmp_path, cli):
    home, downloads = empty_torch_home
    cached = home / EXPECTED_CHECKPOINT
    cached.parent.mkdir(parents=True)
    torch.save({"not": torch.zeros(1)}, cached)
    result = cli("index", corpus, "--index", tmp_path / "idx", "--workers", "0", "--no-progress", "--weights", "imagenet")
    assert result.code != 0
    assert downloads == []
    assert str(cached) in result.err and "--weights PATH" in result.err, result.err


def test_cached_imagenet_file_is_loaded_without_download(empty_torch_home, corpus, tmp_path, cli, export):
    """A state dict at the cache path is what ``--weights imagenet`` loads (seeded here: no real download)."""
    home, downloads = empty_torch_home
    model = seeded_alexnet(11)
    cached = home / EXPECTED_CHECKPOINT
    cached.parent.mkdir(parents=True)
    torch.save(model.state_dict(), cached)
    result = cli("index", corpus, "--index", tmp_path / "idx", "--workers", "0", "--no-progress", "--weights", "imagenet")
    assert result.code == 0, result.text
    assert downloads == []
    data = export(tmp_path / "idx")
    np.testing.assert_allclose(data["vectors"], reference_vectors(model, list(data["paths"]), "fc7"), rtol=0, atol=1e-5)
