"""Reproduce issue 10: count the live sandbox processes a SIGKILLed gateway leaves behind (namespace driver).

Each trial starts a child process that opens the namespace driver on a data directory of its own (the
host root, with its runtime tree, is shared by the run's trials) and creates and destroys sandboxes
`--parallel` at a time; the parent SIGKILLs it at a random moment, waits up to `--settle-s` for the
sandbox cgroups of that data directory to hold no live process, and counts what is still alive there
(zombies are not counted: this VM's PID 1 does not reap them). What a trial left is then killed and
removed (its own cgroups only), and the run's temporary directories at the end.

    .venv/bin/python -m bench.leftovers --trials 200 --budget-s 600

Runs as root on a host where the namespace driver works. Bounded: `--trials` and `--budget-s`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from pool.sandbox.docker.engine import DockerSettings
from pool.sandbox.driver import EGRESS_MODES, Egress
from pool.sandbox.namespace.cgroups import CGROUP_ROOT, PARENT, detect_version, layout
from pool.sandbox.namespace.host import namespace_driver, scope_of

_READY = b"ready\n"
_CLEAN_ATTEMPTS = 10


async def _churn(data_dir: Path, host_root: Path, parallel: int, egress: Egress) -> None:
    """The child: create and destroy sandboxes until killed."""
    async with namespace_driver(DockerSettings(), data_dir, host_root) as driver:
        os.write(1, _READY)

        async def one_after_another() -> None:
            while True:
                sandbox = await driver.create(128, egress=egress)
                await driver.destroy(sandbox)

        await asyncio.gather(*(one_after_another() for _ in range(parallel)))


def live_processes(scope: str, version: int = 1) -> dict[int, str]:
    """The live (not zombie) processes in `scope`'s sandbox cgroups, with their command names."""
    hierarchy = CGROUP_ROOT / "pids" / PARENT / scope if version == 1 else CGROUP_ROOT / PARENT / scope
    found: dict[int, str] = {}
    if not hierarchy.is_dir():
        return found
    for sandbox in (entry for entry in hierarchy.iterdir() if entry.is_dir()):
        with contextlib.suppress(OSError):  # removed meanwhile (ENOENT, or ENODEV once open)
            for pid in map(int, (sandbox / "cgroup.procs").read_text().split()):
                with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                    stat = Path(f"/proc/{pid}/stat").read_text()
                    if stat[stat.rindex(")") + 2] != "Z":
                        found[pid] = stat[stat.index("(") + 1:stat.rindex(")")]
    return found


def _trial(data_dir: Path, host_root: Path, parallel: int, egress: str, kill_after_s: float, settle_s: float,
           version: int) -> Counter[str]:
    data_dir.mkdir(parents=True)
    child = subprocess.Popen([sys.executable, "-m", "bench.leftovers", "--child", str(data_dir), "--host-root", str(host_root),
                              "--parallel", str(parallel), "--egress", egress], stdout=subprocess.PIPE)
    assert child.stdout is not None
    try:
        if child.stdout.read(len(_READY)) != _READY:
            raise RuntimeError("the churning child did not start")
        time.sleep(kill_after_s)  # the random moment of the kill: this is the experiment, not a synchronisation
    finally:
        child.kill()
        child.wait()
    scope = scope_of(data_dir)
    deadline = time.monotonic() + settle_s
    while (left := Counter(live_processes(scope, version).values())) and time.monotonic() < deadline:
        time.sleep(0.05)
    for _ in range(_CLEAN_ATTEMPTS):  # this trial's own cgroups only
        try:
            layout(version, scope).sweep()
            layout(version, scope).release()
            break
        except OSError as exc:
            print(f"removing {scope}'s cgroups: {exc}; again", flush=True)
    run_dir = host_root / scope / "run"
    for host_dir in run_dir.glob("whisklet-*"):
        subprocess.run(["umount", "-l", str(host_dir)], check=False, capture_output=True)
    return left


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--budget-s", type=float, default=600.0)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--settle-s", type=float, default=3.0)
    parser.add_argument("--max-kill-s", type=float, default=1.5)
    parser.add_argument("--egress", choices=EGRESS_MODES, default="none")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--host-root", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        asyncio.run(_churn(args.child, args.host_root, args.parallel, args.egress))
        return
    version = detect_version()
    if version is None:
        sys.exit("no usable cgroup hierarchy")
    signal.signal(signal.SIGINT, signal.default_int_handler)
    started = time.monotonic()
    leaky = 0
    total: Counter[str] = Counter()
    done = 0
    base = Path(tempfile.mkdtemp(prefix="wkl-"))
    base.chmod(0o711)
    try:
        while done < args.trials and time.monotonic() - started < args.budget_s:
            kill_after_s = random.uniform(0.0, args.max_kill_s)
            left = _trial(base / f"data-{done}", base / "host", args.parallel, args.egress, kill_after_s, args.settle_s,
                          version)
            done += 1
            if left:
                leaky += 1
                total += left
                print(f"trial {done} (killed after {kill_after_s:.3f} s): left {dict(left)}", flush=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(f"{done} trials in {time.monotonic() - started:.0f} s: {leaky} left live processes, in all {dict(total)}")


if __name__ == "__main__":
    main()
