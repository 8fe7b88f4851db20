"""An action that plants links, devices and junk in its run directory (`/run/whisklet`, a host
directory its uid can write) gets nothing of the host into its record, and ends on time."""

from __future__ import annotations

import signal
import subprocess

import pytest

from bench.serving import sandbox_names, wait_until
from tests.integration.actions import NS, activation, namespace_client, put_action, unique
from tests.security.sandbox_hostile import (  # noqa: F401 (fixtures)
    assert_ended_in_time_and_clean,
    hostile_whisklet,
    run_probe,
    serve,
    tenant,
)

pytestmark = pytest.mark.docker

# Plants `target` at every name the gateway could read in the run directory (the log file of old),
# then logs a line and returns. `target` is a host path: the link is followed only by whoever opens it.
PLANT_LINK = """
const fs = require('fs');
function main({ target }) {
  const planted = [];
  for (const name of ['activation.log', 'log', 'stdout', 'stderr']) {
    const path = '/run/whisklet/' + name;
    try { fs.unlinkSync(path); } catch (e) {}
    try { fs.symlinkSync(target, path); planted.push(name); } catch (e) {}
  }
  console.log('planted ' + planted.join(','));
  return { planted };
}
"""


@pytest.mark.parametrize("target", [
    "{data_dir}/wskprops",  # the guest namespace's key
    "/proc/self/environ",  # the gateway's environment, as the gateway would open it
    "/dev/kmsg",  # a read that never returns once the ring buffer is drained
    "/proc/self/fd/0",
])
def test_a_link_planted_in_the_run_directory_is_never_followed(tenant, hostile_whisklet, target):
    record = run_probe(tenant, unique("plant"), PLANT_LINK,
                       target=target.format(data_dir=hostile_whisklet.data_dir))
    assert record["response"]["status"] == "success"
    assert record["response"]["result"]["planted"]  # the attack happened
    assert [line[31:] for line in record["logs"]] == [f"stdout: planted {','.join(record['response']['result']['planted'])}"]
    assert_ended_in_time_and_clean(record, hostile_whisklet)


def test_a_hardlink_or_a_socket_in_place_of_the_log_file_is_never_read(tenant, hostile_whisklet):
    code = """
    const fs = require('fs'), net = require('net');
    async function main() {
      const tried = {};
      try { fs.unlinkSync('/run/whisklet/activation.log'); } catch (e) {}
      try { fs.linkSync('/run/whisklet/runner.sock', '/run/whisklet/activation.log'); tried.link = 'made'; }
      catch (e) { tried.link = e.code; }
      try { fs.unlinkSync('/run/whisklet/activation.log'); } catch (e) {}
      await new Promise((resolve) => net.createServer().listen('/run/whisklet/activation.log', resolve));
      tried.socket = fs.statSync('/run/whisklet/activation.log').isSocket();
      console.log('tried');
      return tried;
    }
    """
    record = run_probe(tenant, unique("hardlink"), code)
    assert record["response"]["status"] == "success", record["response"]
    assert record["response"]["result"]["socket"] is True
    assert [line[31:] for line in record["logs"]] == ["stdout: tried"]
    assert_ended_in_time_and_clean(record, hostile_whisklet)


def test_an_action_that_fills_its_run_directory_still_ends_with_its_logs(tenant, hostile_whisklet):
    code = """
    const fs = require('fs');
    function main() {
      let files = 0;
      try { for (; files < 100000; files++) fs.writeFileSync('/run/whisklet/f' + files, 'x'.repeat(4096)); }
      catch (e) { console.log('stopped by ' + e.code); }
      return { files };
    }
    """
    record = run_probe(tenant, unique("fill"), code)
    assert record["response"]["status"] == "success"
    assert [line[31:] for line in record["logs"]] == ["stdout: stopped by ENOSPC"]
    assert_ended_in_time_and_clean(record, hostile_whisklet)


def test_six_activations_planting_blocking_files_stall_no_one_and_sigint_still_stops_the_server(tmp_path):
    served = serve(tmp_path / "data")
    try:
        with served.client(timeout_s=120) as attacker, namespace_client(served, "bystander") as bystander:
            name = unique("kmsg")
            put_action(attacker, name, PLANT_LINK, limits={"timeout": 5000})
            ids = []
            for _ in range(6):
                response = attacker.post(f"{NS}/actions/{name}", params={"blocking": "false"},
                                         json={"target": "/dev/kmsg"})
                assert response.status_code == 202, response.text
                ids.append(response.json()["activationId"])
            hello = unique("hello")
            put_action(bystander, hello, "function main() { return { ok: true }; }")
            response = bystander.post(f"{NS}/actions/{hello}", params={"blocking": "true", "result": "true"})
            assert (response.status_code, response.json()) == (200, {"ok": True})
            for activation_id in ids:
                record = activation(attacker, activation_id, timeout_s=60)
                assert record["response"]["status"] == "success"
                assert_ended_in_time_and_clean(record, served)
        assert served.process is not None
        served.process.send_signal(signal.SIGINT)
        assert served.process.wait(60) == 0
        assert wait_until(lambda: sandbox_names(served.data_dir) == [], timeout_s=30)
    finally:
        try:
            served.stop()
        except subprocess.TimeoutExpired:
            pass
