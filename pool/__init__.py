"""Whisklet's container pool: everything container-shaped. The gateway imports only these names."""

from pool.activation import ActivationStatus, Job, RunResult
from pool.config import PoolConfig
from pool.jsonbound import MAX_JSON_DEPTH, json_too_deep
from pool.sandbox.driver import EGRESS_MODES, Egress, EngineUnavailable, ResourceUse, SandboxError
from pool.sandbox.docker.engine import DockerSettings, build_runtime_image, docker_driver
from pool.sandbox.factory import DriverUnsupported, OpenDriver, open_driver
from pool.runtime.nodejs.files import API_HOST_IN_SANDBOX
from pool.pool import Pool, PoolError, PoolObserver, PoolOverloaded, PoolSnapshot, PoolUnavailable, StockSnapshot

__all__ = [
    "API_HOST_IN_SANDBOX",
    "ActivationStatus",
    "MAX_JSON_DEPTH",
    "DockerSettings",
    "EGRESS_MODES",
    "Egress",
    "EngineUnavailable",
    "SandboxError",
    "build_runtime_image",
    "docker_driver",
    "DriverUnsupported",
    "open_driver",
    "OpenDriver",
    "json_too_deep",
    "Job",
    "Pool",
    "PoolConfig",
    "PoolError",
    "PoolObserver",
    "PoolOverloaded",
    "PoolSnapshot",
    "PoolUnavailable",
    "ResourceUse",
    "RunResult",
    "StockSnapshot",
]
