"""A tenant against the namespace sandbox's start-up: the runner's ready pipe (pool/sandbox/readiness.py) is
closed and its name gone before any tenant code runs, so an action can neither see it nor use it to make
the gateway take a sandbox, its own or another, for ready."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.probe import run_action
from pool.sandbox.namespace.driver import NamespaceDriver
from tests.pool.sandbox.namespace import sandboxes
from tests.pool.sandbox.namespace.sandboxes import namespace_missing, pids_in

pytestmark = pytest.mark.skipif(bool(namespace_missing()), reason="the namespace sandbox cannot run here")
home = sandboxes.home  # a fixture
driver = sandboxes.driver  # a fixture

# What the action's process has at a descriptor number (a `pipe:[inode]` is a pipe) and its variables.
HOLDINGS = """
function main(p) {
  const fs = require('fs');
  let held = null;
  try { held = fs.readlinkSync(`/proc/self/fd/${p.fd}`); } catch {}
  return {held, env: Object.keys(process.env).filter((key) => key.startsWith('WHISKLET'))};
}"""


def ready_fd(data_dir: Path) -> int:
    """The descriptor number the sandbox's runner was told is its ready pipe (bubblewrap's arguments)."""
    bwrap = [pid for pid in set(pids_in(data_dir)) if Path(f"/proc/{pid}/comm").read_text().strip() == "bwrap"]
    assert len(bwrap) == 1
    argv = Path(f"/proc/{bwrap[0]}/cmdline").read_bytes().decode().split("\0")
    return int(argv[argv.index("WHISKLET_READY_FD") + 1])


@pytest.mark.parametrize("egress", ["none", "internet"])
async def test_an_action_holds_no_start_up_pipe_and_sees_no_whisklet_variable(
        driver: NamespaceDriver, home: tuple[Path, Path], egress: Any) -> None:
    sandbox = await driver.create(128, egress=egress)
    try:
        fd = ready_fd(home[0])
        seen = await run_action(sandbox, HOLDINGS, {"fd": fd})
    finally:
        await driver.destroy(sandbox)
    assert not str(seen["held"]).startswith("pipe:"), f"the action holds the ready pipe at {fd}: {seen}"
    assert seen["env"] == []
