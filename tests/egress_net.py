"""A network of the test's own for the egress tests: a namespace behind a veth pair, an HTTP server in it.

Nothing here sends a packet anywhere but 127.0.0.1 and this namespace. The namespace's side of the veth
holds `server_ip` (the allowed destination) and, on its loopback, `link_local_ip` (169.254.77.1) and
`denied_ip` (198.18.0.1, in the range the test server denies with `limits.egress_deny`), each routed
from the host to the namespace, so that a sandbox failing to reach them shows the policy, not a missing
route. Everything is removed on exit, whatever happened.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import socket
import subprocess
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bench.serving import WHISKLET, ServedWhisklet

LINK_LOCAL_IP = "169.254.77.1"
DENIED_IP = "198.18.0.1"
DENIED_RANGE = "198.18.0.0/15"
PORT = 8080
BODY = "hello from the test's own network"


@dataclass(frozen=True)
class OwnNet:
    namespace: str
    host_ip: str  # the host's side of the veth: one of the host's own addresses
    server_ip: str
    port: int = PORT

    def url(self, ip: str) -> str:
        return f"http://{ip}:{self.port}/"


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10)
    assert done.returncode == 0, f"ip {' '.join(args)}: {done.stderr.strip()}"


@contextlib.contextmanager
def own_network() -> Iterator[OwnNet]:
    """The namespace, its veth, its routes and its HTTP server (on all its addresses), removed on exit."""
    tag = uuid.uuid4().hex[:6]
    name, host_if, ns_if = f"wkeg-{tag}", f"wkh{tag}", f"wkn{tag}"
    octet = int(tag[:2], 16) % 200 + 20
    net = OwnNet(name, f"10.231.{octet}.1", f"10.231.{octet}.2")
    server: subprocess.Popen[bytes] | None = None
    try:
        _ip("netns", "add", name)
        _ip("link", "add", host_if, "type", "veth", "peer", "name", ns_if)
        _ip("link", "set", ns_if, "netns", name)
        _ip("addr", "add", f"{net.host_ip}/30", "dev", host_if)
        _ip("link", "set", host_if, "up")
        _ip("-n", name, "addr", "add", f"{net.server_ip}/30", "dev", ns_if)
        _ip("-n", name, "link", "set", ns_if, "up")
        _ip("-n", name, "link", "set", "lo", "up")
        for extra in (LINK_LOCAL_IP, DENIED_IP):
            _ip("-n", name, "addr", "add", f"{extra}/32", "dev", "lo")
            _ip("route", "add", f"{extra}/32", "via", net.server_ip, "dev", host_if)
        _ip("-n", name, "route", "add", "default", "via", net.host_ip)
        server = subprocess.Popen(
            ["ip", "netns", "exec", name, "python3", "-c", _SERVER, str(net.port)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )
        assert server.stdout is not None and server.stdout.readline().strip() == b"listening"
        yield net
    finally:
        if server is not None:
            server.kill()
            server.wait(10)
        with contextlib.suppress(subprocess.SubprocessError):
            subprocess.run(["ip", "link", "del", host_if], capture_output=True, timeout=10)
        with contextlib.suppress(subprocess.SubprocessError):
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=10)


def egress_whisklet(data_dir: Path) -> ServedWhisklet:
    """A started `whisklet serve` on the namespace sandbox driver, denying `DENIED_RANGE`."""
    return ServedWhisklet(
        data_dir, env={"WHISKLET_POOL_DRIVER": "sandbox", "WHISKLET_LIMITS_EGRESS_DENY": json.dumps([DENIED_RANGE])},
    ).start()


@pytest.fixture(scope="module", name="served")
def served_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedWhisklet]:
    """The module's `egress_whisklet`, stopped after its tests."""
    whisklet = egress_whisklet(tmp_path_factory.mktemp("egress"))
    yield whisklet
    whisklet.stop()


def egress_namespace(served: ServedWhisklet, egress: str) -> httpx.Client:
    """A client of a new namespace of `served` whose actions have `egress` (`whisklet namespace create --egress`)."""
    name = f"eg-{egress}-{uuid.uuid4().hex[:8]}"
    created = subprocess.run(
        [str(WHISKLET), "namespace", "create", name, "--egress", egress, "--data-dir", str(served.data_dir)],
        capture_output=True, text=True, check=True,
    )
    uuid_, key = created.stdout.strip().split(":")
    return httpx.Client(base_url=served.url, auth=(uuid_, key), timeout=90)


def reachable_from_host(url: str) -> bool:
    """Whether the host itself reaches `url` (the control for a sandbox that must not)."""
    try:
        return httpx.get(url, timeout=5, trust_env=False).text == BODY
    except httpx.HTTPError:
        return False


@contextlib.contextmanager
def loopback_service() -> Iterator[int]:
    """An HTTP server of the test's on the host's 127.0.0.1; yields its port."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"host loopback secret")

        def log_message(self, *_: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


_SERVER = f"""
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = {BODY!r}.encode()
        self.send_response(200); self.send_header('Content-Length', str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
server = http.server.ThreadingHTTPServer(('0.0.0.0', int(sys.argv[1])), H)
print('listening', flush=True)
server.serve_forever()
"""

# An action that GETs each of `params.urls` with a short timeout and returns what happened per URL:
# the body (reached) or the error code (ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, TIMEOUT...).
PROBE = """
const http = require('http');
function get(url) {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: 3000 }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('timeout', () => { req.destroy(); resolve({ error: 'TIMEOUT' }); });
    req.on('error', (e) => resolve({ error: e.code || String(e) }));
  });
}
async function main(params) {
  const out = {};
  for (const url of params.urls) out[url] = await get(url);
  return out;
}
"""
