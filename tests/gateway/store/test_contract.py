"""The store contract: every behaviour here holds on SQLite and on PostgreSQL (the `engine` fixture)."""

import asyncio
import json
import logging

import pytest

from gateway.store import ActivationRow, Conflict, EntityKind, StoreError, key_matches

KEY = "Qm9vbGVhbktleUZvclRlc3RpbmdPbmx5MDEyMzQ1Njc4OWFiY2RlZmdoaWprbG1u"  # 64 characters
ACTION, PACKAGE, TRIGGER = EntityKind.ACTION, EntityKind.PACKAGE, EntityKind.TRIGGER


@pytest.fixture
async def store(engine):
    # a long interval keeps activations pending until a test flushes
    store = engine.store(flush_interval_s=60)
    await store.open()
    yield store
    await store.close()


def activation(aid: str, start: int, *, namespace: str = "guest", name: str = "hello") -> ActivationRow:
    return ActivationRow(aid, namespace, name, start, start + 5, b'{"activationId":"%s"}' % aid.encode())


# subjects


async def test_subjects_are_created_read_listed_and_deleted(store):
    created = await store.create_subject("guest", "uuid-1", KEY)
    await store.create_subject("alice", "uuid-2", "x" * 64, limits=b'{"concurrentInvocations":5}')

    assert await store.get_subject("guest") == created
    assert await store.get_subject_by_uuid("uuid-1") == created
    assert key_matches(created, KEY)
    assert [s.namespace for s in await store.list_subjects()] == ["alice", "guest"]
    assert (await store.get_subject("alice")).limits == b'{"concurrentInvocations":5}'

    assert await store.delete_subject("guest") is True
    assert await store.delete_subject("guest") is False
    assert await store.get_subject("guest") is None
    assert await store.get_subject_by_uuid("uuid-1") is None


async def test_a_taken_namespace_or_uuid_conflicts(store):
    await store.create_subject("guest", "uuid-1", KEY)
    with pytest.raises(Conflict):
        await store.create_subject("guest", "uuid-9", KEY)
    with pytest.raises(Conflict):
        await store.create_subject("other", "uuid-1", KEY)


async def test_subject_limits_are_replaced_and_seen_through_both_lookups(store):
    await store.create_subject("guest", "uuid-1", KEY)
    await store.get_subject("guest"), await store.get_subject_by_uuid("uuid-1")  # warm the cache
    assert await store.set_subject_limits("guest", b'{"invocationsPerMinute":10}') is True
    assert (await store.get_subject("guest")).limits == b'{"invocationsPerMinute":10}'
    assert (await store.get_subject_by_uuid("uuid-1")).limits == b'{"invocationsPerMinute":10}'
    assert await store.set_subject_limits("nobody", b"{}") is False


# entities


async def test_creating_an_entity_whose_name_is_taken_conflicts_across_kinds(store):
    created = await store.put_entity(ACTION, "guest", "hello", b'{"v":1}', 1000, None)
    assert (created.revision, created.namespace, created.kind) == (1, "guest", ACTION)
    with pytest.raises(Conflict, match="already exists"):
        await store.put_entity(TRIGGER, "guest", "hello", b"{}", 1001, None)
    assert await store.get_entity("guest", "hello") == created


async def test_an_update_at_a_stale_revision_conflicts_and_changes_nothing(store):
    await store.put_entity(ACTION, "guest", "hello", b'{"v":1}', 1000, None)
    second = await store.put_entity(ACTION, "guest", "hello", b'{"v":2}', 2000, 1)
    assert (second.revision, second.doc, second.updated) == (2, b'{"v":2}', 2000)

    with pytest.raises(Conflict, match="changed since"):
        await store.put_entity(ACTION, "guest", "hello", b'{"v":3}', 3000, 1)
    with pytest.raises(Conflict):
        await store.put_entity(ACTION, "guest", "gone", b"{}", 3000, 1)
    with pytest.raises(Conflict):
        await store.put_entity(TRIGGER, "guest", "hello", b"{}", 3000, 2)
    assert await store.get_entity("guest", "hello") == second


async def test_delete_returns_the_entity_and_honours_the_revision(store):
    entity = await store.put_entity(ACTION, "guest/pkg", "hello", b"{}", 1000, None)
    with pytest.raises(Conflict):
        await store.delete_entity("guest/pkg", "hello", expected_revision=7)
    assert await store.delete_entity("guest/pkg", "hello", expected_revision=1) == entity
    assert await store.delete_entity("guest/pkg", "hello") is None
    assert await store.get_entity("guest/pkg", "hello") is None


