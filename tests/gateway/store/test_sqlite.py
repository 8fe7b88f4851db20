import asyncio
import logging
import sqlite3
from pathlib import Path

import pytest

from gateway.store import ActivationRow, Conflict, EntityKind, SqliteStore, StoreError, hash_key, key_matches
from gateway.store.sqlite import SCHEMA_VERSION

KEY = "Qm9vbGVhbktleUZvclRlc3RpbmdPbmx5MDEyMzQ1Njc4OWFiY2RlZmdoaWprbG1u"  # 64 characters
ACTION, PACKAGE, TRIGGER = EntityKind.ACTION, EntityKind.PACKAGE, EntityKind.TRIGGER


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "whisklet.db"


@pytest.fixture
async def store(db_path: Path):
    # a long interval keeps activations pending until a test flushes
    store = SqliteStore(db_path, flush_interval_s=60)
    await store.open()
    yield store
    await store.close()


def activation(aid: str, start: int, *, namespace: str = "guest", name: str = "hello") -> ActivationRow:
    return ActivationRow(aid, namespace, name, start, start + 5, b'{"activationId":"%s"}' % aid.encode())


async def make_read_only(store: SqliteStore) -> None:
    """Reopen the store's connection on a read-only file handle (chmod does not stop root)."""

    def reopen() -> None:
        store._db.close()
        uri = f"file:{store.path}?mode=ro"
        store._db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)

    await store._call("test", reopen)


async def make_writable(store: SqliteStore) -> None:
    def reopen() -> None:
        store._db.close()
        store._db = sqlite3.connect(store.path, isolation_level=None, check_same_thread=False)

    await store._call("test", reopen)


def stored_activation_ids(path: Path) -> set[str]:
    with sqlite3.connect(path) as db:
        return {r[0] for r in db.execute("SELECT activation_id FROM activations")}


# subjects


async def test_subjects_are_created_read_listed_and_deleted(store: SqliteStore):
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


async def test_a_taken_namespace_or_uuid_conflicts(store: SqliteStore):
    await store.create_subject("guest", "uuid-1", KEY)
    with pytest.raises(Conflict):
        await store.create_subject("guest", "uuid-9", KEY)
    with pytest.raises(Conflict):
        await store.create_subject("other", "uuid-1", KEY)


async def test_subject_limits_are_replaced_and_seen_through_both_lookups(store: SqliteStore):
    await store.create_subject("guest", "uuid-1", KEY)
    await store.get_subject("guest"), await store.get_subject_by_uuid("uuid-1")  # warm the cache
    assert await store.set_subject_limits("guest", b'{"invocationsPerMinute":10}') is True
    assert (await store.get_subject("guest")).limits == b'{"invocationsPerMinute":10}'
    assert (await store.get_subject_by_uuid("uuid-1")).limits == b'{"invocationsPerMinute":10}'
    assert await store.set_subject_limits("nobody", b"{}") is False


async def test_the_key_is_never_written_to_disk_only_its_hash(db_path: Path):
    store = SqliteStore(db_path)
    await store.open()
    await store.create_subject("guest", "uuid-1", KEY)
    await store.close()

    files = list(db_path.parent.iterdir())
    data = b"".join(f.read_bytes() for f in files)
    assert hash_key(KEY).encode() in data
    assert KEY.encode() not in data


# entities


async def test_creating_an_entity_whose_name_is_taken_conflicts_across_kinds(store: SqliteStore):
    created = await store.put_entity(ACTION, "guest", "hello", b'{"v":1}', 1000, None)
    assert (created.revision, created.namespace, created.kind) == (1, "guest", ACTION)
    with pytest.raises(Conflict, match="already exists"):
        await store.put_entity(TRIGGER, "guest", "hello", b"{}", 1001, None)
    assert await store.get_entity("guest", "hello") == created


async def test_an_update_at_a_stale_revision_conflicts_and_changes_nothing(store: SqliteStore):
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


async def test_delete_returns_the_entity_and_honours_the_revision(store: SqliteStore):
    entity = await store.put_entity(ACTION, "guest/pkg", "hello", b"{}", 1000, None)
    with pytest.raises(Conflict):
        await store.delete_entity("guest/pkg", "hello", expected_revision=7)
    assert await store.delete_entity("guest/pkg", "hello", expected_revision=1) == entity
    assert await store.delete_entity("guest/pkg", "hello") is None
    assert await store.get_entity("guest/pkg", "hello") is None


async def test_entities_list_newest_first_with_limit_skip_and_path(store: SqliteStore):
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


