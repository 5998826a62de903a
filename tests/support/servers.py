"""Servers for the end-to-end tests: on 127.0.0.1, port 0, in this process or as a child process.

Whoever starts one stops it: the fixtures of ``tests/conftest.py`` stop theirs at teardown, and
:class:`ServeProcess` kills its child by pid on ``close``.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from support import REPO

__all__ = ["SERVE_TIMEOUT_S", "ServeProcess", "serve_in_process", "server_config"]

SERVE_TIMEOUT_S = 60.0


def server_config(**changes):
    """A server config for tests: a free port, short grace, and the given changes."""
    from latentspace.server.config import ServerConfig

    return ServerConfig(**{"host": "127.0.0.1", "port": 0, "grace_seconds": 2.0, "device": "cpu", **changes})


def serve_in_process(index_dir: Path, embedder, **changes):
    """A running server over ``index_dir`` with an already loaded embedder (starting costs milliseconds)."""
    from latentspace.server.app import create_server

    return create_server(index_dir, server_config(**changes), embedder=embedder)


class ServeProcess:
    """``latentspace serve`` in a child process, with the address it printed."""

    def __init__(self, index_dir: Path, *extra: str) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "latentspace.cli.main", "serve", str(index_dir), "--port", "0",
             "--device", "cpu", "--grace", "5", *extra],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.address = self._read_address()

    def _read_address(self) -> str:
        deadline = time.monotonic() + SERVE_TIMEOUT_S
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            match = re.search(r" on (\S+:\d+)$", line.strip())
            if match:
                return match.group(1)
        self.kill()
        raise AssertionError(f"serve did not print its address; stderr:\n{self.proc.stderr.read()}")

    def terminate(self, timeout: float = 30.0) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)

    def close(self) -> None:
        self.kill()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
