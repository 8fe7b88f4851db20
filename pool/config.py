"""The pool's configuration: the `[pool]` section of Whisklet's configuration."""

from __future__ import annotations

import msgspec
from msgspec import Struct

PARALLEL_CREATES = {"sandbox": 4, "docker": 3}
"""Each driver's own `max_parallel_creates` (what 0 means), from measurements on a 2-core host through HTTP:
the namespace sandbox created ~34 fresh sandboxes/s 4 at a time against 20-27/s 3 at a time; Docker's
throughput peaks at 2-4 at a time and its engine serialises more."""


class PoolConfig(Struct, forbid_unknown_fields=True, dict=True):
    driver: str = "auto"  # "sandbox", "docker", or "auto" (sandbox where the host can run it)
    min_prewarm: int = 2
    memory_budget_mb: int = 4096
    max_parallel_creates: int = 0  # 0 = the driver's own (PARALLEL_CREATES); the sandbox's until "auto" has chosen
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
            "max_parallel_creates": self.max_parallel_creates >= 0,
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
        # Kept beside the fields, not in them: `for_driver` must know whether the number was chosen.
        self._driver_default = self.max_parallel_creates == 0
        if self._driver_default:
            self.max_parallel_creates = PARALLEL_CREATES.get(self.driver, PARALLEL_CREATES["sandbox"])

    def for_driver(self, name: str) -> PoolConfig:
        """This configuration for the driver in use (`sandbox` or `docker`): `driver` names it, and a
        `max_parallel_creates` left at 0 becomes that driver's own number."""
        chosen = 0 if self._driver_default else self.max_parallel_creates
        return msgspec.structs.replace(self, driver=name, max_parallel_creates=chosen)