async def test_a_read_after_a_write_returns_the_new_doc(store: SqliteStore):
    assert await store.get_entity("guest", "hello") is None  # cached as absent
    await store.put_entity(ACTION, "guest", "hello", b'{"v":1}', 1000, None)
    assert (await store.get_entity("guest", "hello")).doc == b'{"v":1}'
    await store.put_entity(ACTION, "guest", "hello", b'{"v":2}', 2000, 1)
    assert (await store.get_entity("guest", "hello")).doc == b'{"v":2}'
    await store.delete_entity("guest", "hello")
    assert await store.get_entity("guest", "hello") is None


async def test_entity_reads_are_served_from_the_cache(store: SqliteStore, db_path: Path):
    await store.put_entity(ACTION, "guest", "hello", b'{"v":1}', 1000, None)
    assert (await store.get_entity("guest", "hello")).doc == b'{"v":1}'
    with sqlite3.connect(db_path) as db:  # a write this store does not know about
        db.execute("UPDATE entities SET doc = ? WHERE name = 'hello'", (b'{"v":"other"}',))
    assert (await store.get_entity("guest", "hello")).doc == b'{"v":1}'


async def test_a_read_racing_a_write_does_not_cache_what_it_read(store: SqliteStore, monkeypatch):
    await store.put_entity(ACTION, "guest", "hello", b'{"v":1}', 1000, None)
    read_done, release = asyncio.Event(), asyncio.Event()
    call = store._call

    async def slow_entity_reads(what, fn, *args, **kw):
        result = await call(what, fn, *args, **kw)
        if fn == store._select_entity and not release.is_set():
            read_done.set()
            await release.wait()  # the result comes back only after the write below completed
        return result

    monkeypatch.setattr(store, "_call", slow_entity_reads)
    racing_read = asyncio.create_task(store.get_entity("guest", "hello"))
    await read_done.wait()
    await store.put_entity(ACTION, "guest", "hello", b'{"v":2}', 2000, 1)
    release.set()
    assert (await racing_read).doc == b'{"v":1}'
    assert (await store.get_entity("guest", "hello")).doc == b'{"v":2}'


async def test_the_cache_holds_at_most_cache_size_entries(db_path: Path):
    store = SqliteStore(db_path, cache_size=2)
    await store.open()
    for name in "abc":
        await store.put_entity(ACTION, "guest", name, b"{}", 1, None)
        await store.get_entity("guest", name)
    assert len(store._cache._items) == 2
    assert (await store.get_entity("guest", "a")).name == "a"
    await store.close()


# activations


async def test_an_activation_is_readable_before_it_is_flushed(store: SqliteStore, db_path: Path):
    row = activation("a1", 1000)
    assert store.put_activation(row) is False
    assert await store.get_activation("guest", "a1") == row
    assert await store.get_activation("alice", "a1") is None
    assert stored_activation_ids(db_path) == set()


async def test_listing_merges_pending_and_flushed_activations_in_order(store: SqliteStore):
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


async def test_a_pending_activation_replaces_the_stored_one_with_its_id(store: SqliteStore):
    store.put_activation(activation("a1", 100))
    store.put_activation(activation("a2", 200))
    await store.flush()
    store.put_activation(activation("a1", 300))

    listed = await store.list_activations("guest", name=None, since=None, upto=None, limit=30, skip=0)
    assert [(r.activation_id, r.start) for r in listed] == [("a1", 300), ("a2", 200)]
    assert await store.count_activations("guest", name=None, since=None, upto=None) == 2
    assert await store.count_activations("guest", name=None, since=None, upto=150) == 0


async def test_flush_makes_activations_durable_for_a_new_store(store: SqliteStore, db_path: Path):
    rows = [activation(f"a{i}", i) for i in range(10)]
    for row in rows:
        store.put_activation(row)
    await store.flush()

    other = SqliteStore(db_path)
    await other.open()
    assert await other.get_activation("guest", "a3") == rows[3]
    listed = await other.list_activations("guest", name=None, since=None, upto=None, limit=30, skip=0)
    assert listed == rows[::-1]
    await other.close()


async def test_activations_are_flushed_within_the_interval_without_asking(db_path: Path):
    store = SqliteStore(db_path, flush_interval_s=0.02)
    await store.open()
    store.put_activation(activation("a1", 1))
    for _ in range(100):
        if await asyncio.to_thread(stored_activation_ids, db_path):
            break
        await asyncio.sleep(0.01)
    assert await asyncio.to_thread(stored_activation_ids, db_path) == {"a1"}
    await store.close()


async def test_max_batch_pending_rows_are_written_without_waiting_for_the_interval(db_path: Path):
    store = SqliteStore(db_path, flush_interval_s=60, max_batch=5)
    await store.open()
    for i in range(5):
        store.put_activation(activation(f"a{i}", i))
    for _ in range(100):
        if not store._pending:
            break
        await asyncio.sleep(0.01)
    assert len(await asyncio.to_thread(stored_activation_ids, db_path)) == 5
    await store.close()


