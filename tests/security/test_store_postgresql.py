"""A hostile tenant against the PostgreSQL store: its text is data, never SQL, and its requests stay bounded."""

import json

import pytest

from gateway.store import ActivationRow, EntityKind, LogForwardingRow
from gateway.store.postgresql import PostgresStore
from tests.gateway.store.postgres import fresh_database

SQLISH = [
    "x'); DROP TABLE entities; --",
    'a"; DELETE FROM subjects; --',
    "$1 $2 %s %(name)s ? :name",
    "' OR '1'='1",
    "\\'; SELECT pg_sleep(10); --",
    "ns/pkg'||(SELECT key_hash FROM subjects LIMIT 1)||'",
    "日本語 \u202e \t\n",
]


@pytest.fixture(scope="module")
def dsn():
    with fresh_database("whisklet_hostile") as (dsn, _):
        yield dsn


@pytest.fixture
async def store(dsn):
    store = PostgresStore(dsn, flush_interval_s=60)
    await store.open()
    yield store
    await store.close()


@pytest.mark.parametrize("text", SQLISH)
async def test_sql_ish_names_and_documents_are_stored_and_read_back_verbatim(store, text):
    namespace = "ns-" + text.replace("/", "_")  # a "/" in a path means a package
    await store.create_subject(namespace, f"uuid-{text}", "k" * 64, limits=json.dumps({"x": text}).encode())
    doc = json.dumps({"parameters": [{"key": text, "value": text}], "exec": {"code": text}}).encode()
    created = await store.put_entity(EntityKind.ACTION, namespace, text, doc, 1, None)
    assert await store.get_entity(namespace, text) == created
    [listed] = await store.list_entities(EntityKind.ACTION, namespace, limit=10, skip=0)
    assert listed.name == text and json.loads(listed.doc)["parameters"][0]["value"] == text
    record = ActivationRow("a" * 32, namespace, text, 1, 2, json.dumps({"logs": [text]}).encode())
    store.put_activation(record)
    await store.flush()
    [found] = await store.list_activations(namespace, name=text, since=None, upto=None, limit=5, skip=0)
    assert found == record
    await store.put_log_forwarding(LogForwardingRow(namespace, text, text.encode(), text.encode(), 1))
    assert (await store.get_log_forwarding(namespace)).destination == text
    assert (await store.get_subject_by_uuid(f"uuid-{text}")).namespace == namespace
    # nothing else was touched: the other tables and rows are all there
    assert namespace in [s.namespace for s in await store.list_subjects()]
    assert await store.delete_subject(namespace)
    await store.delete_entity(namespace, text)
    await store.prune_activations(older_than=10**15, keep_at_most=0)


async def test_a_huge_activation_list_request_stays_bounded(store):
    for index in range(50):
        doc = b'{"logs":["%s"]}' % (b"l" * 1000)
        store.put_activation(ActivationRow(f"{index:032d}", "guest", "a", index, index, doc))
    await store.flush()
    store.put_activation(ActivationRow("p" * 32, "guest", "a", 99, 99, b"{}"))  # one pending: the merge path
    largest = 10**18 - 1  # what the API lets through (gateway/entities/names.py: 18 digits, limit <= 200)
    for limit, skip in [(200, 0), (200, largest), (200, 10**12)]:
        rows = await store.list_activations(
            "guest", name=None, since=-largest, upto=largest, limit=limit, skip=skip, max_bytes=10_000
        )
        assert len(rows) <= 10  # the byte budget ends the page, whatever the limit asked for
        count = await store.count_activations("guest", name=None, since=-largest, upto=largest, skip=skip)
        assert 0 <= count <= 51
    [first, *_] = await store.list_activations("guest", name=None, since=None, upto=None, limit=200, skip=0)
    assert first.activation_id == "p" * 32
