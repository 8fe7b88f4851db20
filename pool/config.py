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

_GIB_MB = 1024
_UNKNOWN_MACHINE_BUDGET_MB = 4096  # where /proc/meminfo is missing: what the budget was before it followed the machine
_MEMINFO = "/proc/meminfo"


def machine_memory_budget_mb(mem_total_mb: int) -> int:
    """`pool.memory_budget_mb = 0`: a third of the machine's memory, to the nearest GiB, 1-64 GiB.

    The budget counts memory *limits* (256 MB per default-size sandbox), while an idle sandbox uses
    ~10-40 MB: a third keeps the worst case (every sandbox at its limit) well inside the machine. Measured
    on 2 cores and 24 GiB (the Locust staircase, sandbox driver): 4096 MB (16 sandboxes) let 8.9 % of the
    activations at 0.6 of the machine's limit find the stock empty, 8192 MB (32) none; a third of 24 GiB
    is 8192 MB. Where there is less memory there are fewer cores, so fewer arrivals to absorb.
    """
    nearest_gib = round(mem_total_mb / 3 / _GIB_MB)
    return max(1, min(64, nearest_gib)) * _GIB_MB


def mem_total_mb(meminfo: str = _MEMINFO) -> int | None:
    """The machine's memory (`MemTotal`), or None where /proc/meminfo cannot tell."""
    try:
        with open(meminfo, encoding="ascii") as lines:
            for line in lines:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


class PoolConfig(Struct, forbid_unknown_fields=True, dict=True):
    driver: str = "auto"  # "sandbox", "docker", or "auto" (sandbox where the host can run it)
    min_prewarm: int = 2
    memory_budget_mb: int = 0  # 0 = follow the machine (`machine_memory_budget_mb`)
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
            "memory_budget_mb": self.memory_budget_mb >= 0,
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
        if self.memory_budget_mb == 0:
            total_mb = mem_total_mb()
            budget_mb = _UNKNOWN_MACHINE_BUDGET_MB if total_mb is None else machine_memory_budget_mb(total_mb)
            self.memory_budget_mb = budget_mb
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
