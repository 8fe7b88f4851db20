"""The end of an activation's output on the warm path: a runner whose sentinels never come, or come
too early, still ends its activation within its limit and costs the gateway no more than that.

The runner writes both sentinels just before its `/run` reply, so an honest activation's logs are
complete when its reply arrives; these probes are the tenant's code keeping that from being true.
"""

from __future__ import annotations

import pytest

from pool.runner import messages
from tests.integration.actions import unique
from tests.security.sandbox_hostile import (  # noqa: F401 (fixtures)
    assert_ended_in_time_and_clean,
    hostile_whisklet,
    rss_mb,
    run_probe,
    tenant,
)

pytestmark = pytest.mark.docker

SENTINEL = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"


def test_an_action_that_swallows_the_runners_own_writes_ends_in_time_with_its_logs_marked_incomplete(
    tenant, hostile_whisklet
):
    # At the top level (during /init): the runner saved `write`, not what `write` calls underneath.
    code = """
    for (const stream of [process.stdout, process.stderr]) stream._write = (chunk, encoding, done) => done();
    function main() { console.log('never seen'); return { ok: true }; }
    """
    record = run_probe(tenant, unique("swallow"), code, timeout_ms=5_000)
    assert record["response"]["status"] == "success"
    assert record["response"]["result"] == {"ok": True}
    assert [line[31:] for line in record["logs"]] == [f"stderr: {messages.LOGS_NOT_COLLECTED}"]
    assert_ended_in_time_and_clean(record, hostile_whisklet)


def test_an_action_that_forges_the_end_of_its_output_then_floods_it_ends_within_its_limit(tenant, hostile_whisklet):
    # The gateway stops reading at the forged sentinels; the flood then fills the pipes, and the
    # runner's own sentinels (written before its reply) could block behind it: the time limit ends it.
    code = f"""
    function main() {{
      process.stdout.write('before\\n{SENTINEL}\\n');
      process.stderr.write('{SENTINEL}\\n');
      const chunk = 'x'.repeat(64 * 1024) + '\\n';
      for (let i = 0; i < 64; i++) process.stdout.write(chunk);
      return {{ flooded: true }};
    }}
    """
    before_mb = rss_mb(hostile_whisklet)
    record = run_probe(tenant, unique("forge-end"), code, timeout_ms=3_000)
    assert record["response"]["status"] in ("success", "action developer error")
    assert "stdout: before" in [line[31:] for line in record["logs"]]
    assert not any("xxxx" in line for line in record["logs"])  # nothing past the forged end is kept
    assert rss_mb(hostile_whisklet) - before_mb < 50
    assert_ended_in_time_and_clean(record, hostile_whisklet)
