"""`GET /console/...`: headers on every answer, revalidation, and a 404 for every name not in the index."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.types import Message

from gateway.console.files import load_console_files
from gateway.console.routes import routes

APP = Starlette(routes=routes(load_console_files()))


async def get(path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """One GET through the ASGI app with `path` exactly as given (no client normalises its dot segments)."""
    scope = {
        "type": "http", "method": "GET", "path": path, "raw_path": path.encode(), "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "scheme": "http", "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1), "root_path": "",
        "http_version": "1.1", "state": {"request_id": "test-request"},  # as the request envelope sets it
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await APP(scope, receive, send)
    start = sent[0]
    answer_headers = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], answer_headers, b"".join(m.get("body", b"") for m in sent[1:])


async def test_the_page_is_html_with_a_strict_policy_and_no_sniffing() -> None:
    for path in ("/console", "/console/"):
        status, headers, body = await get(path)
        assert status == 200
        assert headers["content-type"] == "text/html; charset=utf-8"
        assert headers["x-content-type-options"] == "nosniff"
        policy = headers["content-security-policy"]
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert headers["cache-control"] == "no-cache"
        assert b'<script type="importmap">' in body


async def test_an_unchanged_asset_is_revalidated_with_a_304() -> None:
    status, headers, _ = await get("/console/js/main.js")
    assert status == 200 and headers["content-type"] == "text/javascript; charset=utf-8"
    status, again, body = await get("/console/js/main.js", {"If-None-Match": headers["etag"]})
    assert status == 304 and body == b""
    assert again["content-security-policy"] == headers["content-security-policy"]


@pytest.mark.parametrize("path", [
    "/console/../files.py", "/console/js/../../routes.py", "/console/..", "/console//etc/passwd",
    "/console/index.html", "/console/modules/../files.py", "/console/js/missing.js",
    f"/console/{Path(__file__).resolve()}",
])
async def test_a_name_outside_the_index_is_a_404_with_the_same_headers(path: str) -> None:
    status, headers, body = await get(path)
    assert status == 404
    assert headers["x-content-type-options"] == "nosniff"
    assert b"import" not in body and b"def " not in body
