"""A `.json` web action request next to the same action invoked through the REST API, in one run.

    python -m bench.web [--requests 100] [--pace 0.4]

One `whisklet serve` with a warm pool; the web request (`GET /api/v1/web/guest/default/A.json?name=n`,
anonymous) and the REST invocation (`POST .../actions/A?blocking=true&result=true`, Basic auth) are
interleaved, sequentially, paced so the pool stays warm. Prints p50/p99 of each. Bounded in requests and
time; the server it starts is stopped at the end.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import httpx

from bench.core import HELLO, LIMITS, percentile
from bench.serving import ServedWhisklet

ACTION = "bench-web"
WARM_UP = 5


def measure(served: ServedWhisklet, requests: int, pace_s: float) -> tuple[list[float], list[float]]:
    web_ms: list[float] = []
    rest_ms: list[float] = []
    with served.client() as wsk, httpx.Client(base_url=served.url, timeout=90) as anonymous:
        wsk.put(f"/api/v1/namespaces/_/actions/{ACTION}", params={"overwrite": "true"}, json={
            "exec": {"kind": "nodejs:default", "code": HELLO},
            "annotations": [{"key": "web-export", "value": True}],
        }).raise_for_status()
        for n in range(requests + WARM_UP):
            for samples, call in (
                (web_ms, lambda n=n: anonymous.get(f"/api/v1/web/guest/default/{ACTION}.json", params={"name": str(n)})),
                (rest_ms, lambda n=n: wsk.post(f"/api/v1/namespaces/_/actions/{ACTION}",
                                               params={"blocking": "true", "result": "true"}, json={"name": str(n)})),
            ):
                began = time.perf_counter()
                response = call()
                elapsed_ms = (time.perf_counter() - began) * 1000
                response.raise_for_status()
                assert response.json() == {"msg": f"hello {n}"}, response.text
                if n >= WARM_UP:
                    samples.append(elapsed_ms)
                time.sleep(pace_s)
    return web_ms, rest_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=100, help="of each kind, after 5 warm-up pairs")
    parser.add_argument("--pace", type=float, default=0.4, help="seconds between requests")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wl-bench-web-", dir="/tmp") as tmp:
        served = ServedWhisklet(Path(tmp) / "data", env={**LIMITS, "WHISKLET_POOL_MIN_PREWARM": "4"}).start()
        try:
            time.sleep(5)  # let the pool fill
            web_ms, rest_ms = measure(served, args.requests, args.pace)
        finally:
            served.stop()
    for label, samples in (("web action .json (GET, anonymous)", web_ms),
                           ("REST invoke blocking result=true", rest_ms)):
        print(f"{label}, n={len(samples)}: p50 {percentile(samples, 50):.1f} ms, "
              f"p99 {percentile(samples, 99):.1f} ms", flush=True)


if __name__ == "__main__":
    main()
