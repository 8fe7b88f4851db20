"""An app on a real SqliteStore with two namespaces, and a FakeController that records its calls."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.app import Services, build_app
from gateway.config import Config
from gateway.invoke.admission import Admission
from gateway.invoke.controller import Controller, Invocation
from gateway.invoke.observer import GatewayObserver
from gateway.store import SqliteStore
from gateway.wire.errors import ApiError
from gateway.wire.models import Action, Identity

GUEST = ("23bc46b1-71f6-4ed5-8c54-816aa4f8c502", "123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP")
OTHER = ("6b3e8a1c-0d2f-4c55-9a7e-2f1d3c4b5a69", "x" * 64)


class FakeController(Controller):
    """Admits unless `throttle` is set; `invoke` records its call and returns `outcome` (or raises it).

    `fires` counts admitted trigger fires (refused too while `throttle` is set).
    """

    def __init__(self, store: SqliteStore | None = None) -> None:
        self._store = store
        self._observer = GatewayObserver()
        self.throttle: ApiError | None = None
        self.fires = 0
        self.outcome: Invocation | Exception = Invocation("0" * 32, None)
        self.admitted: list[Admission] = []
        self.released: list[Admission] = []
        self.calls: list[dict[str, Any]] = []

    def admit(self, identity: Identity) -> Admission:
        if self.throttle is not None:
            raise self.throttle
        admission = Admission(identity.namespace, lambda _: self.released.append(admission))
        self.admitted.append(admission)
        return admission

    def admit_fire(self, identity: Identity) -> None:
        if self.throttle is not None:
            raise self.throttle
        self.fires += 1

    async def invoke(self, identity: Identity, action: Action, payload: dict[str, Any], **options: Any) -> Invocation:  # type: ignore[override]
        self.calls.append({"identity": identity, "action": action, "payload": payload, **options})
        if isinstance(self.outcome, Exception):
            raise self.outcome
        options["admission"].pass_to(asyncio.get_running_loop().create_future())  # an activation that never ends
        return self.outcome


@pytest.fixture
async def store(tmp_path: Path):
    store = SqliteStore(tmp_path / "whisklet.db", flush_interval_s=60)
    await store.open()
    await store.create_subject("guest", *GUEST)
    await store.create_subject("other", *OTHER, limits=b'{"invocationsPerMinute":600}')
    yield store
    await store.close()


@pytest.fixture
def controller(store: SqliteStore) -> FakeController:
    return FakeController(store)


@pytest.fixture
def config() -> Config:
    return Config()


@pytest.fixture
async def client(store: SqliteStore, controller: FakeController, config: Config):
    app = build_app(Services(config=config, store=store, controller=controller))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://whisklet", auth=GUEST) as client:
        yield client


@pytest.fixture
def other_auth() -> tuple[str, str]:
    """Credentials of the second namespace, `other`."""
    return OTHER


@pytest.fixture
def guest_auth() -> tuple[str, str]:
    """Credentials of the namespace `guest`, the `client`'s default."""
    return GUEST
