"""`/namespaces`: the caller's namespace, and its effective limits."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.config import LimitsConfig
from gateway.entities.auth import Authenticator, authorize, resolve_namespace
from gateway.entities.namespaces import namespace_egress
from gateway.invoke.admission import namespace_limit
from gateway.wire.codec import json_response
from gateway.wire.models import EffectiveLimits, Identity


def effective_limits(identity: Identity, bounds: LimitsConfig) -> EffectiveLimits:
    """The system limits with the namespace's own overrides applied."""
    overrides = identity.limits
    concurrent = namespace_limit(overrides.concurrentInvocations, bounds.concurrent_invocations)
    return EffectiveLimits(
        invocationsPerMinute=namespace_limit(overrides.invocationsPerMinute, bounds.invocations_per_minute),
        concurrentInvocations=concurrent,
        firesPerMinute=namespace_limit(overrides.firesPerMinute, bounds.fires_per_minute),
        minActionMemory=bounds.memory_min_mb,
        maxActionMemory=bounds.memory_max_mb,
        minActionLogs=bounds.logs_min_mb,
        maxActionLogs=bounds.logs_max_mb,
        minActionTimeout=bounds.timeout_min_ms,
        maxActionTimeout=bounds.timeout_max_ms,
        minActionConcurrency=bounds.concurrency_min,
        maxActionConcurrency=bounds.concurrency_max,
        maxParameterSize=f"{bounds.parameters_max_bytes} B",
        maxActionInstances=concurrent,
        egress=namespace_egress(overrides, bounds.egress),
    )


def routes(bounds: LimitsConfig, authenticate: Authenticator) -> list[Route]:
    async def list_namespaces(request: Request) -> Response:
        identity = await authenticate(request)
        return json_response([identity.namespace])

    async def get_limits(request: Request) -> Response:
        identity = await authenticate(request)
        namespace = resolve_namespace(identity, request.path_params["ns"])
        authorize(identity, namespace, namespace)
        return json_response(effective_limits(identity, bounds))

    return [
        Route("/api/v1/namespaces", list_namespaces, methods=["GET"]),
        Route("/api/v1/namespaces/{ns}/limits", get_limits, methods=["GET"]),
    ]
