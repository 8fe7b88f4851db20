"""The pool's configuration: the `[pool]` section of Whisklet's configuration."""

from __future__ import annotations

from msgspec import Struct


class PoolConfig(Struct, forbid_unknown_fields=True):
    driver: str = "auto"  # "sandbox", "docker", or "auto" (sandbox where the host can run it)
    min_prewarm: int = 2
    memory_budget_mb: int = 4096
    max_parallel_creates: int = 3
    headroom: float = 1.5
    cold_start_ratio: float = 0.01
    rate_window_s: float = 10.0
    idle_shrink_after_s: float = 30.0
    create_timeout_s: float = 20.0
    queue_timeout_s: float = 10.0
    max_queue: int = 1000

    def __post_init__(self) -> None:
        checks = {
            "driver": self.driver in ("auto", "sandbox", "docker"),
            "min_prewarm": self.min_prewarm >= 0,
            "memory_budget_mb": self.memory_budget_mb > 0,
            "max_parallel_creates": self.max_parallel_creates >= 1,
            "headroom": self.headroom >= 1.0,
            "cold_start_ratio": 0 < self.cold_start_ratio < 1,
            "rate_window_s": self.rate_window_s > 0,
            "idle_shrink_after_s": self.idle_shrink_after_s >= 0,
            "create_timeout_s": self.create_timeout_s > 0,
            "queue_timeout_s": self.queue_timeout_s > 0,
            "max_queue": self.max_queue >= 0,
        }
        for key, valid in checks.items():
            if not valid:
                raise ValueError(f"pool.{key} = {getattr(self, key)!r} is out of range")
