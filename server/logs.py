"""The server's log lines: text or one JSON object per line, each call's request id on every line.

:data:`REQUEST_ID` holds the id of the call the current thread is answering (set by the gRPC
layer's :class:`~latentspace.server.rpc.interceptors.RequestContext`), so any line logged while
answering it, in any layer, carries the id without passing it down.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from contextvars import ContextVar
from typing import IO, Literal

__all__ = ["LOG_FORMATS", "REQUEST_ID", "JsonFormatter", "RequestIdFilter", "TextFormatter", "configure_logging",
           "requests_log"]

LOG_FORMATS = ("text", "json")
REQUEST_ID: ContextVar[str | None] = ContextVar("latentspace_request_id", default=None)
requests_log = logging.getLogger("latentspace.server.requests")
"""One INFO line per call answered: method, status, duration_ms, request_id."""

_FIELDS = ("request_id", "method", "status", "duration_ms")


class RequestIdFilter(logging.Filter):
    """Gives every record a ``request_id`` (the current call's, or None outside calls)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", "request_id", "method", "status", "duration_ms"}`` per line."""

    def format(self, record: logging.LogRecord) -> str:
        out = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
               "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        for name in _FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                out[name] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        rid = getattr(record, "request_id", None)
        return f"{line} [request {rid}]" if rid and "request_id" not in record.getMessage() else line


def configure_logging(log_format: Literal["text", "json"] = "text", *, calls: bool = False,
                      stream: IO[str] | None = None) -> logging.Handler:
    """Send the package's warnings and errors (and with ``calls`` its INFO lines, one per call
    answered) to ``stream`` (stderr) in ``log_format``."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, got {log_format!r}")
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(RequestIdFilter())
    package = logging.getLogger("latentspace")
    package.addHandler(handler)
    package.setLevel(logging.INFO if calls else logging.WARNING)
    return handler
