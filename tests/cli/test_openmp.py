"""The command line makes idle OpenMP threads sleep, and does so before torch or FAISS is loaded."""

from __future__ import annotations

import os
import subprocess
import sys

from latentspace.cli.openmp import prefer_sleeping_openmp_threads


def test_defaults_to_passive_and_keeps_a_users_choice():
    env: dict[str, str] = {}
    assert prefer_sleeping_openmp_threads(env) == "PASSIVE" and env == {"OMP_WAIT_POLICY": "PASSIVE"}
    env = {"OMP_WAIT_POLICY": "ACTIVE"}
    assert prefer_sleeping_openmp_threads(env) == "ACTIVE" and env == {"OMP_WAIT_POLICY": "ACTIVE"}


def test_the_command_sets_the_policy_before_loading_torch_or_faiss():
    probe = (
        "import os, sys\n"
        "from latentspace.cli.main import main\n"
        "try:\n"
        "    main(['index', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(os.environ.get('OMP_WAIT_POLICY'), 'torch' in sys.modules, 'faiss' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1] == "PASSIVE False False"
