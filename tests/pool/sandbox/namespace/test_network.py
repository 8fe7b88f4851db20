"""The networks an `internet` sandbox must not reach, as read from the host's routing tables."""

from __future__ import annotations

import os
import resource
from collections.abc import Iterator
from pathlib import Path

import pytest

from pool.sandbox.namespace.network import ALWAYS_DENIED, denied_networks, host_addresses, read_child_pid

FIB_TRIE = """Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
     |-- 192.0.2.2
        /32 host LOCAL
     |-- 192.0.2.255
        /32 link BROADCAST
Local:
     |-- 10.9.8.7
        /32 host LOCAL
"""


def test_the_hosts_own_addresses_are_its_local_host_entries(tmp_path: Path) -> None:
    trie = tmp_path / "fib_trie"
    trie.write_text(FIB_TRIE)
    assert host_addresses(str(trie)) == ["10.9.8.7", "127.0.0.1", "192.0.2.2"]


def test_denied_are_link_local_the_hosts_addresses_but_its_loopback_and_the_configured_ipv4_ranges(
    tmp_path: Path,
) -> None:
    trie = tmp_path / "fib_trie"
    trie.write_text(FIB_TRIE)
    denied = denied_networks(["198.18.0.0/15", "fc00::/7", "10.0.0.1/8"], str(trie))
    assert denied == [*ALWAYS_DENIED, "10.9.8.7/32", "192.0.2.2/32", "198.18.0.0/15", "10.0.0.0/8"]
    assert "169.254.0.0/16" in denied and not any(n.startswith("127.") for n in denied)


def test_an_unreadable_routing_table_still_denies_the_always_denied(tmp_path: Path) -> None:
    assert denied_networks([], str(tmp_path / "missing")) == list(ALWAYS_DENIED)


@pytest.fixture
def pipe_past_select() -> Iterator[tuple[int, int]]:
    """A pipe whose read end is numbered past select(2)'s 1024, as in a gateway holding many connections."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1600:
        pytest.skip(f"the descriptor limit ({hard}) does not reach past 1024")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1600), hard))
    read, write = os.pipe()
    high = os.dup2(read, 1500)
    os.close(read)
    try:
        yield high, write
    finally:
        os.close(high)
        os.close(write)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_bubblewraps_info_is_read_from_a_descriptor_past_1024(pipe_past_select: tuple[int, int]) -> None:
    read, write = pipe_past_select
    os.write(write, b'{"child-pid": 4242}')
    assert read_child_pid(read, 5.0) == 4242
