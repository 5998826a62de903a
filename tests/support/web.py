"""Plain HTTP for the web tests (the standard library's client: nothing between the test and the gateway)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass


@dataclass
class Answer:
    status: int
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)


def http(base: str, path: str, *, method: str = "GET", body: bytes | None = None, json_body=None,
         content_type: str = "application/octet-stream", timeout: float = 60.0) -> Answer:
    if json_body is not None:
        body, content_type = json.dumps(json_body).encode(), "application/json"
    request = urllib.request.Request(base.rstrip("/") + path, data=body, method=method)
    if body is not None:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Answer(response.status, {k.lower(): v for k, v in response.headers.items()}, response.read())
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read())
