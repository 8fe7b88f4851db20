"""The namespace sandbox driver's pool tuning, measured on a 2-core host (issue 10)."""

from __future__ import annotations

from pool.sandbox.driver import PoolTuning

POOL_TUNING = PoolTuning(max_parallel_creates=4, headroom=2.0, cold_start_ratio=0.002)
"""Measured here, interleaved, create + runner ready + destroy: 31.9/s 2 at a time, 37.4/s at 4, 35.6/s at
6, 37.5/s at 8 (medians of 6 rounds; bare Node 35.7/s at 4 in the same run). Creation is CPU-bound on 2
cores: past 4 each create only takes longer (p50 103 ms at 4, 156 ms at 6, 203 ms at 8), so 4.
An idle sandbox costs ~10-40 MB, so the stock is sized generously: through HTTP (`python -m bench
--profile quick`, same load, ceiling ~34/s), headroom 1.5 with 1 % let 5.3 % of the activations below
0.8 of the ceiling find the stock empty, headroom 2 with 0.2 % 0.5 %."""
