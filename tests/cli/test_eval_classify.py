"""`latentspace eval` against an independent precision@k, and `latentspace classify`."""

from __future__ import annotations

import json

import numpy as np

from latentspace.cli.main import main
from support import DEMO_CORPUS


def _precision_oracle(npz_path, k: int) -> tuple[float, dict[str, float]]:
    data = np.load(npz_path)
    vectors, labels = data["vectors"].astype(np.float64), data["labels"]
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    sims = unit @ unit.T
    np.fill_diagonal(sims, -np.inf)
    per_item = []
    for row in range(len(labels)):
        nearest = np.argsort(-sims[row], kind="stable")[:k]
        per_item.append(np.mean(labels[nearest] == labels[row]))
    per_item = np.array(per_item)
    per_label = {str(label): float(per_item[labels == label].mean()) for label in np.unique(labels)}
    return float(per_item.mean()), per_label


def test_eval_matches_bruteforce_precision(small_index, tmp_path, capsys):
    assert main(["export", str(small_index), "--out", str(tmp_path / "x.npz")]) == 0
    overall, per_label = _precision_oracle(tmp_path / "x.npz", k=3)
    capsys.readouterr()
    assert main(["eval", str(small_index), "-k", "3", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["k"] == 3 and report["items"] == 12
    assert abs(report["precision"] - overall) < 1e-9
    assert {row["label"]: row["precision"] for row in report["labels"]} == per_label
    # 4 items per label among 12: chance is 3/11 for every label
    assert all(abs(row["chance"] - 3 / 11) < 1e-9 for row in report["labels"])


def test_eval_rejects_bad_k(small_index, capsys):
    assert main(["eval", str(small_index), "-k", "0"]) == 2
    assert "-k must be at least 1" in capsys.readouterr().err


def test_classify_recognises_the_demo_cat(capsys):
    cat = DEMO_CORPUS / "cat" / "chelsea.png"
    assert main(["classify", str(cat), "--model", "efficientnet-lite0", "--weights", "imagenet", "--json"]) == 0
    classes = json.loads(capsys.readouterr().out)[str(cat)]
    names = [c["class"] for c in classes]
    assert len(names) == 5
    assert {"tabby", "tiger cat", "Egyptian cat"} & set(names[:3])
    probabilities = [c["probability"] for c in classes]
    assert probabilities == sorted(probabilities, reverse=True)


def test_index_with_efficientnet_has_1280_d_vectors(photo_corpus, tmp_path, capsys):
    index = tmp_path / "eff"
    argv = ["index", str(photo_corpus), "--index", str(index), "--model", "efficientnet-lite0",
            "--weights", "imagenet", "--workers", "0", "--no-progress"]
    assert main(argv) == 0
    assert main(["export", str(index), "--out", str(tmp_path / "e.npz")]) == 0
    data = np.load(tmp_path / "e.npz")
    assert data["vectors"].shape == (12, 1280)
    manifest = json.loads((index / "manifest.json").read_text())
    assert manifest["embedder"]["model"] == "efficientnet-lite0"
    assert manifest["embedder"]["dimension"] == 1280 and manifest["embedder"]["pretrained"] is True
