"""The ASGI application: every route behind the request envelope, built from explicit services."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.types import Lifespan

from gateway.api import logforwarding, routes
from gateway.clock import SYSTEM_CLOCK, Clock
from gateway.config import Config
from gateway.console import routes as console_routes
from gateway.console.files import shipped_console_files
from gateway.edge.envelope import RequestEnvelope, on_http_exception
from gateway.edge.metrics import Metrics, RequestMetrics, metrics_route
from gateway.entities.actions import RUNTIMES
from gateway.entities.auth import Authenticator
from gateway.invoke.controller import Controller
from gateway.logfwd.forwarder import LogForwarder
from gateway.store import Store
from gateway.wire.models import Runtime


@dataclass
class Services:
    """Everything the routes use, created and closed by the lifespan."""

    config: Config
    store: Store
    controller: Controller
    runtimes: Mapping[str, Runtime] = field(default_factory=lambda: RUNTIMES)
    metrics: Metrics = field(default_factory=Metrics)
    clock: Clock = SYSTEM_CLOCK
    log_forwarder: LogForwarder | None = None  # None: no `/runtime/.../logForwarding` routes


def build_app(services: Services, lifespan: Lifespan[Starlette] | None = None) -> Starlette:
    app = Starlette(
        routes=routes(services.config, services.store, services.controller, services.runtimes, services.clock),
        middleware=[Middleware(RequestMetrics, metrics=services.metrics), Middleware(RequestEnvelope)],
        exception_handlers={HTTPException: on_http_exception},
        lifespan=lifespan,
    )
    app.router.routes.append(metrics_route(services.metrics))
    app.router.routes.extend(console_routes.routes(shipped_console_files()))  # read once, before serving
    if services.log_forwarder is not None:
        app.router.routes.extend(logforwarding.routes(services.log_forwarder, Authenticator(services.store)))
    app.router.redirect_slashes = False  # `/actions/{pkg}/` is a route of its own
    return app
