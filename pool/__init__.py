"""Whisklet's container pool: everything container-shaped. The gateway imports only these names."""

from pool.activation import ActivationStatus, Job, RunResult
from pool.config import PoolConfig
from pool.sandbox.driver import EngineUnavailable, SandboxError
from pool.sandbox.docker.engine import DockerSettings, build_runtime_image, docker_driver
from pool.pool import Pool, PoolError, PoolObserver, PoolOverloaded, PoolSnapshot, PoolUnavailable, StockSnapshot

__all__ = [
    "ActivationStatus",
    "DockerSettings",
    "EngineUnavailable",
    "SandboxError",
    "build_runtime_image",
    "docker_driver",
    "Job",
    "Pool",
    "PoolConfig",
    "PoolError",
    "PoolObserver",
    "PoolOverloaded",
    "PoolSnapshot",
    "PoolUnavailable",
    "RunResult",
    "StockSnapshot",
]
