"""A real two-node Ray cluster on this machine, all on loopback, started and stopped by pid.

Each node is a ``ray start --block`` process in its own session: killing its process group is a
node failure (raylet, object store and workers gone at once); SIGTERM is a clean stop.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RAY = Path(sys.executable).with_name("ray")
_WAIT_FOR_NODES = """
import sys, time, ray
ray.init(address=sys.argv[1], logging_level="ERROR", log_to_driver=False)
deadline = time.monotonic() + float(sys.argv[3])
while sum(n["Alive"] for n in ray.nodes()) != int(sys.argv[2]):
    if time.monotonic() > deadline:
        sys.exit("nodes did not join in time: " + repr([(n["NodeManagerAddress"], n["Alive"]) for n in ray.nodes()]))
    time.sleep(0.2)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RayCluster:
    def __init__(self, *, cpus_per_node: int = 1, object_store_bytes: int = 120 * 1024 * 1024) -> None:
        self.cpus = cpus_per_node
        self.store_bytes = object_store_bytes
        # Short: Ray's socket paths live under it and must stay under the OS limit of 107 bytes.
        self.temp_dir = Path(tempfile.mkdtemp(prefix="lsray-", dir="/tmp"))
        self.address = f"127.0.0.1:{free_port()}"
        self.env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="disabled")
        self.nodes: list[subprocess.Popen] = []

    def _start(self, *role: str) -> subprocess.Popen:
        log = open(self.temp_dir / f"node-{len(self.nodes)}.log", "wb")
        args = [str(RAY), "start", *role, "--node-ip-address", "127.0.0.1", "--num-cpus", str(self.cpus), "--num-gpus", "0",
                "--object-store-memory", str(self.store_bytes), "--dashboard-agent-listen-port", str(free_port()),
                "--metrics-export-port", str(free_port()), "--disable-usage-stats", "--block"]
        process = subprocess.Popen(args, env=self.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
        log.close()
        self.nodes.append(process)
        return process

    def start(self, nodes: int = 2, timeout: float = 120.0) -> RayCluster:
        port = self.address.rsplit(":", 1)[1]
        self._start("--head", "--port", port, "--include-dashboard", "false", "--temp-dir", str(self.temp_dir))
        self.wait_for_nodes(1, timeout)
        for _ in range(nodes - 1):
            self._start("--address", self.address)
        self.wait_for_nodes(nodes, timeout)
        return self

    def wait_for_nodes(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            done = subprocess.run([sys.executable, "-c", _WAIT_FOR_NODES, self.address, str(count), str(timeout)],
                                  env=self.env, capture_output=True, text=True, timeout=timeout + 30)
            if done.returncode == 0:
                return
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.nodes):
                raise RuntimeError(f"Ray cluster not up: {done.stderr[-2000:]}\n" + self.logs())
            time.sleep(1.0)

    def kill_node(self, index: int) -> None:
        """A node failure: SIGKILL to every process of that node's group."""
        process = self.nodes[index]
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=30)

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-1500:] for p in sorted(self.temp_dir.glob("node-*.log")))

    def stop(self) -> None:
        for process in reversed(self.nodes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in reversed(self.nodes):
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            try:  # whatever of the node's group is left (workers, raylet) goes with it
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            if process.poll() is None:
                process.wait(timeout=10)
        shutil.rmtree(self.temp_dir, ignore_errors=True)
