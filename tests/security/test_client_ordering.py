"""Lists are newest first even when writes share a millisecond: the store breaks ties by write order."""

from __future__ import annotations

from pathlib import Path

from gateway.store import EntityKind, SqliteStore

SAME_MS = 1_700_000_000_000


async def test_entities_written_in_the_same_millisecond_list_newest_write_first(tmp_path: Path):
    store = SqliteStore(tmp_path / "whisklet.db")
    await store.open()
    try:
        created = {}
        for name in ("c", "a", "b"):  # neither alphabetical nor reverse: only the write order says it
            created[name] = await store.put_entity(EntityKind.ACTION, "guest", name, b"{}", SAME_MS, None)
        listed = await store.list_entities(EntityKind.ACTION, "guest", limit=30, skip=0)
        assert [entity.name for entity in listed] == ["b", "a", "c"]
        await store.put_entity(EntityKind.ACTION, "guest", "a", b"{}", SAME_MS, created["a"].revision)  # update
        listed = await store.list_entities(EntityKind.ACTION, "guest", limit=30, skip=0)
        assert [entity.name for entity in listed] == ["a", "b", "c"]
        second = await store.list_entities(EntityKind.ACTION, "guest", limit=1, skip=1)
        assert [entity.name for entity in second] == ["b"]
    finally:
        await store.close()