async def test_entities_list_newest_first_with_limit_skip_and_path(store):
    await store.put_entity(ACTION, "guest", "a", b"{}", 100, None)
    await store.put_entity(ACTION, "guest/pkg", "b", b"{}", 300, None)
    await store.put_entity(ACTION, "guest", "c", b"{}", 200, None)
    await store.put_entity(ACTION, "guest", "d", b"{}", 200, None)  # same time as c: the later write first
    await store.put_entity(TRIGGER, "guest", "t", b"{}", 400, None)
    await store.put_entity(ACTION, "alice", "e", b"{}", 500, None)
    await store.put_entity(PACKAGE, "guest", "pkg", b"{}", 50, None)

    def names(entities):
        return [(e.path, e.name) for e in entities]

    everything = [("guest/pkg", "b"), ("guest", "d"), ("guest", "c"), ("guest", "a")]
    assert names(await store.list_entities(ACTION, "guest", limit=30, skip=0)) == everything
    assert names(await store.list_entities(ACTION, "guest", limit=2, skip=1)) == everything[1:3]
    assert names(await store.list_entities(ACTION, "guest", "guest", limit=30, skip=0)) == everything[1:]
    assert names(await store.list_entities(ACTION, "guest", "guest/pkg", limit=30, skip=0)) == everything[:1]
    assert await store.count_entities(ACTION, "guest") == 4
    assert await store.count_entities(ACTION, "guest", "guest") == 3
    assert await store.count_entities(TRIGGER, "guest") == 1
    assert await store.count_entities(PACKAGE, "alice") == 0


async def test_a_read_after_a_write_returns_the_new_doc(store):
    assert await store.get_entity("guest", "hello") is None  # cached as absent
    await store.put_entity(ACTION, "guest", "hello", b'{"v":1}', 1000, None)
    assert (await store.get_entity("guest", "hello")).doc == b'{"v":1}'
    await store.put_entity(ACTION, "guest", "hello", b'{"v":2}', 2000, 1)
    assert (await store.get_entity("guest", "hello")).doc == b'{"v":2}'
    await store.delete_entity("guest", "hello")
    assert await store.get_entity("guest", "hello") is None


async def test_entity_reads_are_served_from_the_cache(store, engine):
    await store.put_entity(ACTION, "guest", "hello", b'{"v":1}', 1000, None)
    assert (await store.get_entity("guest", "hello")).doc == b'{"v":1}'
    await engine.change_entity_doc_behind_the_stores_back("hello", b'{"v":"other"}')
    assert (await store.get_entity("guest", "hello")).doc == b'{"v":1}'


async def test_the_cache_holds_at_most_cache_size_entries(engine):
    store = engine.store(cache_size=2)
    await store.open()
    for name in "abc":
        await store.put_entity(ACTION, "guest", name, b"{}", 1, None)
        await store.get_entity("guest", name)
    assert len(store._cache) == 2
    assert (await store.get_entity("guest", "a")).name == "a"
    await store.close()


# activations


async def test_an_activation_is_readable_before_it_is_flushed(store, engine):
    row = activation("a1", 1000)
    assert store.put_activation(row) is False
    assert await store.get_activation("guest", "a1") == row
    assert await store.get_activation("alice", "a1") is None
    assert await engine.stored_activation_ids() == set()


async def test_listing_merges_pending_and_flushed_activations_in_order(store):
    for aid, start, name in [("a1", 100, "hello"), ("a2", 300, "bye"), ("a3", 200, "hello")]:
        store.put_activation(activation(aid, start, name=name))
    await store.flush()
    for aid, start, name in [("b1", 250, "hello"), ("b2", 300, "hello"), ("b3", 50, "bye")]:
        store.put_activation(activation(aid, start, name=name))
    store.put_activation(activation("z9", 999, namespace="alice"))

    async def ids(**kw):
        args = dict(name=None, since=None, upto=None, limit=30, skip=0) | kw
        return [r.activation_id for r in await store.list_activations("guest", **args)]

    everything = ["a2", "b2", "b1", "a3", "a1", "b3"]  # start DESC, id breaks the 300 tie
    assert await ids() == everything
    assert await ids(limit=3, skip=2) == everything[2:5]
    assert await ids(name="hello") == ["b2", "b1", "a3", "a1"]
    assert await ids(since=200, upto=300) == ["a2", "b2", "b1", "a3"]
    assert await ids(name="bye", upto=299) == ["b3"]
    assert await store.count_activations("guest", name=None, since=None, upto=None) == 6
    assert await store.count_activations("guest", name="hello", since=150, upto=None) == 3
    assert await store.count_activations("guest", name=None, since=None, upto=None, skip=4) == 2

    await store.flush()
    assert await ids() == everything
    assert await ids(limit=3, skip=2) == everything[2:5]


