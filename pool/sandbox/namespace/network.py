"""A namespace sandbox's `internet` egress: slirp4netns attached to its network namespace, deny routes first.

Made while the sandbox is created (in the pool, never on an activation's path), between bubblewrap
making the namespaces and the runner starting (bubblewrap's `--block-fd`): slirp4netns, started by the
gateway as root, joins the sandbox's network namespace, makes `tap0` (10.0.2.100/24, gateway 10.0.2.2)
and forwards what the sandbox sends through ordinary host sockets, with the host's loopback disabled.
Before the runner starts, `unreachable` routes are installed in that namespace for every denied
destination (`denied_networks`): the host's loopback, every address of the host itself (so the gateway's
ports on any interface), link-local 169.254.0.0/16, slirp's own host alias 10.0.2.2, and the operator's
`limits.egress_deny`. The tenant runs without any capability in a user namespace it cannot leave or
nest, so it cannot remove them. slirp4netns runs without IPv6: a sandbox has no IPv6 route at all.
All functions here block: the driver calls them on its own threads.
"""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import json
import os
import select
import shutil
import subprocess
import time
from collections.abc import Iterable

from pool.sandbox.driver import SandboxError

ALWAYS_DENIED = ("127.0.0.0/8", "169.254.0.0/16", "10.0.2.2/32", "0.0.0.0/8")
"""Denied for every sandbox whatever the configuration: the host's loopback, link-local (cloud metadata
at 169.254.169.254) and slirp4netns's alias of the host (10.0.2.2, refused again by
`--disable-host-loopback`); fe80::/10 needs no route, since a sandbox has no IPv6 network."""
TAP = "tap0"
MTU = 65520
_FIB_TRIE = "/proc/net/fib_trie"


class NetworkUnavailable(SandboxError):
    """`internet` egress cannot be given on this host; the message says what is missing."""


def missing() -> str | None:
    """What this host lacks for `internet` egress on the namespace driver, with its fix; None when nothing."""
    for tool, package in (("slirp4netns", "slirp4netns"), ("nsenter", "util-linux"), ("ip", "iproute2")):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install {package})"
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
    networks = [*ALWAYS_DENIED, *(f"{a}/32" for a in host_addresses(fib_trie))]
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


def attach(child_pid: int, deny: list[str], timeout_s: float) -> subprocess.Popen[bytes]:
    """Deny routes into the network namespace of `child_pid`, then slirp4netns attached to it; returns
    slirp4netns's process once `tap0` is configured. On failure nothing it started is left running."""
    _install_deny_routes(child_pid, deny, timeout_s)
    ready_read, ready_write = os.pipe2(os.O_CLOEXEC)
    try:
        process = subprocess.Popen(
            ["slirp4netns", "--configure", f"--mtu={MTU}", "--disable-host-loopback", "--enable-sandbox",
             f"--ready-fd={ready_write}", str(child_pid), TAP],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, pass_fds=(ready_write,),
            start_new_session=True,
        )
    finally:
        os.close(ready_write)
    try:
        if not _read_until(ready_read, b"1", timeout_s, 16):
            raise SandboxError(f"slirp4netns exited before its network was ready: {_stderr(process)}")
    except BaseException:
        stop(process)
        raise
    finally:
        os.close(ready_read)
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    """Kill and reap a sandbox's slirp4netns (harmless to repeat)."""
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(2.0)
    if process.stderr is not None:
        process.stderr.close()


def _install_deny_routes(child_pid: int, deny: list[str], timeout_s: float) -> None:
    """`unreachable` routes for `deny` in the sandbox's network namespace, entered by the gateway (root)."""
    batch = "".join(f"route add unreachable {network}\n" for network in deny).encode()
    try:
        done = subprocess.run(
            ["nsenter", f"--net=/proc/{child_pid}/ns/net", "--", "ip", "-batch", "-"], input=batch,
            capture_output=True, timeout=timeout_s, check=False, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise SandboxError(f"installing the sandbox's deny routes failed: {exc}") from exc
    if done.returncode != 0:
        raise SandboxError(f"installing the sandbox's deny routes failed: {done.stderr[:500].decode(errors='replace')}")


def _read_until(fd: int, end: bytes, timeout_s: float, limit: int) -> bytes:
    """Read `fd` until `end` appears, EOF, `limit` bytes or `timeout_s` (then SandboxError)."""
    deadline = time.monotonic() + timeout_s
    data = b""
    while end not in data and len(data) < limit:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise SandboxError(f"no answer within {timeout_s:g} s while setting up the sandbox's network")
        chunk = os.read(fd, limit - len(data))
        if not chunk:
            break
        data += chunk
    return data


def _stderr(process: subprocess.Popen[bytes]) -> str:
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(1.0)
    return (process.stderr.read(2000) if process.stderr else b"").decode(errors="replace").strip()
