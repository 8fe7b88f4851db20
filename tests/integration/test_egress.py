"""Outbound network by egress mode, and Whisklet's API from inside an action.

Every destination is the test's own: a network namespace with an HTTP server (tests/egress_net.py),
servers on the host's 127.0.0.1, the gateway itself. Never any other address.
"""

from __future__ import annotations

import subprocess

import httpx
import pytest

from bench.serving import WHISKLET, ServedWhisklet
from tests.egress_net import (
    BODY,
    DENIED_IP,
    LINK_LOCAL_IP,
    PROBE,
    OwnNet,
    egress_namespace,
    loopback_service,
    own_network,
    reachable_from_host,
    served_fixture,  # noqa: F401 (the `served` fixture)
)
from tests.integration.actions import NS, invoke, put_action, unique

MODES = ("none", "api", "internet")
SLIRP_HOST = "10.0.2.2"  # slirp4netns's alias of the host

pytestmark = pytest.mark.skipif(subprocess.run(["which", "slirp4netns"], capture_output=True).returncode != 0,
                                reason="slirp4netns is not installed (scripts/setup installs it)")


@pytest.fixture(scope="module")
def net():
    with own_network() as made:
        yield made


@pytest.fixture(scope="module")
def clients(served):
    made = {mode: egress_namespace(served, mode) for mode in MODES}
    yield made
    for client in made.values():
        client.close()


def probe(client: httpx.Client, urls: list[str]) -> dict[str, dict[str, object]]:
    name = unique("probe")
    put_action(client, name, PROBE)
    response = invoke(client, name, {"urls": urls}, result=True)
    assert response.status_code == 200, response.text
    result: dict[str, dict[str, object]] = response.json()
    return result


def test_the_namespace_limits_show_each_namespaces_egress(clients):
    for mode, client in clients.items():
        assert client.get(f"{NS}/limits").json()["egress"] == mode


def test_internet_egress_fetches_from_the_tests_own_network(clients, net: OwnNet):
    seen = probe(clients["internet"], [net.url(net.server_ip)])
    assert seen[net.url(net.server_ip)] == {"status": 200, "body": BODY}


@pytest.mark.parametrize("mode", ["api", "none"])
def test_api_and_none_egress_cannot_reach_the_tests_own_network(clients, net: OwnNet, mode):
    assert reachable_from_host(net.url(net.server_ip))
    seen = probe(clients[mode], [net.url(net.server_ip)])
    assert "body" not in seen[net.url(net.server_ip)]


@pytest.mark.parametrize("mode", MODES)
def test_no_mode_reaches_the_hosts_loopback_the_gateway_link_local_or_a_denied_range(clients, net, served, mode):
    assert reachable_from_host(net.url(LINK_LOCAL_IP)) and reachable_from_host(net.url(DENIED_IP))
    with loopback_service() as port:
        urls = [
            f"http://{SLIRP_HOST}:{port}/", f"http://127.0.0.1:{port}/",  # the host's loopback service
            f"http://{SLIRP_HOST}:{served.port}/api/v1", f"http://{net.host_ip}:{served.port}/api/v1",  # gateway
            net.url(LINK_LOCAL_IP), net.url(DENIED_IP),
        ]
        seen = probe(clients[mode], urls)
    for url in urls:
        assert "body" not in seen[url] and "status" not in seen[url], (url, seen[url])


# Calls the API through __OW_API_HOST as the openwhisk npm client does: Basic auth from __OW_API_KEY.
CALLS_THE_API = """
const http = require('http');
function call(method, path, body) {
  const key = process.env.__OW_API_KEY;
  const headers = { 'Content-Type': 'application/json' };
  if (key) headers.Authorization = 'Basic ' + Buffer.from(key).toString('base64');
  const url = new URL(path, process.env.__OW_API_HOST);
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, timeout: 20000 }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode, body: text ? JSON.parse(text) : null }));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}
async function main(params) {
  const ns = '/api/v1/namespaces/_';
  const invoked = await call('POST', `${ns}/actions/${params.target}?blocking=true&result=true`, { n: 20 });
  const trigger = await call('PUT', `${ns}/triggers/${params.trigger}?overwrite=true`, {});
  const fired = await call('POST', `${ns}/triggers/${params.trigger}`, { from: 'inside' });
  return { host: process.env.__OW_API_HOST, invoked, trigger: trigger.status, fired: fired.status };
}
"""


