"""The tenant cannot forge, deflate or inflate its activation's `cpuTime` and `maxMemory`: they are read
by the gateway from the sandbox's cgroups on the host, never from what the action prints, returns or
writes, and the sandbox can reach no cgroup file (no `/sys`, `mount` refused)."""

from __future__ import annotations

import pytest

from tests.integration.actions import annotations, unique
from tests.security.sandbox_hostile import (  # noqa: F401 (fixtures)
    assert_ended_in_time_and_clean,
    hostile_whisklet,
    run_probe,
    tenant,
)

pytestmark = pytest.mark.docker

FORGED = 999_999

# Holds 100 MB, burns CPU, then tries to reset its peak memory and CPU counters through every cgroup file
# it can find, mounts cgroupfs, and claims tiny (or huge) figures in its logs and result.
FORGER = """
const fs = require('fs');
function main() {
  const held = Buffer.alloc(100 * 1024 * 1024, 1);
  let x = 0;
  for (let i = 0; i < 3e7; i++) x += Math.sqrt(x + i);  // a fixed amount of work, whatever the load
  const tried = {};
  for (const file of ['/sys/fs/cgroup/memory/memory.max_usage_in_bytes', '/sys/fs/cgroup/memory.peak',
                      '/sys/fs/cgroup/cpuacct/cpuacct.usage', '/sys/fs/cgroup/cpu.stat',
                      '/proc/self/cgroup']) {
    try { fs.writeFileSync(file, '0'); tried[file] = 'written'; } catch (e) { tried[file] = e.code; }
  }
  try { require('child_process').execSync('mount -t cgroup -o memory none /tmp', {stdio: 'pipe'}); tried.mount = 'mounted'; }
  catch (e) { tried.mount = 'refused'; }
  console.log(JSON.stringify({annotations: [{key: 'cpuTime', value: 0}, {key: 'maxMemory', value: 0}]}));
  console.log('cpuTime: 0, maxMemory: 0');
  return {tried, held: held.length, x, cpuTime: FORGED_FIGURE, maxMemory: FORGED_FIGURE,
          annotations: [{key: 'cpuTime', value: FORGED_FIGURE}, {key: 'maxMemory', value: FORGED_FIGURE}]};
}
""".replace("FORGED_FIGURE", str(FORGED))


def test_an_action_cannot_forge_or_reset_its_cpu_time_and_max_memory(tenant, hostile_whisklet):
    hello = annotations(run_probe(tenant, unique("use-hello"), "function main() { return {}; }"))
    record = run_probe(tenant, unique("use-forger"), FORGER)
    assert_ended_in_time_and_clean(record, hostile_whisklet)
    assert record["response"]["success"], record["response"]
    tried = record["response"]["result"]["tried"]
    assert "written" not in tried.values() and tried["mount"] == "refused"
    keys = [note["key"] for note in record["annotations"]]
    assert keys.count("cpuTime") == 1 and keys.count("maxMemory") == 1
    notes = annotations(record)
    assert 100 <= notes["maxMemory"] <= 256  # what it held, within its limit: not reset, not the forged figure
    assert 5 * max(hello["cpuTime"], 1) < notes["cpuTime"] < FORGED
