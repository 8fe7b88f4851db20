"""A namespace sandbox's `internet` egress: slirp4netns attached to its network namespace, deny routes first.

Made while the sandbox is created (in the pool, never on an activation's path), between bubblewrap
making the namespaces and the runner starting (bubblewrap's `--block-fd`): slirp4netns, started by the
gateway as root, joins the sandbox's network namespace, makes `tap0` (10.0.2.100/24, gateway 10.0.2.2)
and forwards what the sandbox sends through ordinary host sockets, with the host's loopback disabled.
Before the runner starts, `unreachable` routes are installed in that namespace (over rtnetlink,
`netlink.py`) for every denied destination (`denied_networks`): the host's loopback, every address of
the host itself (so the gateway's ports on any interface), link-local 169.254.0.0/16, slirp's own host
alias 10.0.2.2, and the operator's `limits.egress_deny`. The tenant runs without any capability in a
user namespace it cannot leave or nest, so it cannot remove them. slirp4netns runs without IPv6: a
sandbox has no IPv6 route at all.
All functions here block: the driver calls them on its own threads.
"""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import json
import math
import os
import select
import shutil
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass

from pool.sandbox.driver import SandboxError
from pool.sandbox.namespace import netlink

ALWAYS_DENIED = ("169.254.0.0/16", "10.0.2.2/32", "0.0.0.0/8")
"""Denied for every sandbox whatever the configuration: link-local (cloud metadata at 169.254.169.254),
slirp4netns's alias of the host's loopback (10.0.2.2, refused again by `--disable-host-loopback`) and
0.0.0.0/8 (which the host's stack treats as itself). 127.0.0.0/8 inside the sandbox is its own loopback;
fe80::/10 needs no route, since a sandbox has no IPv6 network."""
TAP = "tap0"
MTU = 65520
_FIB_TRIE = "/proc/net/fib_trie"
_LOOPBACK_POLL_S = 0.0005


def missing() -> str | None:
    """What this host lacks for `internet` egress on the namespace driver, with its fix; None when nothing."""
    if shutil.which("slirp4netns") is None:
        return "slirp4netns is not installed (apt-get install slirp4netns)"
    return None


def host_addresses(fib_trie: str = _FIB_TRIE) -> list[str]:
    """Every IPv4 address of the host itself (the `LOCAL` entries of the kernel's routing tables)."""
    try:
        with open(fib_trie, encoding="ascii") as trie:
            lines = trie.read().splitlines()
    except OSError:
        return []
    found: set[str] = set()
    for previous, line in itertools.pairwise(lines):
        if line.strip() == "/32 host LOCAL":
            address = previous.strip().removeprefix("|-- ").strip()
            with contextlib.suppress(ValueError):
                found.add(str(ipaddress.IPv4Address(address)))
    return sorted(found)


def denied_networks(configured: Iterable[str], fib_trie: str = _FIB_TRIE) -> list[str]:
    """The IPv4 networks a sandbox with `internet` egress must not reach: `ALWAYS_DENIED`, the host's
    own addresses and the `configured` ones (IPv6 entries are moot: the sandbox has no IPv6 route)."""
    own = (a for a in host_addresses(fib_trie) if not ipaddress.IPv4Address(a).is_loopback)
    networks = [*ALWAYS_DENIED, *(f"{a}/32" for a in own)]
    for cidr in configured:
        network = ipaddress.ip_network(cidr, strict=False)
        if network.version == 4:
            networks.append(str(network))
    return list(dict.fromkeys(networks))


def read_child_pid(info_fd: int, timeout_s: float) -> int:
    """The sandbox's pid in the host's PID namespace, from bubblewrap's `--info-fd` JSON (bounded)."""
    data = _read_until(info_fd, b"}", timeout_s, 4096)
    try:
        return int(json.loads(data)["child-pid"])
    except (ValueError, KeyError, TypeError) as exc:
        raise SandboxError(f"bubblewrap's info did not name the sandbox's pid: {data[:200]!r}") from exc


@dataclass(slots=True)
class Attached:
    """A sandbox's slirp4netns: its process, and the write end of its `--exit-fd` pipe, which the
    gateway holds: slirp4netns exits when it is closed, by `stop` or by the gateway's own death."""

    process: subprocess.Popen[bytes]
    exit_write: int


