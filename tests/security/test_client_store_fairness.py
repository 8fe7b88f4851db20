"""One namespace's heavy reads of the store do not hold up another namespace's invoke.

Before: one store thread served reads and writes in turn, and a list of summaries read whole records;
20 concurrent lists of big records from one namespace made another namespace's trivial blocking invoke
wait 43 s instead of 0.03 s. Now reads have their own connections, at most one per namespace at a time,
summaries read a record's head only, and a `docs=true` page is bounded in bytes.
"""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from bench.serving import wait_until
from tests.integration.actions import NS, invoke, namespace_client, put_action
from tests.security.client_hostile import (
    credentials_of,
    median,
    timed,
    wait_for_prewarmed,
)

pytestmark = pytest.mark.docker

RECORDS = 40
LISTERS = 20
# "A few times its unloaded latency": ~2x measured on a quiet machine. The 20 listers and the gateway
# share two cores, so CPU contention alone can add a few times more; before the fix the ratio was ~85x
# (1,400x in the report), so 10 still tells the two apart.
RATIO = 10
SAMPLES = 7  # invokes timed per phase; their medians are compared (one slow invoke on a busy host is noise)
PAGE_MAX_BYTES = 16 * 1024 * 1024  # gateway/api/activations.py PAGE_MAX_BYTES

BIG = """
function main() {
  for (let line = 0; line < 4; line++) console.log('log '.repeat(16384));
  return { big: 'r'.repeat(900000) };
}
"""

# The heavy namespace's readers run in a process of their own, so that they do not take this process's
# GIL from the invokes being timed. Each lists summaries (the case), for a bounded time.
LISTERS_SCRIPT = """
import asyncio, sys, time
import httpx

async def main(url, uuid, key, count, seconds):
    async with httpx.AsyncClient(base_url=url, auth=(uuid, key), timeout=600) as client:
        end = time.monotonic() + seconds
        async def lister(index):
            while time.monotonic() < end:
                response = await client.get("/api/v1/namespaces/_/activations", params={"limit": 200})
                response.raise_for_status()
                if index == 0 and not started.done():
                    started.set_result(None)
                    print("listing", flush=True)
        started = asyncio.get_running_loop().create_future()
        await asyncio.gather(*(lister(index) for index in range(count)))

asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])))
"""


def activations_counted(client: httpx.Client) -> int:
    count: int = client.get(f"{NS}/activations", params={"count": "true"}).json()["activations"]
    return count


def test_a_namespaces_heavy_reads_keep_another_namespaces_invoke_within_a_few_times_its_latency(whisklet):
    heavy, light = namespace_client(whisklet, "heavy"), namespace_client(whisklet, "light")
    put_action(heavy, "big", BIG, limits={"timeout": 60000})
    for _ in range(RECORDS):
        assert invoke(heavy, "big", blocking="false").status_code == 202
    assert wait_until(lambda: activations_counted(heavy) >= RECORDS, timeout_s=300)
    put_action(light, "quick", "function main() { return { ok: true }; }")

    def invoke_s() -> float:
        wait_for_prewarmed(whisklet)
        seconds, response = timed(lambda: invoke(light, "quick"))
        assert response.status_code == 200, response.text[:300]
        return seconds

    invoke_s()  # the first invoke of an action resolves and caches it
    unloaded = median([invoke_s() for _ in range(SAMPLES)])
    uuid, key = credentials_of(heavy)
    listers = subprocess.Popen(
        [sys.executable, "-c", LISTERS_SCRIPT, whisklet.url, uuid, key, str(LISTERS), "120"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert listers.stdout is not None and listers.stdout.readline() == "listing\n"  # they are at work
        loaded = [invoke_s() for _ in range(SAMPLES)]
        assert listers.poll() is None, "the listers stopped before the invokes were timed"
    finally:
        listers.kill()
        listers.wait(30)
    assert median(loaded) < RATIO * unloaded, (loaded, unloaded)


def test_a_page_of_whole_records_is_bounded_in_bytes_and_says_so_by_its_length(whisklet):
    heavy = namespace_client(whisklet, "pages")
    put_action(heavy, "big", BIG, limits={"timeout": 60000})
    for _ in range(24):
        assert invoke(heavy, "big", blocking="false").status_code == 202
    assert wait_until(lambda: activations_counted(heavy) >= 24, timeout_s=300)
    page = heavy.get(f"{NS}/activations", params={"limit": 200, "docs": "true"})
    assert page.status_code == 200
    assert len(page.content) <= PAGE_MAX_BYTES + 4096
    first = page.json()
    assert 0 < len(first) < 24
    rest = heavy.get(f"{NS}/activations", params={"limit": 200, "docs": "true", "skip": len(first)}).json()
    ids = [record["activationId"] for record in first + rest]
    summaries = heavy.get(f"{NS}/activations", params={"limit": 200}).json()
    assert ids == [summary["activationId"] for summary in summaries][: len(ids)]
    assert all("result" not in summary and "logs" not in summary for summary in summaries)
