from gateway.store import LogForwardingRow


async def test_a_namespaces_destination_is_stored_replaced_and_removed_with_the_namespace(engine):
    store = engine.store()
    await store.open()
    try:
        await store.create_subject("team", "uuid-1", "key")
        assert await store.get_log_forwarding("team") is None
        first = LogForwardingRow("team", "splunk_hec", b'{"host":"h"}', b"sealed", 1)
        await store.put_log_forwarding(first)
        assert await store.get_log_forwarding("team") == first
        second = LogForwardingRow("team", "adobe_io_runtime", b"{}", b"", 2)
        await store.put_log_forwarding(second)
        assert await store.get_log_forwarding("team") == second
        assert await store.delete_subject("team")
        assert await store.get_log_forwarding("team") is None
    finally:
        await store.close()
    reopened = engine.store()
    await reopened.open()
    try:
        assert await reopened.get_log_forwarding("team") is None
    finally:
        await reopened.close()
