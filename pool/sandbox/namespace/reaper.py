"""The sandbox reaper: removes one gateway's namespace sandboxes as soon as that gateway is gone.

Why (bubblewrap 0.8, unchanged upstream): `--die-with-parent` arms `PR_SET_PDEATHSIG` only after a fork,
and nothing re-checks the parent: in the monitor after its clone (a gateway killed before then leaves the
monitor armed against the host's init), in the sandbox's init just before it execs the runner. Before that,
the init blocks reading an eventfd until the monitor has written the uid maps and `--info-fd`: a monitor that
dies first (its parent gone, or SIGPIPE writing `--info-fd` to a dead gateway, as with `internet` egress)
leaves the init blocked for good, with no end of file to wake it (`python -m bench.leftovers --egress
internet`: 11 of 135 kills left one before the reaper, 0 of 206 with it). So the reaper does not follow
process trees: it kills by cgroup.

How: when the driver opens, the gateway starts `WATCH`, a `sh` that blocks reading a pipe whose only write
end the gateway holds (`start`). A gateway that stops normally writes one line (`stop`): the watch exits. A
gateway that dies closes the pipe without that line: end of file, no polling. Only then does the watch exec
this module, which waits (bounded) until the gateway has fully exited, so that none of its files (the
owner record's lock) is still open, and sweeps the scope through `owner.sweep_if_abandoned`: a gateway of
the same data directory that started meanwhile holds the record, and is left alone.

    python -c <_MAIN> <cgroup version> <cgroup root> <home> <gateway pid>
"""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import sys
from pathlib import Path

from pool.sandbox.namespace.owner import sweep_if_abandoned

# Signals that stop a whole service or terminal are ignored: only the pipe says whether the gateway is gone.
WATCH = 'trap "" HUP INT TERM; IFS= read -r _ && exit 0; exec "$@"'
_STOP = b"stop\n"
_GATEWAY_EXIT_WAIT_S = 10.0
_SWEEP_ATTEMPTS = 3  # a process joining a cgroup between its last kill and its removal fails one attempt
_STOP_WAIT_S = 5.0
_REPO_ROOT = Path(__file__).resolve().parents[3]
_MAIN = "import sys; from pool.sandbox.namespace.reaper import main; sys.exit(main(sys.argv[1:]))"


def start(version: int, cgroup_root: Path, home: Path) -> subprocess.Popen[bytes]:
    """Start the watch for this gateway's sandboxes under `home`. Blocking (forks): call it from a thread."""
    argv = ["/bin/sh", "-c", WATCH, "whisklet-reaper", sys.executable, "-c", _MAIN,
            str(version), str(cgroup_root), str(home), str(os.getpid())]
    # Its own session: a terminal's hang-up or Ctrl-C, which stop the gateway cleanly, do not reach it.
    return subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, cwd=_REPO_ROOT, start_new_session=True,
                            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(_REPO_ROOT)})


def stop(watch: subprocess.Popen[bytes]) -> None:
    """Tell the watch the gateway stopped normally, and reap it (bounded). Blocking: call it from a thread."""
    assert watch.stdin is not None
    with contextlib.suppress(BrokenPipeError):
        watch.stdin.write(_STOP)
    with contextlib.suppress(BrokenPipeError):
        watch.stdin.close()
    try:
        watch.wait(_STOP_WAIT_S)
    except subprocess.TimeoutExpired:
        watch.kill()
        watch.wait()


def _wait_for_exit(pid: int, wait_s: float) -> None:
    """Wait until process `pid` has exited entirely (its pidfd is readable), at most `wait_s`."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        select.select([pidfd], [], [], wait_s)
    finally:
        os.close(pidfd)


def main(argv: list[str]) -> int:
    version, cgroup_root, home, gateway_pid = int(argv[0]), Path(argv[1]), Path(argv[2]), int(argv[3])
    _wait_for_exit(gateway_pid, _GATEWAY_EXIT_WAIT_S)
    for attempt in range(1, _SWEEP_ATTEMPTS + 1):
        try:
            removed = sweep_if_abandoned(home, version, cgroup_root)
        except OSError as exc:
            if attempt == _SWEEP_ATTEMPTS:
                _say(f"whisklet reaper: removing the sandboxes of gateway {gateway_pid} failed ({exc}); "
                     "the next Whisklet to start removes them")
                return 1
            continue
        if removed:
            _say(f"whisklet reaper: removed {removed} sandboxes left by gateway {gateway_pid}")
        return 0
    return 0


def _say(message: str) -> None:
    with contextlib.suppress(OSError):  # the gateway's stderr may have gone with it
        print(message, file=sys.stderr, flush=True)

