"""Log forwarding end to end: a real server, real sandboxes, loopback receivers as Splunk and New Relic."""

from __future__ import annotations

import re
import statistics
import time

import httpx
import pytest

from bench.serving import ServedWhisklet
from tests.integration.actions import NS, invoke, namespace_client, put_action, unique
from tests.receivers import Receiver, SilentReceiver

LF = "/runtime/namespaces/_/logForwarding"
TOKEN = "aaaabbbb-cccc-dddd-eeee-ffff00001111"
LOGS = "function main(p) { for (let i = 0; i < 3; i++) console.log('line ' + i + ' of ' + p.n); return {n: p.n}; }"
QUEUE_MAX_BYTES = 20000


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    env = {
        "WHISKLET_LOGFWD_ALLOW_HTTP": "true",
        "WHISKLET_LOGFWD_ALLOW_NETWORKS": '["127.0.0.1/32"]',
        "WHISKLET_LOGFWD_BATCH_WAIT_MS": "50",
        "WHISKLET_LOGFWD_RETRY_BASE_MS": "50",
        "WHISKLET_LOGFWD_RETRIES": "3",
        "WHISKLET_LOGFWD_REQUEST_TIMEOUT_S": "1.0",
        "WHISKLET_LOGFWD_QUEUE_MAX_BYTES": str(QUEUE_MAX_BYTES),
    }
    whisklet = ServedWhisklet(tmp_path_factory.mktemp("logfwd-data"), env=env).start()
    yield whisklet
    whisklet.stop()


@pytest.fixture
def wsk(served):
    with namespace_client(served, "lf") as client:
        yield client


def splunk_to(port: int) -> dict:
    return {"splunk_hec": {"host": "127.0.0.1", "port": str(port), "index": "main", "hec_token": TOKEN}}


