import asyncio
import json
import time

import httpx
import pytest

from gateway.config import LogForwardingConfig
from gateway.invoke.records import Ended
from gateway.logfwd.destinations import AZURE_RETIRED
from gateway.logfwd.forwarder import LogForwarder
from gateway.logfwd.network import EgressPolicy
from gateway.logfwd.secrets import SecretBox
from gateway.logfwd.settings import default_settings
from gateway.store import SqliteStore
from pool import ActivationStatus
from tests.gateway.logfwd.records import NEW_RELIC_KEY, SPLUNK_TOKEN, azure, new_relic, record, splunk
from tests.receivers import Receiver, SilentReceiver

LOOPBACK = EgressPolicy.from_settings(True, ["127.0.0.1/32"])
FAST = LogForwardingConfig(batch_wait_ms=50, retry_base_ms=20, retries=3, request_timeout_s=1.0)


@pytest.fixture
async def store(tmp_path):
    opened = SqliteStore(tmp_path / "whisklet.db")
    await opened.open()
    yield opened
    await opened.close()


@pytest.fixture
async def forwarder_of(store, tmp_path):
    made = []

    async def make(config=FAST, policy=LOOPBACK):
        client = httpx.AsyncClient(trust_env=False)
        forwarder = LogForwarder(store, SecretBox.from_key_file(tmp_path / "logfwd.key"), policy, config, client,
                                 host_name="node-1", now_ms=lambda: time.time_ns() // 1_000_000)
        forwarder.start()
        made.append((forwarder, client))
        return forwarder

    yield make
    for forwarder, client in made:
        await forwarder.close()
        await client.aclose()


async def eventually(predicate, timeout_s=20.0):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


def ended(record):
    return Ended(record, ActivationStatus.SUCCESS, "nodejs:20", 256, 0)


def lines(n, text="line"):
    return [f"2024-06-01T12:00:00.{i:09d}Z stdout: {text} {i}" for i in range(n)]


async def test_settings_survive_in_the_store_with_the_secret_sealed(store, forwarder_of):
    forwarder = await forwarder_of()
    assert await forwarder.settings("guest") == default_settings("guest")
    await forwarder.configure(splunk(8088))
    row = await store.get_log_forwarding("guest")
    assert SPLUNK_TOKEN.encode() not in row.secret and SPLUNK_TOKEN.encode() not in row.settings
    assert (await (await forwarder_of()).settings("guest")).secret == SPLUNK_TOKEN


async def test_lines_of_several_activations_reach_splunk_in_one_batch_with_the_token(forwarder_of):
    with Receiver() as receiver:
        forwarder = await forwarder_of()
        await forwarder.configure(splunk(receiver.port))
        for n in range(5):
            forwarder.activation_ended(ended(record(lines(3), activation_id=f"{n:032x}")))
        requests = await asyncio.to_thread(receiver.wait_for, lambda r: sum(x.body.count(b'"event"') for x in r) == 15)
        assert len(requests) < 5  # batched across activations
        assert all(r.headers["authorization"] == f"Splunk {SPLUNK_TOKEN}" for r in requests)
        assert requests[0].path == "/services/collector/event"
        await eventually(lambda: forwarder.counts.lines_sent["splunk_hec"] == 15)


async def test_a_failing_receiver_is_retried_until_it_accepts(forwarder_of):
    with Receiver(reply=b"{}") as receiver:
        receiver.statuses.extend([503, 429])
        forwarder = await forwarder_of()
        await forwarder.configure(new_relic(f"{receiver.url}/log/v1"))
        forwarder.activation_ended(ended(record(lines(2))))
        requests = await asyncio.to_thread(receiver.wait_for, lambda r: len(r) == 3)
        assert requests[0].body == requests[2].body and requests[2].headers["api-key"] == NEW_RELIC_KEY
        assert json.loads(requests[2].body)[0]["logs"][1]["message"] == "line 1"
        await eventually(lambda: forwarder.counts.lines_sent["new_relic"] == 2)
        assert forwarder.errors("guest") == []


async def test_a_refusing_receiver_shows_in_errors_without_the_secret_and_a_new_configuration_clears_them(forwarder_of):
    reply = json.dumps({"text": f"Invalid token {SPLUNK_TOKEN}", "code": 4}).encode()
    with Receiver(default_status=403, reply=reply) as receiver:
        forwarder = await forwarder_of()
        await forwarder.configure(splunk(receiver.port))
        forwarder.activation_ended(ended(record(lines(1))))
        await eventually(lambda: forwarder.errors("guest"))
        [error] = forwarder.errors("guest")
        assert "splunk_hec: HTTP 403" in error and "Invalid token" in error and SPLUNK_TOKEN not in error
        assert len(receiver.requests) == 1  # a 4xx is not retried
        assert forwarder.counts.requests_failed["splunk_hec"] == 1
        await forwarder.configure(splunk(receiver.port, updated_ms=2))
        assert forwarder.errors("guest") == []


async def test_azure_sends_nothing_and_says_the_api_was_retired(forwarder_of):
    forwarder = await forwarder_of()
    await forwarder.configure(azure())
    forwarder.activation_ended(ended(record(lines(2))))
    forwarder.activation_ended(ended(record(lines(2))))
    await eventually(lambda: forwarder.counts.lines_dropped["azure_log_analytics", "destination_retired"] == 4)
    assert forwarder.errors("guest") == [forwarder.errors("guest")[0]] and AZURE_RETIRED in forwarder.errors("guest")[0]


async def test_azure_reaches_a_configured_data_collector_with_its_signature(forwarder_of):
    with Receiver() as receiver:
        config = LogForwardingConfig(batch_wait_ms=10, azure_data_collector_url=f"{receiver.url}/api/logs")
        forwarder = await forwarder_of(config)
        await forwarder.configure(azure())
        forwarder.activation_ended(ended(record(lines(2))))
        [request] = await asyncio.to_thread(receiver.wait_for, lambda r: len(r) == 1)
        assert request.path == "/api/logs?api-version=2016-04-01"
        assert request.headers["authorization"].startswith("SharedKey b2c1a3e4-")
        assert len(json.loads(request.body)) == 2


async def test_a_silent_receiver_leaves_memory_bounded_and_drops_the_overflow(forwarder_of):
    with SilentReceiver() as silent:
        config = LogForwardingConfig(batch_wait_ms=10, queue_max_bytes=64_000, retries=1, retry_base_ms=10,
                                     request_timeout_s=0.5)
        forwarder = await forwarder_of(config)
        await forwarder.configure(splunk(silent.port))
        for n in range(200):
            forwarder.activation_ended(ended(record(lines(10, "x" * 200), activation_id=f"{n:032x}")))
            await asyncio.sleep(0)
        await eventually(lambda: sum(v for (d, r), v in forwarder.counts.lines_dropped.items() if r == "queue_full") > 0)
        assert forwarder.counts.queued_bytes <= 2 * config.queue_max_bytes
        await eventually(lambda: forwarder.errors("guest"))
        assert "no complete answer within 0.5s" in forwarder.errors("guest")[0]


async def test_a_sequences_record_is_not_forwarded_its_components_are(forwarder_of):
    from gateway.wire.models import KeyValue
    with Receiver() as receiver:
        forwarder = await forwarder_of()
        await forwarder.configure(splunk(receiver.port))
        sequence = record(["a" * 32, "b" * 32])
        sequence.annotations = [KeyValue("path", "guest/seq"), KeyValue("kind", "sequence")]
        forwarder.activation_ended(ended(sequence))
        forwarder.activation_ended(ended(record(lines(1))))
        [request] = await asyncio.to_thread(receiver.wait_for, lambda r: len(r) == 1)
        assert request.body.count(b'"event":') == 1 and b"line 0" in request.body


async def test_a_destination_on_a_non_public_address_is_refused_at_send_time(forwarder_of):
    forwarder = await forwarder_of(policy=EgressPolicy(allow_http=True))
    await forwarder.configure(splunk(8088))
    forwarder.activation_ended(ended(record(lines(1))))
    await eventually(lambda: forwarder.errors("guest"))
    assert "loopback, private, link-local or reserved" in forwarder.errors("guest")[0]
