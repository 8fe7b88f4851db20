"""A hostile tenant with `internet` egress: it holds no capability to undo its deny routes, the routes
are there before its code runs, and flooding the inside API socket is bounded.

Destinations are the test's own only (tests/egress_net.py); nothing is sent anywhere else.
"""

from __future__ import annotations

import ipaddress
import subprocess

import httpx
import pytest

from bench.serving import ServedWhisklet, wait_until
from tests.egress_net import (
    DENIED_RANGE,
    egress_namespace,
    own_network,
    served_fixture,  # noqa: F401 (the `served` fixture)
)
from tests.integration.actions import NS, invoke, put_action, unique

pytestmark = [
    pytest.mark.skipif(subprocess.run(["which", "slirp4netns"], capture_output=True).returncode != 0,
                       reason="slirp4netns is not installed (scripts/setup installs it)"),
]


@pytest.fixture(scope="module")
def tenant(served):
    with egress_namespace(served, "internet") as client:
        yield client


# What the tenant holds: its capability sets, no_new_privs, seccomp, and its routing table as the kernel
# shows it (/proc/net/route: destination and mask little-endian hex, flags with RTF_REJECT = 0x0200).
INSPECTS_ITSELF = """
const fs = require('fs');
function main() {
  const status = {};
  for (const line of fs.readFileSync('/proc/self/status', 'utf8').split('\\n')) {
    const [key, value] = line.split(':\\t');
    if (/^(Cap|NoNewPrivs|Seccomp$)/.test(key)) status[key] = value.trim();
  }
  const routes = fs.readFileSync('/proc/net/route', 'utf8').trim().split('\\n').slice(1)
    .map((line) => line.trim().split(/\\s+/))
    .map((f) => ({ iface: f[0], destination: f[1], flags: parseInt(f[3], 16), mask: f[7] }));
  return { status, routes };
}
"""


def _hex_le(address: str) -> str:
    return ipaddress.IPv4Address(address).packed[::-1].hex().upper()


def _sandbox_namespaces() -> list[str]:
    """The network namespaces slirp4netns serves (every live `internet` sandbox's), from its command line."""
    listed = subprocess.run(["pgrep", "-a", "slirp4netns"], capture_output=True, text=True).stdout
    return [word for line in listed.splitlines() for word in line.split() if word.endswith("/ns/net")]


def _denied_in_every_live_sandbox(address: str) -> bool:
    paths = _sandbox_namespaces()
    for path in paths:
        routes = subprocess.run(["nsenter", f"--net={path}", "ip", "route", "show", "type", "unreachable"],
                                capture_output=True, text=True).stdout
        if f"{address} " not in routes + " ":
            return False
    return bool(paths)  # the pool's prewarmed `internet` sandboxes are there


def test_the_tenant_holds_no_capability_and_its_deny_routes_are_in_place_before_its_code_runs(tenant):
    with own_network() as net:
        # The host gained net.host_ip after the pool prewarmed its sandboxes: they get its route too.
        assert wait_until(lambda: _denied_in_every_live_sandbox(net.host_ip), timeout_s=15)
        name = unique("inspect")
        put_action(tenant, name, INSPECTS_ITSELF)
        seen = invoke(tenant, name, result=True).json()
    status = seen["status"]
    for capability_set in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(status[capability_set], 16) == 0, (capability_set, status)  # no CAP_NET_ADMIN: routes stay
    assert status["NoNewPrivs"] == "1" and status["Seccomp"] == "2"
    rejected = {(r["destination"], r["mask"]) for r in seen["routes"] if r["flags"] & 0x0200}
    for network in ("169.254.0.0/16", DENIED_RANGE, f"{net.host_ip}/32", "10.0.2.2/32"):
        parsed = ipaddress.IPv4Network(network)
        assert (_hex_le(str(parsed.network_address)), _hex_le(str(parsed.netmask))) in rejected, network
    assert any(r["iface"] == "tap0" and r["destination"] == "00000000" for r in seen["routes"])  # its way out


# Opens `count` connections straight to the inside API socket (bypassing the forwarder), then asks the
# API through the forwarder: the gateway's inside listener is bounded, so that request is refused.
FLOODS_THE_INSIDE_SOCKET = """
const net = require('net');
const http = require('http');
async function main({ count }) {
  const sockets = [];
  let opened = 0;
  await Promise.all(Array.from({ length: count }, () => new Promise((resolve) => {
    const s = net.createConnection('/run/whisklet-api/api.sock', () => { opened += 1; resolve(); });
    s.on('error', () => resolve());
    sockets.push(s);
  })));
  const status = await new Promise((resolve) => {
    const req = http.get(process.env.__OW_API_HOST + '/api/v1', { timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('timeout', () => { req.destroy(); resolve('TIMEOUT'); });
    req.on('error', (e) => resolve(e.code));
  });
  for (const s of sockets) s.destroy();
  return { opened, status };
}
"""


def test_a_tenant_flooding_the_inside_api_socket_is_refused_and_the_public_api_is_unaffected(tenant, served):
    name = unique("flood")
    put_action(tenant, name, FLOODS_THE_INSIDE_SOCKET)
    seen = invoke(tenant, name, {"count": 400}, result=True).json()
    assert seen["opened"] >= 256
    assert seen["status"] != 200  # the inside listener's bound, not an unbounded gateway
    with httpx.Client(base_url=served.url, timeout=30) as public:
        assert public.get("/api/v1").status_code == 200
    assert tenant.get(f"{NS}/actions/{name}").status_code == 200


def test_a_killed_gateway_leaves_no_network_stack_behind(tmp_path):
    whisklet = ServedWhisklet(tmp_path, env={"WHISKLET_POOL_DRIVER": "sandbox"}).start()
    try:
        with whisklet.client() as client:
            name = unique("warm")
            put_action(client, name, "function main() { return {}; }")
            assert invoke(client, name, result=True).status_code == 200
        gateway = str(whisklet.process.pid) if whisklet.process else ""
        ours = subprocess.run(["pgrep", "-P", gateway, "-x", "slirp4netns"], capture_output=True, text=True)
        stacks = ours.stdout.split()
        assert stacks  # the prewarmed `internet` sandboxes' slirp4netns, children of the gateway
    finally:
        whisklet.kill()  # SIGKILL: no clean-up code of the gateway runs

    def all_gone() -> bool:
        return not any(subprocess.run(["kill", "-0", pid], capture_output=True).returncode == 0 for pid in stacks)

    assert wait_until(all_gone, timeout_s=15)
