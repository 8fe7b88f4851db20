"""The API forwarder (pool/runtime/nodejs/api_proxy.js) in a namespace sandbox of every kind: the sandbox's
127.0.0.1:3233, and only that address, leads to the gateway's inside API socket."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bench.probe import run_action
from pool.runtime.nodejs.kinds import RUNTIMES
from pool.sandbox.namespace.driver import NamespaceDriver
from tests.pool.sandbox.namespace.sandboxes import namespace_missing, opened, temporary_home

pytestmark = pytest.mark.skipif(bool(namespace_missing()), reason="the namespace sandbox cannot run here")

FETCH = """
function main() {
  const http = require('http');
  const get = (host) => new Promise((resolve) => {
    http.get({host, port: 3233, path: '/api/v1'}, (res) => {
      let body = '';
      res.on('data', (chunk) => { body += chunk; });
      res.on('end', () => resolve(body));
    }).on('error', (err) => resolve(err.code));
  });
  return Promise.all([get('127.0.0.1'), get('127.0.0.2')]).then(([loopback, other]) => ({loopback, other}));
}"""


@pytest.fixture
async def driver() -> AsyncIterator[NamespaceDriver]:
    async with temporary_home() as home, opened("sandbox", *home) as opened_driver:
        assert isinstance(opened_driver, NamespaceDriver)
        yield opened_driver


async def serve_inside_api(api_dir: Path) -> asyncio.Server:
    """A stand-in for the gateway's inside API socket: every request gets 200 and `inside api`."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\ninside api")
        await writer.drain()
        writer.close()

    server = await asyncio.start_unix_server(answer, str(api_dir / "api.sock"))
    os.chmod(api_dir / "api.sock", 0o666)
    return server


@pytest.mark.parametrize("kind", [runtime.kind for runtime in RUNTIMES])
async def test_an_api_sandbox_of_every_kind_reaches_the_inside_api_on_its_loopback_only(
        driver: NamespaceDriver, kind: str) -> None:
    async with await serve_inside_api(driver.api_dir):
        sandbox = await driver.create(128, kind=kind, egress="api")
        try:
            seen = await run_action(sandbox, FETCH)
        finally:
            await driver.destroy(sandbox)
    assert seen == {"loopback": "inside api", "other": "ECONNREFUSED"}
