"""Whisklet's container pool: everything container-shaped. The gateway imports only these names."""

from pool.activation import ActivationStatus, Job, RunResult
from pool.config import PoolConfig
from pool.jsonbound import MAX_JSON_DEPTH, json_too_deep
from pool.pool import Pool, PoolError, PoolObserver, PoolOverloaded, PoolSnapshot, PoolUnavailable, StockSnapshot
from pool.runtime.nodejs.files import API_HOST_IN_SANDBOX
from pool.runtime.nodejs.kinds import RUNTIMES as NODE_RUNTIMES
from pool.runtime.nodejs.kinds import NodeRuntime
from pool.sandbox.docker.engine import DockerSettings, build_runtime_image, docker_driver
from pool.sandbox.driver import EGRESS_MODES, Egress, EngineUnavailable, ResourceUse, SandboxError
from pool.sandbox.factory import DriverUnsupported, OpenDriver, open_driver

__all__ = [
    "API_HOST_IN_SANDBOX",
    "EGRESS_MODES",
    "MAX_JSON_DEPTH",
    "NODE_RUNTIMES",
    "ActivationStatus",
    "DockerSettings",
    "DriverUnsupported",
    "Egress",
    "EngineUnavailable",
    "Job",
    "NodeRuntime",
    "OpenDriver",
    "Pool",
    "PoolConfig",
    "PoolError",
    "PoolObserver",
    "PoolOverloaded",
    "PoolSnapshot",
    "PoolUnavailable",
    "ResourceUse",
    "RunResult",
    "SandboxError",
    "StockSnapshot",
    "build_runtime_image",
    "docker_driver",
    "json_too_deep",
    "open_driver",
]
