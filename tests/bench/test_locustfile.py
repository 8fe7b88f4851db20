"""The Locust scenarios against a live Whisklet: every scenario succeeds, and the test cleans up after itself."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import httpx
import pytest

from bench.serving import REPO, WHISKLET
from tests.integration.actions import NS, unique

pytestmark = pytest.mark.docker

ACTIVATIONS = ["BlockingInvoke", "NonBlockingInvoke", "TriggerFire", "WebAction"]


@pytest.fixture
def credentials(whisklet) -> str:
    """uuid:key of a namespace of its own, with throttles high enough for the scenarios."""
    created = subprocess.run(
        [str(WHISKLET), "namespace", "create", unique("locust"), "--invocations-per-minute", "6000",
         "--concurrent-invocations", "100", "--data-dir", str(whisklet.data_dir)],
        capture_output=True, text=True, check=True,
    )
    return created.stdout.strip()


def test_every_scenario_succeeds_and_leaves_nothing_behind(whisklet, credentials, tmp_path: Path):
    prefix = unique("bench")
    steps = [{"name": "activations", "rate": 5, "seconds": 6, "classes": ACTIVATIONS},  # 10 users: 7, 1, 1, 1
             {"name": "crud", "rate": 4, "seconds": 4, "classes": ["CrudMix"]}]
    wskprops = tmp_path / "wskprops"
    wskprops.write_text(f"APIHOST={whisklet.url}\nAUTH={credentials}\n")
    environment = {key: value for key, value in os.environ.items() if key not in ("APIHOST", "AUTH")}
    environment.update({
        "WSK_CONFIG_FILE": str(wskprops), "BENCH_STEPS": json.dumps(steps), "BENCH_USER_RATE": "0.5",
        "BENCH_REQUESTS": str(tmp_path / "requests.csv"), "BENCH_STEP_LOG": str(tmp_path / "steps.csv"),
    })
    done = subprocess.run(
        [sys.executable, "-m", "locust", "-f", "bench/locustfile.py,bench/staircase.py", "--headless",
         "--only-summary", "--bench-prefix", prefix],
        cwd=REPO, env=environment, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    with (tmp_path / "requests.csv").open() as log:
        rows = list(csv.reader(log))
    made = Counter(name for _, name, _, _, _ in rows)
    failed = [row for row in rows if row[4] != "1"]
    for name in ("invoke blocking", "invoke non-blocking", "trigger fire", "web action", "action put"):
        assert made[name] >= 1, f"no {name!r} request: {made}"
    # CrudMix picks its reads at random by weight; over a short step any one of them may not come up
    assert made["action get"] + made["action list"] + made["activation list"] >= 1, made
    assert not failed, failed
    assert [line.split(",")[1] for line in (tmp_path / "steps.csv").read_text().splitlines()] == ["activations", "crud"]

    uuid, key = credentials.split(":")
    with httpx.Client(base_url=whisklet.url, auth=(uuid, key), timeout=30) as wsk:
        for collection in ("actions", "triggers", "rules"):
            names = [entity["name"] for entity in wsk.get(f"{NS}/{collection}", params={"limit": 200}).json()]
            assert not [name for name in names if name.startswith(prefix)], (collection, names)
