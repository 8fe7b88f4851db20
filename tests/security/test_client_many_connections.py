"""A client holding a thousand connections to the gateway does not stop it making sandboxes.

Its descriptors then number past 1024, where select(2) cannot wait on them: the sandbox's start-up must
not use it (it did, and every `internet` sandbox made then failed and held its creation slot for good)."""

from __future__ import annotations

import os
import resource
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.serving import ServedWhisklet, wait_until
from tests.integration.actions import invoke, put_action, unique

HELD = 1100


@pytest.fixture
def descriptors() -> Iterator[None]:
    """Room for this test's own `HELD` client sockets."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < HELD + 200:
        pytest.skip(f"the descriptor limit ({hard}) is below {HELD + 200}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, HELD + 200), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_fresh_sandbox_is_made_while_a_client_holds_a_thousand_connections(descriptors: None, tmp_path: Path):
    served = ServedWhisklet(tmp_path / "data", env={"WHISKLET_SERVER_MAX_CONNECTIONS": "4000"}).start()
    held: list[socket.socket] = []
    try:
        assert served.process is not None
        with served.client() as wsk:
            name = unique("crowded")
            # A memory size no sandbox is prewarmed for: the invoke below needs a sandbox made now.
            put_action(wsk, name, "function main() { return {made: true}; }", limits={"memory": 384})
            held.extend(socket.create_connection(("127.0.0.1", served.port)) for _ in range(HELD))
            fds = Path(f"/proc/{served.process.pid}/fd")
            assert wait_until(lambda: len(os.listdir(fds)) > HELD, timeout_s=10), "the server did not accept them"
            response = invoke(wsk, name, result="true")
            assert (response.status_code, response.json()) == (200, {"made": True})
    finally:
        for connection in held:
            connection.close()
        served.stop()
    assert "out of range" not in "".join(served.output)
