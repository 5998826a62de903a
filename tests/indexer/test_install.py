"""A regular (non-editable) install of the package works from outside the checkout.

This catches what an editable install hides: a package missing from ``[tool.setuptools]``, a
folder-to-package mapping that only works beside the sources, a broken console script.

Nothing is downloaded: the package is built from a copy of the sources with the build backend
already installed here (``--no-build-isolation``, ``--no-index``), and the dependencies already
installed here (torch, faiss, ...) are made visible to the new environment through a folder of
links to them, leaving out this checkout's own editable install so it cannot be picked up.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
PIP_TIMEOUT = 300


def copy_sources(target: Path) -> Path:
    """pyproject.toml, its readme and every mapped package folder: what the build reads."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    target.mkdir()
    shutil.copy2(REPO / "pyproject.toml", target)
    readme = config["project"].get("readme")
    if isinstance(readme, str):
        shutil.copy2(REPO / readme, target)
    for license_file in ("LICENSE", "LICENSE.txt", "LICENSE.md"):
        if (REPO / license_file).exists():
            shutil.copy2(REPO / license_file, target)
    for folder in sorted(set(config["tool"]["setuptools"]["package-dir"].values())):
        if (REPO / folder).is_dir():  # a missing folder is left missing: the build must say so
            shutil.copytree(REPO / folder, target / folder, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return target


def dependency_links(target: Path) -> Path:
    """Links to everything installed in this environment except latentspace itself and .pth hooks."""
    target.mkdir()
    seen = set()
    for key in ("purelib", "platlib"):
        site = Path(sysconfig.get_paths()[key])
        if site in seen or not site.is_dir():
            continue
        seen.add(site)
        for entry in site.iterdir():
            name = entry.name.lower()
            if name.startswith(("latentspace", "__editable__")) or name.endswith(".pth") or (target / entry.name).exists():
                continue
            (target / entry.name).symlink_to(entry)
    return target


def test_regular_install_imports_and_runs_outside_the_checkout(tmp_path, draw):
    source = copy_sources(tmp_path / "src")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    (Path(purelib) / "_dependencies.pth").write_text(str(dependency_links(tmp_path / "deps")) + "\n")

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PIP_"))}
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONNOUSERSITE="1")
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-index", "--no-build-isolation",
         f"{source}[cpu]"],
        capture_output=True, text=True, timeout=PIP_TIMEOUT, env=env, cwd=tmp_path,
    )
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]

    installed = Path(purelib) / "latentspace"
    assert (installed / "indexer" / "__init__.py").is_file() and (installed / "indexer" / "models" / "alexnet.py").is_file()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    probe = subprocess.run(
        [str(python), "-c", "import latentspace.client, latentspace.indexer, latentspace.cli.main as m; print(m.__file__)"],
        capture_output=True, text=True, timeout=120, env=env, cwd=outside,
    )
    assert probe.returncode == 0, probe.stderr
    assert Path(probe.stdout.strip()).is_relative_to(installed), "imported from the install, not the checkout"

    script = venv / "bin" / "latentspace"
    helped = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=120, env=env, cwd=outside)
    assert helped.returncode == 0, helped.stderr
    assert "index" in helped.stdout and "export" in helped.stdout

    (outside / "pics").mkdir()
    for i in range(2):
        draw(i, (120, 80, 40), (64, 48)).save(outside / "pics" / f"{i}.png")
    indexed = subprocess.run(
        [str(script), "index", "pics", "--index", "idx", "--weights", "random", "--workers", "0", "--no-progress"],
        capture_output=True, text=True, timeout=300, env=env, cwd=outside,
    )
    assert indexed.returncode == 0, indexed.stderr
    assert "indexed 2 new" in indexed.stdout
