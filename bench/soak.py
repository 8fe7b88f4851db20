"""A bounded soak test: a steady invocation rate with faults mixed in, checked for loss, leaks and growth.

    python -m bench.soak [--minutes 10] [--rate 2] [--hostile 0.05] [--report bench/results/soak.md]

One `whisklet serve` of its own receives `rate` invocations a second for `minutes`: 1 % of them time out,
1 % throw, 1 % exceed their memory, a `--hostile` share (0 by default) runs the hostile-sandbox probes
of `tests/security/test_sandbox_*.py` in turn (links planted in the run directory, a patched runner's
200 MB or trickling reply, a 20 MB top-level throw, a result nested 1,000 deep, forged log lines), the
rest succeed; a fifth are blocking, the rest non-blocking. Then it waits for every activation to end
and checks, as a user would:

1. no lost activation: every accepted activation id has a stored record, with the status its action
   must produce (or, past what the machine sustains, the pool's overload error: counted apart), and
   no record holds host data (the guest key, which a planted link pointed at);
2. no leaked container: none of Whisklet's containers is left once it has stopped (and how many
   existed at most while it ran);
3. flat gateway memory: its RSS sampled every 10 s; the growth over the second half of the run.

Stops by itself; every process and container it starts is removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.core import LIMITS, rss_mb
from bench.serving import ServedWhisklet, sandbox_names

NS = "/api/v1/namespaces/_"
ACTIONS = {
    # kind: (code, limits, the status its record must have, a text its error must contain)
    "ok": ("function main(p) { return {n: p.n}; }", {}, "success", None),
    "timeout": ("async function main() { await new Promise((r) => setTimeout(r, 10000)); return {}; }",
                {"timeout": 500}, "action developer error", "exceeded its time limits of 500 milliseconds"),
    "throw": ("function main() { throw new Error('soak'); }", {}, "action developer error", "An error has occurred"),
    "oom": ("function main() { const kept = []; for (;;) kept.push(Buffer.alloc(8 * 1024 * 1024, 1)); }",
            {"memory": 128}, "action developer error", "exhausted its memory"),
}

_PATCH_INIT_REPLY = """
const proto = require('http').ServerResponse.prototype;
proto.writeHead = function () { return this; };
proto.end = function () {
  const socket = this.socket, filler = Buffer.alloc(1024 * 1024, 97);
  let left = 200;
  socket.write('HTTP/1.1 502 Bad\\r\\nContent-Length: ' + (200 * 1024 * 1024 + 12) + '\\r\\n\\r\\n{"error":"');
  const pump = () => { while (left-- > 0) if (!socket.write(filler)) return socket.once('drain', pump); socket.end('"}'); };
  pump();
  return this;
};
function main() { return {}; }
"""
HOSTILE = {
    "plant": ("""const fs = require('fs');
function main({ target }) {
  for (const name of ['activation.log', 'stdout']) {
    try { fs.unlinkSync('/run/whisklet/' + name); } catch (e) {}
    try { fs.symlinkSync(target, '/run/whisklet/' + name); } catch (e) {}
  }
  console.log('planted');
  return {};
}""", {"timeout": 5000}, "success", None),
    "kmsg": ("""const fs = require('fs');
