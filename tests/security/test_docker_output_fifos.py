"""The Docker driver's output FIFOs live in a directory the tenant writes: names there are never followed.

The driver makes them in the sandbox's fresh host directory before any container has it, opens their read
ends once, and never opens anything there again (pool/sandbox/docker/output.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pool.sandbox.docker.output import open_output_fifos
from tests.pool.sandbox.docker.test_output import FifoRunner, fifo_runner  # noqa: F401 (fixture)


def open_descriptors() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize("left", ["symlink", "file", "fifo"])
def test_a_name_already_in_the_host_directory_is_never_opened(tmp_path: Path, left: str) -> None:
    host_dir, elsewhere = tmp_path / "host", tmp_path / "elsewhere"
    host_dir.mkdir()
    os.mkfifo(elsewhere)
    if left == "symlink":
        (host_dir / "stdout").symlink_to(elsewhere)
    elif left == "file":
        (host_dir / "stdout").write_bytes(b"not the runner's output\n")
    else:
        os.mkfifo(host_dir / "stdout")
    before = open_descriptors()
    with pytest.raises(FileExistsError):
        open_output_fifos(host_dir)
    assert open_descriptors() == before


async def test_an_action_that_swaps_its_fifos_for_links_still_has_its_output_collected(fifo_runner: FifoRunner) -> None:
    code = """
    const fs = require('fs');
    function main() {
      for (const name of ['stdout', 'stderr']) {
        fs.unlinkSync(name);
        fs.symlinkSync('/etc/shadow', name);
      }
      console.log('after the swap');
      console.error('on stderr too');
      return { swapped: fs.lstatSync('stdout').isSymbolicLink() };
    }
    """
    result, lines, complete = await fifo_runner.activate(code)
    assert result == {"swapped": True}
    assert complete
    assert lines == ["stdout: after the swap", "stderr: on stderr too"]


async def test_an_action_that_writes_a_forged_sentinel_to_a_replaced_fifo_does_not_end_its_logs(
    fifo_runner: FifoRunner,
) -> None:
    code = """
    const fs = require('fs');
    function main() {
      fs.unlinkSync('stdout');
      fs.writeFileSync('stdout', 'XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX\\n');
      console.log('still collected');
      return {};
    }
    """
    _, lines, complete = await fifo_runner.activate(code)
    assert complete
    assert lines == ["stdout: still collected"]
