"""Log lines are stamped by the gateway, bounded while they are read, and cannot be forged."""

from __future__ import annotations

import re

import pytest

from tests.integration.actions import unique
from tests.security.sandbox_hostile import (  # noqa: F401 (fixtures)
    assert_ended_in_time_and_clean,
    hostile_whisklet,
    rss_mb,
    run_probe,
    tenant,
)

pytestmark = pytest.mark.docker

STAMP = re.compile(r"^(\d{4})-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (stdout|stderr): ")
FORGED = "2001-01-01T00:00:00.000000000Z stdout: forged"


def test_a_raw_line_that_looks_stamped_is_stored_behind_the_gateways_own_stamp(tenant, hostile_whisklet):
    code = f"""
    const fs = require('fs');
    function main() {{
      try {{ fs.appendFileSync('/run/whisklet/activation.log', {FORGED!r} + '\\n'); }} catch (e) {{}}
      process.stdout.write({FORGED!r} + '\\n');
      return {{}};
    }}
    """
    record = run_probe(tenant, unique("forge"), code)
    assert record["response"]["status"] == "success"
    assert [line[31:] for line in record["logs"]] == [f"stdout: {FORGED}"]
    for line in record["logs"]:
        stamp = STAMP.match(line)
        assert stamp is not None and stamp.group(1) != "2001"
    assert_ended_in_time_and_clean(record, hostile_whisklet)


def test_a_1_gb_line_without_a_newline_is_bounded_by_the_log_limit(tenant, hostile_whisklet):
    code = """
    async function main() {
      const chunk = Buffer.alloc(1024 * 1024, 120);
      for (let i = 0; i < 1024; i++) {  // all of it through the pipe, not queued in the runner's memory
        if (!process.stdout.write(chunk)) await new Promise((resolve) => process.stdout.once('drain', resolve));
      }
      return { written: 1024 };
    }
    """
    before_mb = rss_mb(hostile_whisklet)
    record = run_probe(tenant, unique("gigabyte"), code, timeout_ms=120_000)
    assert record["response"]["status"] == "success"
    assert [line[31:] for line in record["logs"]] == [
        "stderr: Logs were truncated because the total bytes size exceeds the limit of 10485760 bytes."]
    assert rss_mb(hostile_whisklet) - before_mb < 100
    assert_ended_in_time_and_clean(record, hostile_whisklet)


def test_an_action_that_closes_its_stdout_and_stderr_still_ends_with_its_record_and_logs(tenant, hostile_whisklet):
    code = """
    const fs = require('fs');
    function main() {
      console.log('last words');
      fs.closeSync(1);
      fs.closeSync(2);
      return { ok: true };
    }
    """
    record = run_probe(tenant, unique("mute"), code)
    assert (record["response"]["status"], record["response"]["result"]) == ("success", {"ok": True})
    assert record["logs"][0][31:] == "stdout: last words"
    assert_ended_in_time_and_clean(record, hostile_whisklet)
