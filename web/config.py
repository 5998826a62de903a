"""How the gateway runs: one frozen dataclass, validated where it is made."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["DEFAULT_MAX_UPLOAD_BYTES", "GatewayConfig"]

DEFAULT_MAX_UPLOAD_BYTES = 16 << 20


@dataclass(frozen=True)
class GatewayConfig:
    """``server``: the gRPC address; ``ca`` and ``token_file`` as for the client commands."""

    server: str
    host: str = "127.0.0.1"
    port: int = 8080
    timeout: float = 30.0
    ca: Path | None = None
    token_file: Path | None = None
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    """Largest image a page may upload; bigger ones get 413 before they are read whole."""

    def __post_init__(self) -> None:
        if not self.server:
            raise ValueError("the gateway needs the gRPC server's address (--server HOST:PORT)")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port {self.port} is not a TCP port (0..65535; 0 picks a free one)")
        if self.timeout <= 0:
            raise ValueError("timeout must be positive")
        if self.max_upload_bytes < 1:
            raise ValueError("max_upload_bytes must be at least 1")

    def client(self):
        """A client of the gRPC server; the gateway keeps one and shares it between requests."""
        from latentspace.client import Client

        return Client(self.server, timeout=self.timeout, ca=self.ca, token_file=self.token_file)
