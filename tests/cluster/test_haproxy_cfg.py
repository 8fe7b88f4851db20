"""The shipped config/haproxy.cfg: valid for Debian's haproxy, loopback only, patient enough for blocking invokes."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from gateway.config import load_config
from tests.gateway.store.postgres import POSTGRES_URL

CFG = Path(__file__).resolve().parents[2] / "config" / "haproxy.cfg"


def seconds(text: str, name: str) -> float:
    value, unit = re.search(rf"^\s*timeout {name}\s+(\d+)(ms|s|m)\b", text, re.M).groups()
    return int(value) * {"ms": 0.001, "s": 1, "m": 60}[unit]


def test_the_shipped_balancer_configuration_is_valid_and_listens_on_loopback_only():
    if shutil.which("haproxy") is None:
        if POSTGRES_URL:  # scripts/test: the cluster suite runs, so haproxy must be there
            pytest.fail("haproxy is missing: scripts/setup installs Debian's haproxy")
        pytest.skip("haproxy is not installed")
    checked = subprocess.run(["haproxy", "-c", "-f", str(CFG)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    text = CFG.read_text()
    binds = re.findall(r"^\s*bind\s+(\S+)", text, re.M)
    assert binds and all(b.startswith("127.0.0.1:") for b in binds)
    assert re.search(r"^\s*option httpchk GET /ping\s*$", text, re.M)


def test_the_balancer_waits_longer_than_a_blocking_invoke_may_take():
    blocking_s = load_config(environ={}).limits.blocking_wait_max_ms / 1000
    text = CFG.read_text()
    assert seconds(text, "server") > blocking_s and seconds(text, "client") > blocking_s
