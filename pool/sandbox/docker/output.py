"""A Docker sandbox's output FIFOs: the runner's stdout and stderr reach the gateway without the engine.

Through the engine (containerd-shim's pipe and FIFO, dockerd, the attach stream) each stream is a chain of
goroutine wake-ups: its end-of-activation sentinel reached the gateway 1.7-3.1 ms p50 (p90 15-26 ms) after
the `/run` reply the runner wrote after it (`bench/results/core.md`). Instead the driver makes two FIFOs
in the sandbox's fresh host directory and holds their read ends before the container exists; the runner
makes them its descriptors 1 and 2 before anything writes (runner.js, `WHISKLET_OUTPUT_DIR`), so the
sentinels are in the pipe before the reply is on the socket, as with the namespace driver's pipes.
Blocking: the driver calls `open_output_fifos` on its host-directory threads.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from pool.runtime.nodejs.files import RUNNER_GID, RUNNER_UID

OUTPUT_NAMES = ("stdout", "stderr")
"""The FIFOs' names in the host directory (`/run/whisklet/<name>` inside), in descriptor order (1, 2)."""


def open_output_fifos(host_dir: Path) -> tuple[int, int]:
    """Make the runner's stdout and stderr FIFOs in `host_dir` and return their open read ends.

    `host_dir` was just made by the driver and no container has it yet: nothing of a tenant's is in it.
    `mkfifo` fails on any existing entry and the open never follows a link; each read end is checked to
    be a FIFO and is non-blocking (opening it does not wait for a writer) and close-on-exec. Once the
    container runs, the tenant may unlink, replace or open these names: the gateway never opens them again.
    """
    fds: list[int] = []
    try:
        for name in OUTPUT_NAMES:
            path = host_dir / name
            os.mkfifo(path, 0o600)
            _give_to_runner(path)
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW)
            fds.append(fd)
            if not stat.S_ISFIFO(os.fstat(fd).st_mode):
                raise OSError(f"{path} is not the FIFO just made")
    except BaseException:
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        raise
    return fds[0], fds[1]


def _give_to_runner(path: Path) -> None:
    """The runner's uid opens the FIFO for writing; without root, the host directory's 0777 (see
    `make_host_dir`) is matched by a write bit for others, and `run_dir` (0700) keeps other host users out."""
    try:
        os.chown(path, RUNNER_UID, RUNNER_GID)
    except PermissionError:
        if os.geteuid() != RUNNER_UID:
            path.chmod(0o622)
