"""``latentspace web`` and ``latentspace serve --web-port`` as a user runs them: child processes on 127.0.0.1."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

from support.web import http

REPO = Path(__file__).resolve().parents[2]


def start(*argv: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "latentspace.cli.main", *argv], cwd=REPO, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def page_url(process: subprocess.Popen) -> str:
    for _ in range(5):
        line = process.stdout.readline()
        match = re.search(r"web page on (http://127\.0\.0\.1:\d+/)", line)
        if match:
            return match.group(1)
    process.kill()
    raise AssertionError(f"no page address printed; stderr: {process.stderr.read()}")


def stop(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()


def test_web_command_serves_the_page_for_a_running_server(web):
    process = start("web", "--server", web.address, "--port", "0")
    try:
        url = page_url(process)
        first = next(web.client.iter_items()).id
        assert http(url, f"/api/search?id={first}&k=3").json()["hits"][0]["id"] == web.client.search(item_id=first, k=3).ids[0]
        assert http(url, "/").status == 200
    finally:
        code = stop(process)
    assert code == 0


def test_serve_with_web_port_starts_both_and_stops_both(small_index):
    process = start("serve", str(small_index), "--port", "0", "--device", "cpu", "--grace", "2", "--web-port", "0")
    try:
        url = page_url(process)
        info = http(url, "/api/info").json()
        assert info["item_count"] == 12 and info["weights"]["pretrained"] is False
        assert http(url, "/api/atlas?grid=3&projection=pca").json()["items"] == 12
    finally:
        code = stop(process)
    assert code == 0
    with socket.socket() as probe:  # the page's port is closed with the server
        port = int(url.rsplit(":", 1)[1].strip("/"))
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def test_bad_web_options_are_usage_errors(capsys):
    from latentspace.cli.main import main

    assert main(["web", "--server", "127.0.0.1:1", "--port", "70000"]) == 2
    assert "not a TCP port" in capsys.readouterr().err
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        assert main(["web", "--server", "127.0.0.1:1", "--port", str(busy.getsockname()[1])]) == 2
    assert "cannot listen" in capsys.readouterr().err
