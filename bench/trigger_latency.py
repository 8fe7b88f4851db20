"""Latency from a trigger fire to its rule's action starting, with a warm pool.

    python -m bench.trigger_latency [--fires 100] [--pace 0.4]

Starts its own `whisklet serve` (temporary data directory, 4 prewarmed containers), creates an action,
a trigger and a rule, then fires the trigger `--fires` times, `--pace` seconds apart so the pool stays
warm. For each fire it reports the rule action's record `start` (the start of `/init` in its fresh
container) minus the trigger record's `start` (the moment the gateway took the fire), and minus the
moment the client sent the fire. Bounded in requests and time; the server and its containers go at the end.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from bench.core import percentile
from bench.serving import ServedWhisklet

NS = "/api/v1/namespaces/_"
LIMITS = {
    "WHISKLET_LIMITS_INVOCATIONS_PER_MINUTE": "1000000",
    "WHISKLET_LIMITS_CONCURRENT_INVOCATIONS": "10000",
    "WHISKLET_LIMITS_FIRES_PER_MINUTE": "1000000",
    "WHISKLET_POOL_MIN_PREWARM": "4",
}


def record(wsk, activation_id: str, timeout_s: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        response = wsk.get(f"{NS}/activations/{activation_id}")
        if response.status_code == 200:
            return response.json()
        if time.monotonic() > deadline:
            response.raise_for_status()
        time.sleep(0.05)


def measure(
    served: ServedWhisklet, fires: int, pace_s: float, warmup: int = 5
) -> tuple[list[float], list[float], int]:
    """(fire taken to action start, fire sent to action start) in ms, one pair per fire after `warmup`,
    and how many of those actions found no prewarmed container (cold starts)."""
    gateway_ms, client_ms, cold = [], [], 0
    with served.client() as wsk:
        wsk.put(f"{NS}/actions/bench-ticked", params={"overwrite": "true"},
                json={"exec": {"kind": "nodejs:default", "code": "function main(p) { return {n: p.n}; }"}}).raise_for_status()
        wsk.put(f"{NS}/triggers/bench-tick", params={"overwrite": "true"}, json={}).raise_for_status()
        wsk.put(f"{NS}/rules/bench-tick-rule", params={"overwrite": "true"},
                json={"trigger": "/_/bench-tick", "action": "/_/bench-ticked"}).raise_for_status()
        fired: list[tuple[int, str]] = []
        for n in range(fires + warmup):
            sent_ms = time.time_ns() // 1_000_000
            response = wsk.post(f"{NS}/triggers/bench-tick", json={"n": n})
            response.raise_for_status()
            if n >= warmup:
                fired.append((sent_ms, response.json()["activationId"]))
            time.sleep(pace_s)
        for sent_ms, trigger_id in fired:
            trigger = record(wsk, trigger_id)
            action = record(wsk, json.loads(trigger["logs"][0])["activationId"])
            gateway_ms.append(action["start"] - trigger["start"])
            client_ms.append(action["start"] - sent_ms)
            cold += any(a["key"] == "coldStart" and a["value"] for a in action["annotations"])
    return gateway_ms, client_ms, cold


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fires", type=int, default=100)
    parser.add_argument("--pace", type=float, default=0.4, help="seconds between fires")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wl-bench-", dir="/tmp") as tmp:
        served = ServedWhisklet(Path(tmp) / "data", env=LIMITS).start()
        try:
            time.sleep(5)  # the pool fills
            gateway_ms, client_ms, cold = measure(served, args.fires, args.pace)
        finally:
            served.stop()
    for label, samples in (("fire taken by the gateway", gateway_ms), ("fire sent by the client", client_ms)):
        print(f"{label} -> rule action start (n={len(samples)}): p50 {percentile(samples, 50):.0f} ms, "
              f"p99 {percentile(samples, 99):.0f} ms, max {max(samples):.0f} ms", flush=True)
    print(f"rule actions that found no prewarmed container: {cold} of {len(gateway_ms)}", flush=True)


if __name__ == "__main__":
    main()