async def test_a_pending_activation_replaces_the_stored_one_with_its_id(store):
    store.put_activation(activation("a1", 100))
    store.put_activation(activation("a2", 200))
    await store.flush()
    store.put_activation(activation("a1", 300))

    listed = await store.list_activations("guest", name=None, since=None, upto=None, limit=30, skip=0)
    assert [(r.activation_id, r.start) for r in listed] == [("a1", 300), ("a2", 200)]
    assert await store.count_activations("guest", name=None, since=None, upto=None) == 2
    assert await store.count_activations("guest", name=None, since=None, upto=150) == 0


async def test_flush_makes_activations_durable_for_a_new_store(store, engine):
    rows = [activation(f"a{i}", i) for i in range(10)]
    for row in rows:
        store.put_activation(row)
    await store.flush()

    other = engine.store()
    await other.open()
    assert await other.get_activation("guest", "a3") == rows[3]
    listed = await other.list_activations("guest", name=None, since=None, upto=None, limit=30, skip=0)
    assert listed == rows[::-1]
    await other.close()


async def test_activations_are_flushed_within_the_interval_without_asking(engine):
    store = engine.store(flush_interval_s=0.02)
    await store.open()
    store.put_activation(activation("a1", 1))
    for _ in range(100):
        if await engine.stored_activation_ids():
            break
        await asyncio.sleep(0.01)
    assert await engine.stored_activation_ids() == {"a1"}
    await store.close()


async def test_max_batch_pending_rows_are_written_without_waiting_for_the_interval(engine):
    store = engine.store(flush_interval_s=60, max_batch=5)
    await store.open()
    for i in range(5):
        store.put_activation(activation(f"a{i}", i))
    for _ in range(100):
        if not store._batcher.pending:
            break
        await asyncio.sleep(0.01)
    assert len(await engine.stored_activation_ids()) == 5
    await store.close()


async def test_close_flushes_pending_activations(engine):
    store = engine.store(flush_interval_s=60)
    await store.open()
    store.put_activation(activation("a1", 1))
    await store.close()
    assert await engine.stored_activation_ids() == {"a1"}
    with pytest.raises(StoreError, match="not open"):
        store.put_activation(activation("a2", 2))


async def test_prune_deletes_by_age_then_the_oldest_beyond_the_count(store):
    for i in range(10):
        store.put_activation(activation(f"a{i}", 100 * i, namespace="guest" if i % 2 else "alice"))
    await store.flush()
    store.put_activation(activation("p1", 50))  # pending: flushed before pruning, then pruned by age

    assert await store.prune_activations(older_than=300, keep_at_most=100) == 4  # a0, a1, a2, p1
    assert await store.prune_activations(older_than=0, keep_at_most=4) == 3  # a3, a4, a5
    left = await store.list_activations("guest", name=None, since=None, upto=None, limit=30, skip=0)
    left += await store.list_activations("alice", name=None, since=None, upto=None, limit=30, skip=0)
    assert sorted(r.activation_id for r in left) == ["a6", "a7", "a8", "a9"]


# failures


async def test_a_read_only_database_fails_flush_and_keeps_the_rows(store, engine, caplog):
    store.put_activation(activation("a1", 1))
    await store.flush()
    await engine.make_read_only(store)
    store._batcher._flush_interval_s = 0.005  # let the flusher retry a few times on its own
    store.put_activation(activation("a2", 2))
    store.put_activation(activation("a3", 3))

    with caplog.at_level(logging.ERROR, logger="whisklet.store"):
        with pytest.raises(StoreError) as failure:
            await store.flush()
        await asyncio.sleep(0.2)
        with pytest.raises(StoreError):
            await store.flush()
    message = str(failure.value)
    assert engine.where in message and engine.read_only_says in message
    assert len([r for r in caplog.records if r.name == "whisklet.store"]) == 1  # once per failure streak

    assert (await store.get_activation("guest", "a2")).start == 2
    assert await store.count_activations("guest", name=None, since=None, upto=None) == 3

    await engine.make_writable(store)
    await store.flush()
    assert await engine.stored_activation_ids() == {"a1", "a2", "a3"}


