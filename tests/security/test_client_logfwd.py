"""Hostile log-forwarding clients: oversized and deep bodies, destinations aimed at the operator's network,
a receiver that trickles its answer, and secrets that must never come back out."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from bench.serving import ServedWhisklet
from tests.integration.actions import invoke, namespace_client, put_action, unique
from tests.receivers import Receiver, SilentReceiver

pytestmark = pytest.mark.docker

LF = "/runtime/namespaces/_/logForwarding"
SECRETS = {
    "splunk_hec": ("hec_token", "hec-SECRET-0f1e2d3c4b5a"),
    "new_relic": ("license_key", "nr-SECRET-9a8b7c6d5e4f"),
    "azure_log_analytics": ("shared_key", "c2VjcmV0LVNFQ1JFVC1henVyZS1rZXk="),
}
LOGS = "function main(p) { console.log('to forward'); return {}; }"


@pytest.fixture(scope="module")
def allowing(tmp_path_factory):
    """A server whose operator allows http:// and 127.0.0.1/32 for destinations, as tests need."""
    env = {"WHISKLET_LOGFWD_ALLOW_HTTP": "true", "WHISKLET_LOGFWD_ALLOW_NETWORKS": '["127.0.0.1/32"]',
           "WHISKLET_LOGFWD_BATCH_WAIT_MS": "20", "WHISKLET_LOGFWD_RETRIES": "1",
           "WHISKLET_LOGFWD_RETRY_BASE_MS": "20", "WHISKLET_LOGFWD_REQUEST_TIMEOUT_S": "1.0"}
    served = ServedWhisklet(tmp_path_factory.mktemp("logfwd-hostile"), env=env).start()
    yield served
    served.stop()


@pytest.fixture(scope="module")
def default(tmp_path_factory):
    served = ServedWhisklet(tmp_path_factory.mktemp("logfwd-default")).start()
    yield served
    served.stop()


def client_of(served: ServedWhisklet) -> httpx.Client:
    return namespace_client(served, "lfh")


def splunk(host: str, port: int | str = 8088, token: str = "t0ken") -> dict:
    return {"splunk_hec": {"host": host, "port": str(port), "index": "main", "hec_token": token}}


def new_relic(url: str, key: str = "k3y") -> dict:
    return {"new_relic": {"base_uri": url, "license_key": key}}


def errors_within(wsk: httpx.Client, timeout_s: float = 15.0) -> list[str]:
    """Poll the errors endpoint (the public API) until it lists something, or give up after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not (errors := wsk.get(f"{LF}/errors").json()["errors"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return errors


def test_a_huge_put_body_is_refused_unread_and_a_deep_one_is_a_400(allowing):
    with client_of(allowing) as wsk:
        huge = b'{"new_relic": {"base_uri": "' + b"a" * 8_000_000 + b'", "license_key": "k"}}'
        response = wsk.put(LF, content=huge, headers={"content-type": "application/json"})
        assert response.status_code == 413 and set(response.json()) == {"error", "code"}
        deep = b'{"new_relic": ' + b"[" * 30_000 + b"]" * 30_000 + b"}"
        response = wsk.put(LF, content=deep, headers={"content-type": "application/json"})
        assert response.status_code == 400 and "nested" in response.json()["error"]
        long_value = wsk.put(LF, json=new_relic("https://x.example/" + "a" * 5000))
        assert long_value.status_code == 400 and "longer than" in long_value.json()["error"]
        assert wsk.get(LF).json() == {"adobe_io_runtime": {}}


@pytest.mark.parametrize("body", [
    splunk("169.254.169.254"),
    splunk("10.0.0.5"),
    splunk("192.168.1.1"),
    splunk("[fd00::1]"),
    splunk("[::ffff:169.254.169.254]"),
    new_relic("https://169.254.169.254/latest/meta-data/"),
    new_relic("https://[fe80::1]/log/v1"),
])
def test_destinations_in_the_operators_network_are_refused_even_where_loopback_is_allowed(allowing, body):
    with client_of(allowing) as wsk:
        response = wsk.put(LF, json=body)
        assert response.status_code == 400, response.text
        assert "link-local" in response.json()["error"] or "loopback" in response.json()["error"]


def test_loopback_and_plain_http_are_refused_unless_the_operator_allows_them(default, allowing):
    with client_of(default) as wsk:
        for body in (splunk("127.0.0.1"), splunk("localhost"), new_relic("https://metadata.localhost/log/v1")):
            assert wsk.put(LF, json=body).status_code == 400, body
        refused = wsk.put(LF, json=new_relic("http://log-api.newrelic.com/log/v1"))
        assert refused.status_code == 400 and "https" in refused.json()["error"]
    with client_of(allowing) as wsk:
        assert wsk.put(LF, json=splunk("127.0.0.1")).status_code == 200


def test_a_trickling_receiver_is_cut_off_and_forwarding_goes_on_to_the_next_destination(allowing):
    with client_of(allowing) as wsk, SilentReceiver(trickle=True) as slow, Receiver() as good:
        name = unique("slow")
        put_action(wsk, name, LOGS)
        assert wsk.put(LF, json=splunk("127.0.0.1", slow.port)).status_code == 200
        assert invoke(wsk, name).status_code == 200
        errors = errors_within(wsk)
        assert errors and "no complete answer within 1s" in errors[0]
        assert wsk.put(LF, json=splunk("127.0.0.1", good.port)).status_code == 200
        assert invoke(wsk, name).status_code == 200
        [request] = good.wait_for(lambda r: len(r) == 1)
        assert b"to forward" in request.body


@pytest.mark.parametrize("destination", sorted(SECRETS))
def test_secrets_never_come_back_in_answers_errors_or_the_server_log(allowing, destination):
    field, secret = SECRETS[destination]
    echo = json.dumps({"text": f"Invalid token {secret}", "code": 4}).encode()
    with client_of(allowing) as wsk, Receiver(default_status=403, reply=echo) as receiver:
        settings = {
            "splunk_hec": splunk("127.0.0.1", receiver.port, secret),
            "new_relic": new_relic(f"{receiver.url}/log/v1", secret),
            "azure_log_analytics": {"azure_log_analytics": {
                "customer_id": "b2c1a3e4-1111-2222-3333-444455556666", "log_type": "whisklet", field: secret}},
        }[destination]
        answers = [wsk.put(LF, json=settings)]
        assert answers[0].status_code == 200
        assert field not in answers[0].json()[destination]
        name = unique("secret")
        put_action(wsk, name, LOGS)
        invoke(wsk, name)
        assert errors_within(wsk), "the refusal never showed in the errors"
        answers += [wsk.get(LF), wsk.get(f"{LF}/errors")]
        for answer in answers:
            assert secret not in answer.text
        assert secret not in "".join(allowing.output)
        assert secret.encode() not in (allowing.data_dir / "whisklet.db").read_bytes()