async def test_close_flushes_pending_activations(db_path: Path):
    store = SqliteStore(db_path, flush_interval_s=60)
    await store.open()
    store.put_activation(activation("a1", 1))
    await store.close()
    assert stored_activation_ids(db_path) == {"a1"}
    with pytest.raises(StoreError, match="not open"):
        store.put_activation(activation("a2", 2))


async def test_prune_deletes_by_age_then_the_oldest_beyond_the_count(store: SqliteStore):
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


async def test_a_read_only_database_fails_flush_and_keeps_the_rows(store: SqliteStore, db_path: Path, caplog):
    store.put_activation(activation("a1", 1))
    await store.flush()
    await make_read_only(store)
    store._flush_interval_s = 0.005  # let the flusher retry a few times on its own
    store.put_activation(activation("a2", 2))
    store.put_activation(activation("a3", 3))

    with caplog.at_level(logging.ERROR, logger="whisklet.store"):
        with pytest.raises(StoreError) as failure:
            await store.flush()
        await asyncio.sleep(0.2)
        with pytest.raises(StoreError):
            await store.flush()
    message = str(failure.value)
    assert str(db_path) in message and "read-only" in message and "SQLite: attempt to write a readonly" in message
    assert len([r for r in caplog.records if r.name == "whisklet.store"]) == 1  # once per failure streak

    assert (await store.get_activation("guest", "a2")).start == 2
    assert await store.count_activations("guest", name=None, since=None, upto=None) == 3

    await make_writable(store)
    await store.flush()
    assert stored_activation_ids(db_path) == {"a1", "a2", "a3"}


async def test_backpressure_is_signalled_and_no_row_is_dropped(db_path: Path):
    store = SqliteStore(db_path, flush_interval_s=60, max_batch=1000, max_pending=3)
    await store.open()
    await make_read_only(store)
    signals = [store.put_activation(activation(f"a{i}", i)) for i in range(5)]
    assert signals == [False, False, True, True, True]
    with pytest.raises(StoreError):
        await store.flush()
    assert await store.count_activations("guest", name=None, since=None, upto=None) == 5

    await make_writable(store)
    await store.flush()
    assert store.put_activation(activation("a5", 5)) is False
    await store.close()
    assert len(stored_activation_ids(db_path)) == 6


async def test_close_on_a_read_only_database_says_how_many_records_were_lost(db_path: Path):
    store = SqliteStore(db_path, flush_interval_s=60)
    await store.open()
    await make_read_only(store)
    store.put_activation(activation("a1", 1))
    with pytest.raises(StoreError, match=r"1 activation records were not written.*read-only"):
        await store.close()


async def test_a_write_on_a_read_only_database_says_what_to_do(store: SqliteStore):
    await make_read_only(store)
    with pytest.raises(StoreError, match="read-only: check its permissions and that its disk is writable"):
        await store.put_entity(ACTION, "guest", "hello", b"{}", 1, None)


async def test_a_database_from_a_newer_whisklet_is_refused(db_path: Path):
    with sqlite3.connect(db_path) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="schema version 99"):
        await SqliteStore(db_path).open()


async def test_a_missing_directory_gives_a_store_error(tmp_path: Path):
    with pytest.raises(StoreError, match="check that its directory exists"):
        await SqliteStore(tmp_path / "missing" / "whisklet.db").open()


async def test_the_database_uses_wal_and_records_its_schema_version(store: SqliteStore, db_path: Path):
    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 6


async def test_lists_read_heads_actions_without_code_records_without_result_and_logs(store: SqliteStore):
    action = b'{"name":"a","exec":{"kind":"nodejs:20","code":"' + b"x" * 100000 + b'","binary":false}}'
    await store.put_entity(ACTION, "guest", "a", action, 1, None)
    [listed] = await store.list_entities(ACTION, "guest", limit=30, skip=0)
    assert listed.doc == b'{"name":"a","exec":{"kind":"nodejs:20","binary":false}}'
    assert (await store.get_entity("guest", "a")).doc == action
    record = b'{"activationId":"%s","response":{"status":"success","result":{"big":"%s"}},"logs":["l"]}'
    store.put_activation(ActivationRow("1" * 32, "guest", "a", 5, 6, record % (b"1" * 32, b"r" * 100000)))
    await store.flush()
    [head] = await store.list_activations("guest", name=None, since=None, upto=None, limit=5, skip=0, docs=False)
    assert head.doc == b'{"activationId":"%s","response":{"status":"success"}}' % (b"1" * 32)
    [whole] = await store.list_activations("guest", name=None, since=None, upto=None, limit=5, skip=0)
    assert len(whole.doc) > 100000


async def test_a_page_of_docs_ends_before_the_record_that_passes_the_byte_budget(store: SqliteStore):
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


async def test_apis_are_listed_by_base_path_per_namespace_and_writes_check_the_revision(store: SqliteStore):
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
