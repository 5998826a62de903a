"""Run the gateway with uvicorn: in the foreground (``latentspace web``) or in a thread beside the gRPC server.

The socket is bound before uvicorn starts, so port 0 works and the address is known at once.
"""

from __future__ import annotations

import signal
import socket
import threading
import time

import uvicorn

from latentspace.web.app import create_app
from latentspace.web.config import GatewayConfig

__all__ = ["Gateway"]


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"cannot listen on {host}:{port} for the web page ({exc.strerror}); "
                                 f"choose another port (0 picks a free one)") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


class Gateway:
    """``Gateway(config).start()`` serves in a thread until ``stop()``; ``run()`` serves in this one."""

    def __init__(self, config: GatewayConfig, client=None) -> None:
        self.config = config
        self._socket = _bind(config.host, config.port)
        self.port = self._socket.getsockname()[1]
        app = create_app(config, client)
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                                                     timeout_graceful_shutdown=5))
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.config.host}]" if ":" in self.config.host else self.config.host
        return f"http://{host}:{self.port}/"

    def run(self) -> None:
        """Serve until SIGINT or SIGTERM, then stop gracefully and return (main thread only).

        uvicorn's own handlers would re-raise the signal after shutting down, so the process would
        die of it instead of exiting 0: the server runs in its thread and this one waits.
        """
        stop = threading.Event()
        previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.start()
            while not stop.wait(0.5) and self._thread.is_alive():
                pass
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def start(self, timeout: float = 10.0) -> Gateway:
        # uvicorn installs signal handlers only in the main thread: the gRPC server's stay in charge.
        self._thread = threading.Thread(target=self._serve_in_thread, name="web-gateway", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the web gateway did not start")
            time.sleep(0.02)
        return self

    def _serve_in_thread(self) -> None:
        import asyncio

        asyncio.run(self._server.serve(sockets=[self._socket]))

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._socket.close()

    def __enter__(self) -> Gateway:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