def attach(child_pid: int, deny: list[str], timeout_s: float) -> Attached:
    """slirp4netns attached to the network namespace of `child_pid` and deny routes in it; returns
    slirp4netns once `tap0` is configured and the routes are in. On failure nothing it started is left running.

    bubblewrap announces the child's pid as soon as it exists; the child then sets up its loopback and
    its user namespaces and only then waits on `--block-fd`. Entering its namespace before that races
    with it (bubblewrap's `RTM_NEWADDR` fails), so the wait for its loopback comes first. slirp4netns is
    given the namespace's path, not the pid: with a pid it also joins the pid's user namespace, which is
    by then bubblewrap's nested one (`--disable-userns`), from where the network namespace (owned by its
    parent) cannot be entered. Its `--enable-sandbox` is not used: its new mount namespace detaches the
    old root, and that unmount propagates to the host's shared mounts (/run/netns, /var/lib/docker).
    """
    _wait_for_loopback(child_pid, timeout_s)
    ready_read, ready_write = os.pipe2(os.O_CLOEXEC)
    exit_read, exit_write = os.pipe2(os.O_CLOEXEC)
    try:
        process = subprocess.Popen(
            ["slirp4netns", "--configure", f"--mtu={MTU}", "--disable-host-loopback", f"--ready-fd={ready_write}",
             f"--exit-fd={exit_read}", "--netns-type=path", f"/proc/{child_pid}/ns/net", TAP],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=(ready_write, exit_read), start_new_session=True,
        )
    except BaseException:
        os.close(exit_write)
        os.close(ready_read)
        raise
    finally:
        os.close(ready_write)
        os.close(exit_read)
    attached = Attached(process, exit_write)
    try:
        # While slirp4netns starts: the runner waits for both (its `--block-fd`), so the order is free.
        _install_deny_routes(child_pid, deny, timeout_s)
        if not _read_until(ready_read, b"1", timeout_s, 16):
            process.poll()
            raise SandboxError(f"slirp4netns exited before its network was ready (exit code {process.returncode})")
    except BaseException:
        stop(attached)
        raise
    finally:
        os.close(ready_read)
    return attached


def stop(attached: Attached) -> None:
    """Stop and reap a sandbox's slirp4netns, waiting (bounded) for its exit (harmless to repeat)."""
    kill(attached)
    with contextlib.suppress(subprocess.TimeoutExpired):
        attached.process.wait(2.0)


def kill(attached: Attached) -> None:
    """Stop a sandbox's slirp4netns without waiting: its exit (the kernel tearing down `tap0`, tens of
    ms) is reaped by the caller (harmless to repeat)."""
    if attached.exit_write >= 0:
        os.close(attached.exit_write)
        attached.exit_write = -1
    with contextlib.suppress(ProcessLookupError):
        attached.process.kill()


def _wait_for_loopback(child_pid: int, timeout_s: float) -> None:
    """Wait (polling, bounded) until the sandbox's loopback has its address: bubblewrap's own network
    set-up is done."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with open(f"/proc/{child_pid}/net/fib_trie", encoding="ascii") as trie:
                if "127.0.0.1" in trie.read():
                    return
        except OSError as exc:
            raise SandboxError(f"the sandbox's process {child_pid} is gone before its network was made: {exc}") from exc
        if time.monotonic() >= deadline:
            raise SandboxError(f"the sandbox's loopback was not up within {timeout_s:g} s")
        time.sleep(_LOOPBACK_POLL_S)  # blocking by contract: this runs on the driver's thread


def add_deny_routes(child_pid: int, deny: list[str], timeout_s: float) -> None:
    """Add (or keep) `unreachable` routes for `deny` in a live sandbox's network namespace: the host
    gained an address after the sandbox was made."""
    _install_deny_routes(child_pid, deny, timeout_s)


def _install_deny_routes(child_pid: int, deny: list[str], timeout_s: float) -> None:
    """`unreachable` routes for `deny` in the sandbox's network namespace, over rtnetlink from the gateway (root)."""
    netlink.install_unreachable_routes(f"/proc/{child_pid}/ns/net", deny, timeout_s)


def _read_until(fd: int, end: bytes, timeout_s: float, limit: int) -> bytes:
    """Read `fd` until `end` appears, EOF, `limit` bytes or `timeout_s` (then SandboxError).

    Waits with poll(2), not select(2): a gateway holding many connections has descriptors past
    select's 1024, and a sandbox made then must not fail for it."""
    deadline = time.monotonic() + timeout_s
    data = b""
    readable = select.poll()
    readable.register(fd, select.POLLIN)
    while end not in data and len(data) < limit:
        left = deadline - time.monotonic()
        if left <= 0 or not readable.poll(math.ceil(left * 1000)):
            raise SandboxError(f"no answer within {timeout_s:g} s while setting up the sandbox's network")
        chunk = os.read(fd, limit - len(data))
        if not chunk:
            break
        data += chunk
    return data
