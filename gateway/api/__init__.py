"""The REST API's routes, one module per collection."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.routing import BaseRoute

from gateway.api import actions, activations, info, namespaces, packages, rules, triggers, web
from gateway.clock import Clock
from gateway.config import Config
from gateway.entities.auth import Authenticator
from gateway.invoke.controller import Controller
from gateway.routes.actions import management_routes
from gateway.routes.management import RouteManagement
from gateway.routes.serving import serving_routes
from gateway.routes.table import CompiledApis
from gateway.store import Store
from gateway.wire.models import Runtime


def routes(
    config: Config, store: Store, controller: Controller, runtimes: Mapping[str, Runtime], clock: Clock
) -> list[BaseRoute]:
    authenticate = Authenticator(store)
    web_routes, web_entry = web.routes(config, store, controller, authenticate)
    compiled_apis = CompiledApis()
    management = RouteManagement(store, compiled_apis, clock.wall_ms)
    return [
        *info.routes(config, runtimes),
        *namespaces.routes(config.limits, authenticate),
        *actions.routes(config, store, controller, authenticate, runtimes, clock),
        *activations.routes(store, authenticate),
        *packages.routes(config.limits, store, authenticate, clock),
        *triggers.routes(config.limits, store, controller, authenticate, clock),
        *rules.routes(store, authenticate, clock),
        *management_routes(management, authenticate, config.limits.payload_max_bytes, config.server.api_host),
        *web_routes,
        *serving_routes(store, compiled_apis, web_entry),  # last: `/api/{namespace}/...` after `/api/v1/...`
    ]