async def test_backpressure_is_signalled_and_no_row_is_dropped(engine):
    store = engine.store(flush_interval_s=60, max_batch=1000, max_pending=3)
    await store.open()
    await engine.make_read_only(store)
    signals = [store.put_activation(activation(f"a{i}", i)) for i in range(5)]
    assert signals == [False, False, True, True, True]
    with pytest.raises(StoreError):
        await store.flush()
    assert await store.count_activations("guest", name=None, since=None, upto=None) == 5

    await engine.make_writable(store)
    await store.flush()
    assert store.put_activation(activation("a5", 5)) is False
    await store.close()
    assert len(await engine.stored_activation_ids()) == 6


async def test_close_on_a_read_only_database_says_how_many_records_were_lost(engine):
    store = engine.store(flush_interval_s=60)
    await store.open()
    await engine.make_read_only(store)
    store.put_activation(activation("a1", 1))
    with pytest.raises(StoreError, match=r"1 activation records were not written.*read-only"):
        await store.close()


async def test_a_write_on_a_read_only_database_says_what_to_do(store, engine):
    await engine.make_read_only(store)
    with pytest.raises(StoreError, match=engine.read_only_says):
        await store.put_entity(ACTION, "guest", "hello", b"{}", 1, None)


async def test_a_database_from_a_newer_whisklet_is_refused(engine):
    await engine.make_newer()
    with pytest.raises(StoreError, match="schema version 99"):
        await engine.store().open()


async def test_lists_read_heads_actions_without_code_records_without_result_and_logs(store):
    action = b'{"name":"a","exec":{"kind":"nodejs:20","code":"' + b"x" * 100000 + b'","binary":false}}'
    await store.put_entity(ACTION, "guest", "a", action, 1, None)
    [listed] = await store.list_entities(ACTION, "guest", limit=30, skip=0)
    assert json.loads(listed.doc) == {"name": "a", "exec": {"kind": "nodejs:20", "binary": False}}
    assert (await store.get_entity("guest", "a")).doc == action
    record = b'{"activationId":"%s","response":{"status":"success","result":{"big":"%s"}},"logs":["l"]}'
    store.put_activation(ActivationRow("1" * 32, "guest", "a", 5, 6, record % (b"1" * 32, b"r" * 100000)))
    await store.flush()
    [head] = await store.list_activations("guest", name=None, since=None, upto=None, limit=5, skip=0, docs=False)
    assert json.loads(head.doc) == {"activationId": "1" * 32, "response": {"status": "success"}}
    [whole] = await store.list_activations("guest", name=None, since=None, upto=None, limit=5, skip=0)
    assert len(whole.doc) > 100000


async def test_a_page_of_docs_ends_before_the_record_that_passes_the_byte_budget(store):
    for index in range(5):
        doc = b'{"activationId":"%d","logs":["%s"]}' % (index, b"l" * 1000)
        store.put_activation(ActivationRow(f"{index:032d}", "guest", "a", 100 - index, 100, doc))
    pending = await store.list_activations("guest", name=None, since=None, upto=None, limit=5, skip=0, max_bytes=2500)
    await store.flush()
    stored = await store.list_activations("guest", name=None, since=None, upto=None, limit=5, skip=1, max_bytes=2500)
    assert [row.activation_id[-1] for row in pending] == ["0", "1"]
    assert [row.activation_id[-1] for row in stored] == ["1", "2"]
    one = await store.list_activations("guest", name=None, since=None, upto=None, limit=5, skip=0, max_bytes=10)
    assert len(one) == 1  # one record always fits


async def test_apis_are_listed_by_base_path_per_namespace_and_writes_check_the_revision(store):
    from gateway.store import Api, Conflict

    first = await store.put_api(Api("guest", "/b", b"{}", 0, 1), None)
    await store.put_api(Api("guest", "/a", b"{}", 0, 1), None)
    await store.put_api(Api("other", "/a", b"{}", 0, 1), None)
    assert [api.base_path for api in await store.list_apis("guest")] == ["/a", "/b"]
    with pytest.raises(Conflict):
        await store.put_api(Api("guest", "/b", b"{}", 0, 2), None)
    changed = await store.put_api(Api("guest", "/b", b'{"v":2}', 0, 2), first.revision)
    assert changed.revision == 2 and (await store.list_apis("guest"))[1].doc == b'{"v":2}'
    with pytest.raises(Conflict):
        await store.put_api(Api("guest", "/b", b"{}", 0, 3), first.revision)
    assert await store.delete_api("guest", "/b") and not await store.delete_api("guest", "/b")
    assert [api.base_path for api in await store.list_apis("guest")] == ["/a"]
