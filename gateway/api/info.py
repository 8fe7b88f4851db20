"""Unauthenticated routes: `GET /` (system limits and runtimes), `GET /ping`, `GET /api/v1`."""

from __future__ import annotations

from collections.abc import Mapping
from importlib import metadata

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from gateway.api.wire import JSON
from gateway.config import Config
from gateway.models import ApiInfo, ControllerInfo, Runtime, Support, SystemLimits, encoder

MB = 1024 * 1024


def controller_info(config: Config, runtimes: Mapping[str, Runtime]) -> ControllerInfo:
    bounds = config.limits
    families: dict[str, list[Runtime]] = {}
    for runtime in runtimes.values():
        families.setdefault(runtime.kind.split(":", 1)[0], []).append(runtime)
    return ControllerInfo(
        description="OpenWhisk",
        support=Support(github="https://github.com/apache/openwhisk/issues", slack="http://slack.openwhisk.org"),
        api_paths=["/api/v1"],
        limits=SystemLimits(
            actions_per_minute=bounds.invocations_per_minute,
            triggers_per_minute=bounds.fires_per_minute,
            concurrent_actions=bounds.concurrent_invocations,
            sequence_length=bounds.sequence_max_length,
            min_action_duration=bounds.timeout_min_ms,
            max_action_duration=bounds.timeout_max_ms,
            default_action_duration=bounds.timeout_default_ms,
            min_action_memory=bounds.memory_min_mb * MB,
            max_action_memory=bounds.memory_max_mb * MB,
            default_action_memory=bounds.memory_default_mb * MB,
            min_action_logs=bounds.logs_min_mb * MB,
            max_action_logs=bounds.logs_max_mb * MB,
            default_action_logs=bounds.logs_default_mb * MB,
        ),
        runtimes=families,
    )


def api_info() -> ApiInfo:
    try:
        version = metadata.version("whisklet")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return ApiInfo(
        description="OpenWhisk API",
        api_version="1.0.0",
        api_version_path="v1",
        build=f"whisklet {version}",
        buildno=version,
        swagger_paths={"ui": "/docs", "api-docs": "/api-docs"},
    )


def routes(config: Config, runtimes: Mapping[str, Runtime]) -> list[Route]:
    system = encoder.encode(controller_info(config, runtimes))
    api = encoder.encode(api_info())

    async def get_system(request: Request) -> Response:
        return Response(system, media_type=JSON)

    async def ping(request: Request) -> Response:
        return PlainTextResponse("pong")

    async def get_api(request: Request) -> Response:
        return Response(api, media_type=JSON)

    return [
        Route("/", get_system, methods=["GET"]),
        Route("/ping", ping, methods=["GET"]),
        Route("/api/v1", get_api, methods=["GET"]),
    ]