@pytest.mark.parametrize("mode", ["api", "internet"])
def test_an_action_invokes_another_action_and_fires_a_trigger_through_the_api(clients, mode):
    client = clients[mode]
    target, caller, trigger = unique("target"), unique("caller"), unique("trigger")
    put_action(client, target, "function main(p) { return { doubled: p.n * 2 }; }")
    put_action(client, caller, CALLS_THE_API, annotations=[{"key": "provide-api-key", "value": True}])
    seen = invoke(client, caller, {"target": target, "trigger": trigger}, result=True).json()
    assert seen.get("host") == "http://127.0.0.1:3233", seen
    assert seen["invoked"] == {"status": 200, "body": {"doubled": 40}}
    assert seen["trigger"] == 200 and seen["fired"] in (200, 202, 204)
    assert client.get(f"{NS}/triggers/{trigger}").status_code == 200


def test_without_provide_api_key_a_call_from_inside_gets_openwhisks_401(clients):
    client = clients["api"]
    target, caller = unique("target"), unique("caller")
    put_action(client, target, "function main(p) { return {}; }")
    no_fire = CALLS_THE_API.replace("const fired = await call", "const fired = {status: 0}; await 0; //")
    put_action(client, caller, no_fire)
    seen = invoke(client, caller, {"target": target, "trigger": unique("t")}, result=True).json()
    assert seen["invoked"]["status"] == 401
    assert seen["invoked"]["body"]["error"] == (
        "The resource requires authentication, which was not supplied with the request"
    )


OPENWHISK_CLIENT = """
async function main(params) {
  let openwhisk;
  try { openwhisk = require('openwhisk'); } catch (e) { return { absent: true }; }
  const ow = openwhisk();
  const result = await ow.actions.invoke({ name: params.target, blocking: true, result: true, params: { n: 4 } });
  await ow.triggers.update({ name: params.trigger });
  const fired = await ow.triggers.invoke({ name: params.trigger, params: { from: 'client' } });
  return { result, fired: Boolean(fired.activationId) || fired !== undefined };
}
"""


def test_the_openwhisk_npm_client_invokes_an_action_and_fires_a_trigger_from_inside(clients):
    client = clients["internet"]
    target, caller, trigger = unique("target"), unique("client"), unique("trigger")
    put_action(client, target, "function main(p) { return { doubled: p.n * 2 }; }")
    put_action(client, caller, OPENWHISK_CLIENT, annotations=[{"key": "provide-api-key", "value": True}])
    seen = invoke(client, caller, {"target": target, "trigger": trigger}, result=True).json()
    if seen.get("absent"):
        pytest.skip("the runtime has no `openwhisk` module yet (branch issue15-runtimes installs it)")
    assert seen["result"] == {"doubled": 8}
    assert seen["fired"] is True


def test_an_unknown_egress_override_is_refused_with_the_valid_values(served):
    refused = subprocess.run(
        [str(WHISKLET), "namespace", "create", unique("eg-bad"), "--egress", "everything",
         "--data-dir", str(served.data_dir)],
        capture_output=True, text=True,
    )
    assert refused.returncode != 0
    assert "'none', 'api', 'internet'" in refused.stderr


def test_the_docker_driver_gives_the_api_from_inside_and_no_other_network(tmp_path):
    whisklet = ServedWhisklet(tmp_path, env={"WHISKLET_POOL_DRIVER": "docker"}).start()
    try:
        client = egress_namespace(whisklet, "internet")  # internet falls back to api on docker (a warning says so)
        target, caller = unique("target"), unique("caller")
        put_action(client, target, "function main(p) { return { doubled: p.n * 2 }; }")
        put_action(client, caller, CALLS_THE_API, annotations=[{"key": "provide-api-key", "value": True}])
        seen = invoke(client, caller, {"target": target, "trigger": unique("trigger")}, result=True).json()
        assert seen.get("invoked") == {"status": 200, "body": {"doubled": 40}}, seen
        net_name = unique("net")
        put_action(client, net_name, "function main() { return {i: Object.keys(require('os').networkInterfaces())}; }")
        assert invoke(client, net_name, result=True).json()["i"] in ([], ["lo"])
        client.close()
    finally:
        whisklet.stop()
    assert any("not available on the docker driver" in line for line in whisklet.output)
