"""The Docker driver's pool tuning, measured on a 2-core host through HTTP."""

from __future__ import annotations

from pool.sandbox.driver import PoolTuning

POOL_TUNING = PoolTuning(max_parallel_creates=3, headroom=1.5, cold_start_ratio=0.01)
"""Docker's engine creates and removes 5-8 containers/s here: its throughput peaks at 2-4 creates at a
time and the engine serialises more; a container takes ~300-1,000 ms to create, and the prewarm
target's Poisson rule with 1.5x headroom and 1 % kept the staircase's cold starts below its ceiling."""
