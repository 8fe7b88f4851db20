"""The REST API's routes, one module per collection."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.routing import BaseRoute

from gateway.api import actions, activations, info, namespaces, packages, rules, triggers, web
from gateway.clock import Clock
from gateway.entities.auth import Authenticator
from gateway.config import Config
from gateway.invoke.controller import Controller
from gateway.wire.models import Runtime
from gateway.store import Store


def routes(
    config: Config, store: Store, controller: Controller, runtimes: Mapping[str, Runtime], clock: Clock
) -> list[BaseRoute]:
    authenticate = Authenticator(store)
    return [
        *info.routes(config, runtimes),
        *namespaces.routes(config.limits, authenticate),
        *actions.routes(config, store, controller, authenticate, runtimes, clock),
        *activations.routes(store, authenticate),
        *packages.routes(config.limits, store, authenticate, clock),
        *triggers.routes(config.limits, store, controller, authenticate, clock),
        *rules.routes(store, authenticate, clock),
        *web.routes(config, store, controller, authenticate),
    ]
