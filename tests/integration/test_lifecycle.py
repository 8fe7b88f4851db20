"""Start-up, the pool refilling, orphan clean-up after a killed gateway, and graceful shutdown."""

import signal
import subprocess

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bench.serving import ServedWhisklet, sandbox_names, wait_until
from tests.integration.actions import NS, activation, put_action, unique


@pytest.fixture
def own_whisklet(tmp_path):
    served = ServedWhisklet(tmp_path / "data")
    yield served
    served.kill()
    for name in sandbox_names(tmp_path / "data"):
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)


def test_first_start_prints_the_guest_credential_and_writes_wskprops(own_whisklet):
    own_whisklet.start()
    printed = "".join(own_whisklet.output)
    uuid, key = own_whisklet.auth
    assert f"AUTH={uuid}:{key}" in printed
    assert f"APIHOST={own_whisklet.url}" in printed
    assert len(key) == 64
    props = (own_whisklet.data_dir / "wskprops").read_text()
    assert f"APIHOST={own_whisklet.url}" in props and f"AUTH={uuid}:{key}" in props
    assert own_whisklet.stop() == 0
    own_whisklet.start()
    assert "AUTH=" not in "".join(own_whisklet.output)  # only on first start


def test_pool_refills_after_activations(own_whisklet):
    # a short shrink grace: the few activations below raise the target for a moment
    own_whisklet.env = {"WHISKLET_POOL_MIN_PREWARM": "2", "WHISKLET_POOL_IDLE_SHRINK_AFTER_S": "1",
                        "WHISKLET_POOL_RATE_WINDOW_S": "2"}
    own_whisklet.start()
    data_dir = own_whisklet.data_dir
    assert wait_until(lambda: len(sandbox_names(data_dir)) == 2, timeout_s=30)
    with own_whisklet.client() as wsk:
        name = unique("refill")
        put_action(wsk, name, "function main() { return {}; }")
        for _ in range(3):
            assert wsk.post(f"{NS}/actions/{name}", params={"blocking": "true"}, json={}).status_code == 200
    assert wait_until(lambda: len(sandbox_names(data_dir)) == 2, timeout_s=30)


def test_orphans_of_a_killed_gateway_are_removed_at_the_next_start(own_whisklet):
    own_whisklet.env = {"WHISKLET_POOL_MIN_PREWARM": "2"}
    own_whisklet.start()
    data_dir = own_whisklet.data_dir
    assert wait_until(lambda: len(sandbox_names(data_dir)) == 2, timeout_s=30)
    before = set(sandbox_names(data_dir))
    own_whisklet.process.send_signal(signal.SIGKILL)
    own_whisklet.process.wait(10)
    # Left behind by the kill until the next start with the Docker driver; the namespace driver's reaper
    # removes them as soon as the gateway is gone (README, "When a gateway dies").
    own_whisklet.start()
    assert wait_until(lambda: not before & set(sandbox_names(data_dir)), timeout_s=30)


def leased_containers(wsk: httpx.Client) -> float:
    """The pool's leased containers, as `GET /metrics` reports them."""
    families = text_string_to_metric_families(wsk.get("/metrics").text)
    return sum(sample.value for family in families if family.name == "whisklet_pool_containers"
               for sample in family.samples if sample.labels["state"] == "leased")


def test_graceful_shutdown_finishes_running_activations_and_removes_containers(own_whisklet):
    own_whisklet.start()
    with own_whisklet.client() as wsk:
        name = unique("graceful")
        put_action(wsk, name, "async function main() { await new Promise(r => setTimeout(r, 1500)); return {finished: true}; }")
        activation_id = wsk.post(f"{NS}/actions/{name}", json={}).json()["activationId"]
        assert wait_until(lambda: leased_containers(wsk) >= 1, timeout_s=30)  # the activation is running
    assert own_whisklet.stop(timeout_s=60) == 0  # it drained, without being killed at the timeout
    assert "whisklet stopped" in "".join(own_whisklet.output)
    assert sandbox_names(own_whisklet.data_dir) == []
    own_whisklet.start()
    with own_whisklet.client() as wsk:
        assert activation(wsk, activation_id)["response"]["result"] == {"finished": True}


def test_a_stopped_server_refuses_connections(own_whisklet):
    own_whisklet.start()
    own_whisklet.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(own_whisklet.url + "/ping", timeout=2)
