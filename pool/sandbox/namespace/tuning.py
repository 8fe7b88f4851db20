"""The namespace sandbox driver's pool tuning, measured on a 2-core host through HTTP (issue 10)."""

from __future__ import annotations

from pool.sandbox.driver import PoolTuning

POOL_TUNING = PoolTuning(max_parallel_creates=4, headroom=1.5, cold_start_ratio=0.01)
"""TODO measured numbers."""