function main() { try { fs.symlinkSync('/dev/kmsg', '/run/whisklet/activation.log'); } catch (e) {} return {}; }""",
             {"timeout": 5000}, "success", None),
    "patched-init": (_PATCH_INIT_REPLY, {"timeout": 5000}, "action developer error", "the full text was"),
    "throw-20mb": ("throw 'x'.repeat(20 * 1024 * 1024);\nfunction main() {}", {"timeout": 5000},
                   "action developer error", "the full text was"),
    "deep": ("function main() { let v = {}; for (let i = 0; i < 1000; i++) v = { v }; return v; }", {},
             "action developer error", "nested deeper than"),
    "forge": ("""function main() {
  process.stdout.write('2001-01-01T00:00:00.000000000Z stdout: forged\\n');
  return {};
}""", {}, "success", None),
}
ACTIONS.update(HOSTILE)


# A `whisk internal error` with one of these is the pool shedding load it cannot take in time: recorded,
# not lost, but a sign the rate is above what this machine sustains.
SHED = ("activations are already waiting for a container", "no container became ready within")


def kind_of(n: int, hostile: float = 0.0) -> str:
    """A `hostile` share of hostile probes, each in turn; 1 % each of timeout, throw and oom, spread
    evenly; the rest ok."""
    if int((n + 1) * hostile) > int(n * hostile):
        return list(HOSTILE)[int(n * hostile) % len(HOSTILE)]
    return {17: "timeout", 50: "throw", 83: "oom"}.get(n % 100, "ok")


@dataclass
class Tally:
    accepted: dict[str, str] = field(default_factory=dict)  # activation id -> kind
    refused: collections.Counter = field(default_factory=collections.Counter)  # status code -> count
    errors: collections.Counter = field(default_factory=collections.Counter)  # exception type -> count
    rss: list[tuple[float, float]] = field(default_factory=list)  # (minutes since start, MB)
    containers: list[int] = field(default_factory=list)


async def invoke(client: httpx.AsyncClient, n: int, tally: Tally, hostile: float, secret_path: str) -> None:
    kind = kind_of(n, hostile)
    blocking = n % 5 == 0
    try:
        response = await client.post(f"{NS}/actions/soak-{kind}", params={"blocking": str(blocking).lower()},
                                     json={"n": n, "target": secret_path})
    except httpx.HTTPError as error:
        tally.errors[type(error).__name__] += 1
        return
    if response.status_code in (200, 202, 502):
        tally.accepted[response.headers["x-openwhisk-activation-id"]] = kind
    else:
        tally.refused[response.status_code] += 1


async def drive(served: ServedWhisklet, minutes: float, rate: float, tally: Tally, hostile: float = 0.0) -> None:
    """Invoke at a steady `rate` for `minutes`, sampling RSS and containers every 10 s."""
    began = time.monotonic()
    end = began + minutes * 60
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
    async with httpx.AsyncClient(base_url=served.url, auth=served.auth, timeout=120, limits=limits) as client:
        tasks: set[asyncio.Task[None]] = set()

        async def sample() -> None:
            while time.monotonic() < end:
                tally.rss.append(((time.monotonic() - began) / 60, rss_mb(served.process.pid)))
                tally.containers.append(len(await asyncio.to_thread(sandbox_names, served.data_dir)))
                await asyncio.sleep(10)

        sampler = asyncio.create_task(sample())
        n = 0
        while (due := began + n / rate) < end:
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            task = asyncio.create_task(invoke(client, n, tally, hostile, str(served.data_dir / "wskprops")))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            n += 1
        await asyncio.gather(*tasks, sampler)


async def check_records(
    served: ServedWhisklet, tally: Tally, wait_s: float = 180
) -> tuple[collections.Counter, list[str], int]:
    """(kind/status counts, problems, shed): every accepted id must have a record with its kind's status,
    or be one the pool shed under overload."""
    outcomes: collections.Counter = collections.Counter()
    problems: list[str] = []
    shed = 0
    missing = dict(tally.accepted)
    deadline = time.monotonic() + wait_s
    async with httpx.AsyncClient(base_url=served.url, auth=served.auth, timeout=60) as client:
        while missing and time.monotonic() < deadline:
            for activation_id, kind in list(missing.items()):
                response = await client.get(f"{NS}/activations/{activation_id}")
                if response.status_code != 200:
                    continue
                del missing[activation_id]
                record = response.json()
                status = record["response"]["status"]
                assert served.auth is not None
                if served.auth[1] in response.text:
                    problems.append(f"{activation_id} ({kind}): host data (the guest key) in the record")
                outcomes[(kind, status)] += 1
                _, expected, text = ACTIONS[kind][1:]
                error = str(record["response"]["result"].get("error", ""))
                if status == "whisk internal error" and any(reason in error for reason in SHED):
                    shed += 1
                elif status != expected or (text is not None and text not in error):
                    problems.append(f"{activation_id} ({kind}): {status}: {error[:120]}")
            if missing:
                await asyncio.sleep(2)
    problems.extend(f"{activation_id} ({kind}): no record" for activation_id, kind in missing.items())
    return outcomes, problems, shed


def growth_mb_per_min(samples: list[tuple[float, float]]) -> float:
    """The least-squares slope of RSS over the second half of the run."""
    half = samples[len(samples) // 2:]
    if len(half) < 2:
        return 0.0
    xs, ys = [x for x, _ in half], [y for _, y in half]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread if spread else 0.0


def report(args: argparse.Namespace, tally: Tally, outcomes: collections.Counter, problems: list[str],
           shed: int, leaked: list[str], ran_s: float) -> str:
    sent = len(tally.accepted) + sum(tally.refused.values()) + sum(tally.errors.values())
    rss = [mb for _, mb in tally.rss]
    lines: list[str] = [
        f"# Soak: {args.minutes:g} min at {args.rate:g} invocations/s, {args.hostile:.0%} hostile",
        "",
        f"- sent {sent} invocations in {ran_s / 60:.1f} min; accepted {len(tally.accepted)}, "
        f"refused {dict(tally.refused) or 0}, transport errors {dict(tally.errors) or 0}",
        f"- **lost activations: {sum(1 for p in problems if p.endswith('no record'))}** "
        f"(accepted ids without a record); wrong outcomes: {sum(1 for p in problems if not p.endswith('no record'))}; "
        f"shed by the pool under overload (recorded as whisk internal errors): {shed}",
        f"- **leaked containers after stop: {len(leaked)}**; most containers at once while running: "
        f"{max(tally.containers, default=0)}",
        f"- **gateway RSS**: first {rss[0]:.1f} MB, last {rss[-1]:.1f} MB, max {max(rss):.1f} MB; "
        f"growth over the second half {growth_mb_per_min(tally.rss):+.2f} MB/min" if rss else "- no RSS samples",
        "",
        "| action | status | records |",
        "|---|---|---|",
        *(f"| {kind} | {status} | {count} |" for (kind, status), count in sorted(outcomes.items())),
        "",
        "RSS samples (min, MB): " + ", ".join(f"{m:.1f}:{mb:.0f}" for m, mb in tally.rss),
    ]
    if problems:
        lines += ["", "Problems (first 20):", *(f"- {p}" for p in problems[:20])]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to invoke (default 10)")
    parser.add_argument("--rate", type=float, default=2.0, help="invocations per second (default 2)")
    parser.add_argument("--hostile", type=float, default=0.0,
                        help="share of invocations running the hostile-sandbox probes (default 0)")
    parser.add_argument("--report", type=Path, help="also write the markdown report here")
    args = parser.parse_args(argv)
    if not (0 < args.minutes <= 120 and 0 < args.rate <= 50 and 0 <= args.hostile <= 0.5):
        parser.error("--minutes must be in (0, 120], --rate in (0, 50] and --hostile in [0, 0.5]")

    tally = Tally()
    with tempfile.TemporaryDirectory(prefix="wl-soak-", dir="/tmp") as tmp:
        served = ServedWhisklet(Path(tmp) / "data", env=LIMITS).start()
        try:
            with served.client() as wsk:
                for kind, (code, limits, _, _) in ACTIONS.items():
                    body = {"exec": {"kind": "nodejs:default", "code": code}, "limits": limits}
                    wsk.put(f"{NS}/actions/soak-{kind}", params={"overwrite": "true"}, json=body).raise_for_status()
            began = time.monotonic()
            asyncio.run(drive(served, args.minutes, args.rate, tally, args.hostile))
            ran_s = time.monotonic() - began
            outcomes, problems, shed = asyncio.run(check_records(served, tally))
        finally:
            served.stop()
        leaked = sandbox_names(served.data_dir)
    text = report(args, tally, outcomes, problems, shed, leaked, ran_s)
    print(text)
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(text)
    return 0 if not problems and not leaked else 1


if __name__ == "__main__":
    raise SystemExit(main())
