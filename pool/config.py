"""The pool's configuration: the `[pool]` section of Whisklet's configuration."""

from __future__ import annotations

import msgspec
from msgspec import Struct

from pool.sandbox.docker.tuning import POOL_TUNING as DOCKER_TUNING
from pool.sandbox.driver import PoolTuning
from pool.sandbox.namespace.tuning import POOL_TUNING as SANDBOX_TUNING

DRIVER_TUNING: dict[str, PoolTuning] = {"sandbox": SANDBOX_TUNING, "docker": DOCKER_TUNING}
"""What each driver declares (its `tuning.py`): a `max_parallel_creates`, `headroom` or `cold_start_ratio`
left at 0 takes the driver's own number; until `auto` has chosen, the sandbox's."""

_TUNED = ("max_parallel_creates", "headroom", "cold_start_ratio")


class PoolConfig(Struct, forbid_unknown_fields=True, dict=True):
    driver: str = "auto"  # "sandbox", "docker", or "auto" (sandbox where the host can run it)
    min_prewarm: int = 2
    memory_budget_mb: int = 4096
    max_parallel_creates: int = 0  # 0 = the driver's own (DRIVER_TUNING), as are headroom and cold_start_ratio
    headroom: float = 0.0
    cold_start_ratio: float = 0.0
    rate_window_s: float = 10.0
    burst_window_s: float = 1.0
    idle_shrink_after_s: float = 30.0
    create_timeout_s: float = 20.0
    queue_timeout_s: float = 10.0
    max_queue: int = 1000

    def __post_init__(self) -> None:
        checks = {
            "driver": self.driver in ("auto", "sandbox", "docker"),
            "min_prewarm": self.min_prewarm >= 0,
            "memory_budget_mb": self.memory_budget_mb > 0,
            "max_parallel_creates": self.max_parallel_creates >= 0,
            "headroom": self.headroom == 0 or self.headroom >= 1.0,
            "cold_start_ratio": 0 <= self.cold_start_ratio < 1,
            "rate_window_s": self.rate_window_s > 0,
            "burst_window_s": 0 < self.burst_window_s <= self.rate_window_s,
            "idle_shrink_after_s": self.idle_shrink_after_s >= 0,
            "create_timeout_s": self.create_timeout_s > 0,
            "queue_timeout_s": self.queue_timeout_s > 0,
            "max_queue": self.max_queue >= 0,
        }
        for key, valid in checks.items():
            if not valid:
                raise ValueError(f"pool.{key} = {getattr(self, key)!r} is out of range")
        # Kept beside the fields, not in them: `for_driver` must know which numbers were chosen.
        self._driver_defaults = tuple(key for key in _TUNED if getattr(self, key) == 0)
        tuning = DRIVER_TUNING.get(self.driver, SANDBOX_TUNING)
        for key in self._driver_defaults:
            setattr(self, key, getattr(tuning, key))

    def for_driver(self, name: str) -> PoolConfig:
        """This configuration for the driver in use (`sandbox` or `docker`): `driver` names it, and each of
        `max_parallel_creates`, `headroom` and `cold_start_ratio` left at 0 becomes that driver's own number."""
        chosen = {key: 0 if key in self._driver_defaults else getattr(self, key) for key in _TUNED}
        return msgspec.structs.replace(self, driver=name, **chosen)
