"""The Docker driver's pool tuning, measured on a 2-core host."""

from __future__ import annotations

from pool.sandbox.driver import PoolTuning

POOL_TUNING = PoolTuning(max_parallel_creates=3, headroom=1.5, cold_start_ratio=0.01)
"""Docker's engine creates and removes 5-8 containers/s here and its throughput peaks at 2-4 creates at
a time (it serialises more), so 3. A container takes ~300-1,000 ms to create; headroom and cold-start
ratio are those the Docker driver was run with before the namespace sandbox was tuned (issue 10)."""
