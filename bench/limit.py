"""The ceiling a staircase is measured against, chosen by the driver under test.

- `sandbox`: the machine's limit, the bare-Node spawn rate (`bench.drivers.bare_node_rate`): a fresh Node
  runner on the host without isolation, per activation, is the most any fresh-sandbox driver can reach;
- `docker`: the raw Docker churn (`bench.ceiling.docker_churn_rate`): hardened containers created,
  started and removed, the most the Docker driver can reach on this engine.
"""

from __future__ import annotations

from bench import drivers
from bench.ceiling import BARE_NODE, Ceiling, docker_churn_rate

BARE_NODE_PARALLEL = 4  # as `python -m bench.drivers` measures it, and the sandbox driver's own create parallelism
DOCKER_PARALLEL = 3


async def ceiling_for(driver: str, cycles: int) -> Ceiling:
    """Measure, now, the ceiling that fits `driver` (`sandbox` or `docker`)."""
    if driver == "docker":
        return await docker_churn_rate(containers=cycles, parallel=DOCKER_PARALLEL)
    if driver != "sandbox":
        raise ValueError(f"no ceiling for driver {driver!r}: use sandbox or docker")
    per_s, _p50_ms = await drivers.bare_node_rate(cycles, BARE_NODE_PARALLEL)
    return Ceiling(cycles, BARE_NODE_PARALLEL, cycles / per_s, BARE_NODE)
