"""`unreachable` routes installed in a sandbox's network namespace over rtnetlink, by the gateway itself.

`install_unreachable_routes` does what `nsenter --net=/proc/<pid>/ns/net ip -batch -` with `route replace
unreachable <network>` lines did, without starting two processes per sandbox: a netlink socket belongs to
the network namespace it was made in, so a short-lived thread of its own enters the sandbox's namespace
(`setns(CLONE_NEWNET)`), makes the socket there and ends; the socket is then used from the caller's thread,
which never leaves the host's namespace. That thread runs nothing else, and returns to the host's
namespace before it ends; if it cannot, it ends all the same (a namespace is a thread's own), so no thread
ever serves other work from inside a sandbox's namespace. Every route is one `RTM_NEWROUTE` with
`NLM_F_CREATE | NLM_F_REPLACE | NLM_F_ACK`, and every one's acknowledgement is checked: a refusal or a
missing answer within the time bound is a `SandboxError`. Blocking: the driver calls it on its own threads.
"""

from __future__ import annotations

import ctypes
import errno
import ipaddress
import os
import socket
import struct
import threading
import time

from pool.sandbox.driver import SandboxError

CLONE_NEWNET = 0x40000000
RTM_NEWROUTE = 24
NLMSG_ERROR = 2
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLM_F_REPLACE = 0x100
NLM_F_CREATE = 0x400
RT_TABLE_MAIN = 254
RTPROT_BOOT = 3  # what `ip route` marks its routes with
RT_SCOPE_UNIVERSE = 0
RTN_UNREACHABLE = 7
RTA_DST = 1
_HEADER = struct.Struct("=IHHII")  # nlmsghdr: length, type, flags, sequence, port id
_ROUTE = struct.Struct("=BBBBBBBBI")  # rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags
_ATTRIBUTE = struct.Struct("=HH")  # rtattr: length, type
_ERROR = struct.Struct("=i")  # nlmsgerr's error, followed by the request's header
_RECEIVE_BYTES = 65536
_ROUTES_PER_SEND = 64
_libc = ctypes.CDLL(None, use_errno=True)


def route_messages(networks: list[str], first_sequence: int = 1) -> bytes:
    """One `RTM_NEWROUTE` per IPv4 network (`unreachable`, main table, replacing any route to it, with an
    acknowledgement asked for), numbered from `first_sequence`, concatenated as one netlink datagram."""
    messages = []
    for sequence, text in enumerate(networks, first_sequence):
        network = ipaddress.IPv4Network(text, strict=False)
        route = _ROUTE.pack(socket.AF_INET, network.prefixlen, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT,
                            RT_SCOPE_UNIVERSE, RTN_UNREACHABLE, 0)
        destination = _ATTRIBUTE.pack(_ATTRIBUTE.size + 4, RTA_DST) + network.network_address.packed
        body = route + destination
        flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE
        messages.append(_HEADER.pack(_HEADER.size + len(body), RTM_NEWROUTE, flags, sequence, 0) + body)
    return b"".join(messages)


def acknowledged(data: bytes, waiting: set[int]) -> None:
    """Take the acknowledgements in `data` (one datagram of netlink replies) off `waiting`, the sequence
    numbers still unanswered; raise `SandboxError` for a refusal or a reply that is not an acknowledgement."""
    offset = 0
    while offset + _HEADER.size <= len(data):
        length, kind, _flags, sequence, _port = _HEADER.unpack_from(data, offset)
        if length < _HEADER.size or offset + length > len(data):
            raise SandboxError(f"a malformed rtnetlink reply ({length} bytes announced)")
        if kind != NLMSG_ERROR or length < _HEADER.size + _ERROR.size:
            raise SandboxError(f"an unexpected rtnetlink reply of type {kind} to a deny route")
        (code,) = _ERROR.unpack_from(data, offset + _HEADER.size)
        if code != 0:
            raise SandboxError(f"the kernel refused a deny route: {os.strerror(-code)} (errno {-code})")
        waiting.discard(sequence)
        offset += (length + 3) & ~3


def install_unreachable_routes(netns_path: str, networks: list[str], timeout_s: float) -> None:
    """`unreachable` routes to `networks` in the network namespace at `netns_path` (e.g. `/proc/<pid>/ns/net`),
    each acknowledged by the kernel within `timeout_s` altogether; `SandboxError` otherwise."""
    if not networks:
        return
    deadline = time.monotonic() + timeout_s
    sock = _socket_in(netns_path)
    try:
        for first in range(0, len(networks), _ROUTES_PER_SEND):  # the acknowledgements queued stay few
            chunk = networks[first:first + _ROUTES_PER_SEND]
            sock.send(route_messages(chunk, first + 1))
            waiting = set(range(first + 1, first + len(chunk) + 1))
            while waiting:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise SandboxError(f"the kernel did not acknowledge {len(waiting)} deny routes within {timeout_s:g} s")
                sock.settimeout(left)
                acknowledged(sock.recv(_RECEIVE_BYTES), waiting)
    except OSError as exc:
        raise SandboxError(f"installing the sandbox's deny routes failed: {exc}") from exc
    finally:
        sock.close()


def _socket_in(netns_path: str) -> socket.socket:
    """A `NETLINK_ROUTE` socket made in the network namespace at `netns_path`, by a thread of its own."""
    made: list[socket.socket] = []
    failed: list[BaseException] = []

    def make() -> None:
        try:
            made.append(_made_inside(netns_path))
        except BaseException as exc:  # handed to the caller's thread
            failed.append(exc)

    thread = threading.Thread(target=make, name="whisklet-netns", daemon=True)
    thread.start()
    thread.join()
    if failed:
        error = failed[0]
        raise error if isinstance(error, SandboxError) else SandboxError(f"entering the sandbox's network failed: {error}")
    return made[0]


def _made_inside(netns_path: str) -> socket.socket:
    """Runs on its own thread: enter the namespace, make the socket, return to the host's namespace."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        target = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            _setns(target, "entering")
        finally:
            os.close(target)
        sock: socket.socket | None = None
        try:
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, socket.NETLINK_ROUTE)
        finally:
            try:
                _setns(home, "leaving")  # if this fails the thread ends inside all the same: it runs nothing else
            except SandboxError:
                if sock is not None:
                    sock.close()
                raise
    finally:
        os.close(home)
    return sock


def _setns(fd: int, doing: str) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        code = ctypes.get_errno()
        raise SandboxError(f"{doing} the sandbox's network namespace failed: {os.strerror(code)} "
                           f"({errno.errorcode.get(code, code)})")
