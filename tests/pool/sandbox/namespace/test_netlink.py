"""Deny routes over rtnetlink (pool/sandbox/namespace/netlink.py): the messages' bytes, the kernel's answers,
and routes really installed in a network namespace of the test's own."""

from __future__ import annotations

import os
import struct
import subprocess
import threading
from collections.abc import Iterator

import pytest

from pool.sandbox.driver import SandboxError
from pool.sandbox.namespace.netlink import acknowledged, install_unreachable_routes, route_messages

# RTM_NEWROUTE, flags REQUEST | ACK | REPLACE | CREATE, sequence 7; rtmsg: AF_INET, /16, main table, proto
# boot, scope universe, type unreachable; RTA_DST 169.254.0.0
LINK_LOCAL = bytes.fromhex(
    "24000000" "1800" "0505" "07000000" "00000000"
    "02" "10" "00" "00" "fe" "03" "00" "07" "00000000"
    "0800" "0100" "a9fe0000"
)


def ack(sequence: int, error: int = 0) -> bytes:
    """A kernel acknowledgement (`NLMSG_ERROR`): the error code and the request's header."""
    request = struct.pack("=IHHII", 36, 24, 5, sequence, 0)
    return struct.pack("=IHHII", 36, 2, 0x100, sequence, 0) + struct.pack("=i", error) + request


def test_an_unreachable_route_is_one_new_route_message_replacing_any_route_to_its_network() -> None:
    assert route_messages(["169.254.0.0/16"], 7) == LINK_LOCAL


def test_routes_are_numbered_in_order_and_a_host_address_is_a_32_bit_prefix() -> None:
    data = route_messages(["169.254.0.0/16", "192.0.2.7"], 7)
    assert data[:36] == LINK_LOCAL
    second = data[36:]
    assert struct.unpack_from("=IHHII", second) == (36, 24, 0x505, 8, 0)
    assert second[17] == 32 and second[-4:] == bytes([192, 0, 2, 7])


def test_acknowledgements_clear_their_sequences_and_a_refusal_names_the_errno() -> None:
    waiting = {1, 2, 3}
    acknowledged(ack(1) + ack(3), waiting)
    assert waiting == {2}
    with pytest.raises(SandboxError, match=r"refused a deny route: .*\(errno 1\)"):
        acknowledged(ack(2, -1), waiting)


def test_a_reply_that_is_not_an_acknowledgement_or_is_cut_short_is_an_error() -> None:
    with pytest.raises(SandboxError, match="unexpected rtnetlink reply of type 16"):
        acknowledged(struct.pack("=IHHII", 20, 16, 0, 1, 0) + b"\0" * 4, {1})
    with pytest.raises(SandboxError, match="malformed"):
        acknowledged(ack(1)[:30], {1})


@pytest.fixture
def own_namespace() -> Iterator[int]:
    """A process in a fresh, empty network namespace of the test's own; its pid."""
    process = subprocess.Popen(["unshare", "--net", "sh", "-c", "echo made; exec sleep 60"], stdout=subprocess.PIPE)
    try:
        assert process.stdout is not None and process.stdout.readline() == b"made\n"  # the namespace exists
        yield process.pid
    finally:
        process.kill()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()


def routes_in(pid: int) -> str:
    return subprocess.run(["nsenter", f"--net=/proc/{pid}/ns/net", "ip", "route", "show", "table", "main"],
                          capture_output=True, text=True, check=True).stdout


def test_routes_installed_in_another_namespace_are_there_and_the_caller_never_left_its_own(own_namespace: int) -> None:
    own = os.readlink("/proc/thread-self/ns/net")
    install_unreachable_routes(f"/proc/{own_namespace}/ns/net", ["169.254.0.0/16", "10.0.2.2/32"], 5.0)
    install_unreachable_routes(f"/proc/{own_namespace}/ns/net", ["169.254.0.0/16", "192.0.2.7/32"], 5.0)  # replaces
    assert routes_in(own_namespace).split("\n") == [
        "unreachable 10.0.2.2 ", "unreachable 169.254.0.0/16 ", "unreachable 192.0.2.7 ", ""]
    assert os.readlink("/proc/thread-self/ns/net") == own
    assert "whisklet-netns" not in [thread.name for thread in threading.enumerate()]


def test_a_namespace_that_is_gone_is_a_sandbox_error() -> None:
    with pytest.raises(SandboxError, match="No such file"):
        install_unreachable_routes("/proc/0/ns/net", ["169.254.0.0/16"], 5.0)