def metric(served: ServedWhisklet, name: str, labels: str = "") -> float:
    text = httpx.get(f"{served.url}/metrics").text
    found = re.search(rf"^{name}{re.escape(labels)} (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def test_a_new_namespace_reports_adobe_io_runtime_and_no_errors(wsk):
    assert wsk.get(LF).json() == {"adobe_io_runtime": {}}
    assert wsk.get(f"{LF}/errors").json() == {"configured_forwarder": "adobe_io_runtime", "errors": []}
    assert wsk.get("/runtime/namespaces/undefined/logForwarding").json() == {"adobe_io_runtime": {}}


def test_put_answers_the_stored_configuration_without_the_secret_and_get_agrees(wsk):
    stored = wsk.put(LF, json=splunk_to(8088))
    assert stored.status_code == 200, stored.text
    body = stored.json()
    assert set(body) == {"splunk_hec"} and TOKEN not in stored.text
    assert body["splunk_hec"]["port"] == "8088" and re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", body["splunk_hec"]["updated_at"])
    assert wsk.get(f"/runtime/namespaces/{wsk.namespace}/logForwarding").json() == body
    assert wsk.get(f"{LF}/errors").json()["configured_forwarder"] == "splunk_hec"


def test_bad_settings_and_other_namespaces_are_refused(wsk, served):
    refused = wsk.put(LF, json={"new_relic": {"base_uri": "https://log-api.newrelic.com/log/v1"}})
    assert refused.status_code == 400 and "license_key is required" in refused.json()["error"]
    assert wsk.put(LF, json={"splunk_hec": {}, "new_relic": {}}).status_code == 400
    assert wsk.get("/runtime/namespaces/guest/logForwarding").status_code == 403
    assert httpx.get(f"{served.url}{LF}").status_code == 401


def test_each_activations_lines_reach_splunk_and_stay_readable_in_whisklet(wsk):
    with Receiver() as receiver:
        assert wsk.put(LF, json=splunk_to(receiver.port)).status_code == 200
        name = unique("logs")
        put_action(wsk, name, LOGS)
        ids = [invoke(wsk, name, {"n": n}).headers["x-openwhisk-activation-id"] for n in range(4)]
        requests = receiver.wait_for(lambda r: sum(x.body.count(b'"event":') for x in r) == 12)
        assert all(r.headers["authorization"] == f"Splunk {TOKEN}" for r in requests)
        assert len(requests) < 4 or all(r.body.count(b'"event":') == 3 for r in requests)
        assert f'"activationId":"{ids[2]}"'.encode() in b"".join(r.body for r in requests)
        assert b'"message":"line 2 of 3"' in b"".join(r.body for r in requests)
        logs = wsk.get(f"{NS}/activations/{ids[0]}/logs").json()["logs"]
        assert [line.split("stdout: ")[1] for line in logs] == ["line 0 of 0", "line 1 of 0", "line 2 of 0"]


def test_a_receiver_that_fails_first_gets_the_lines_on_a_retry(wsk):
    with Receiver(reply=b'{"requestId":"x"}', default_status=202) as receiver:
        receiver.statuses.extend([503, 500])
        settings = {"new_relic": {"base_uri": f"{receiver.url}/log/v1", "license_key": "nr-key-123"}}
        assert wsk.put(LF, json=settings).status_code == 200
        name = unique("retry")
        put_action(wsk, name, LOGS)
        invoke(wsk, name, {"n": 7})
        requests = receiver.wait_for(lambda r: len(r) >= 3)
        assert requests[0].body == requests[2].body and requests[2].headers["api-key"] == "nr-key-123"
        assert wsk.get(f"{LF}/errors").json()["errors"] == []


def invoke_times_s(wsk: httpx.Client, name: str, count: int) -> list[float]:
    times = []
    for n in range(count):
        began = time.perf_counter()
        assert invoke(wsk, name, {"n": n}).status_code == 200
        times.append(time.perf_counter() - began)
    return times


def interleaved_times_s(first: httpx.Client, second: httpx.Client, name: str, count: int) -> tuple[list[float], list[float]]:
    """`count` invokes of `name` through each client, in turns whose order flips every round (ABBA), so that
    load drifts and the pool's refill between two back-to-back invokes hit both alike."""
    times: tuple[list[float], list[float]] = ([], [])
    pairs = list(zip((first, second), times, strict=True))
    for round_ in range(count):
        for client, samples in pairs if round_ % 2 == 0 else pairs[::-1]:
            samples += invoke_times_s(client, name, 1)
    return times


def test_a_dead_receiver_neither_slows_activations_nor_grows_memory(wsk, served):
    name = unique("dead")
    code = "function main(p) { for (let i = 0; i < 20; i++) console.log('x'.repeat(500)); return {}; }"
    quiet = namespace_client(served, "quiet")  # the same action in a namespace that forwards nothing: the baseline
    for client in (wsk, quiet):
        put_action(client, name, code)
    assert wsk.put(LF, json={"adobe_io_runtime": {}}).status_code == 200
    interleaved_times_s(wsk, quiet, name, 3)  # warm the pool
    with SilentReceiver(trickle=True) as silent:
        assert wsk.put(LF, json=splunk_to(silent.port)).status_code == 200
        baseline, forwarding = (statistics.median(t) for t in interleaved_times_s(quiet, wsk, name, 16))
        dropped = 'whisklet_log_forwarding_dropped_lines_total'
        assert metric(served, dropped, '{destination="splunk_hec",reason="queue_full"}') > 0
        assert metric(served, "whisklet_log_forwarding_queued_bytes") <= 2 * QUEUE_MAX_BYTES
        deadline = time.monotonic() + 30
        while not wsk.get(f"{LF}/errors").json()["errors"]:
            assert time.monotonic() < deadline, "the dead receiver's failure never showed in the errors"
            time.sleep(0.2)
        assert "splunk_hec: no complete answer within 1s" in wsk.get(f"{LF}/errors").json()["errors"][0]
        assert metric(served, "whisklet_log_forwarding_failed_requests_total", '{destination="splunk_hec"}') >= 1
    assert forwarding / baseline < 2.0, (baseline, forwarding)


def test_the_openapi_document_covers_log_forwarding(served):
    paths = httpx.get(f"{served.url}/api/v1/api-docs").json()["paths"]
    assert {"get", "put"} <= set(paths["/runtime/namespaces/{ns}/logForwarding"])
    assert "get" in paths["/runtime/namespaces/{ns}/logForwarding/errors"]
