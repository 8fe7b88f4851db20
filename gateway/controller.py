"""Invocation: parameters merged, activation id allocated, the pool run, the record built and stored.

No Starlette here: handlers in `gateway/api/` call `Controller` and turn its answers into responses.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

import msgspec

from gateway import errors
from gateway.config import LimitsConfig
from gateway.models import Action, ActivationRecord, Identity, encoder
from gateway.records import activation_row, build_record, failed_record
from gateway.store import Store
from gateway.throttle import Throttle
from pool import Job, Pool, PoolError

log = logging.getLogger("whisklet.controller")


@dataclass(slots=True)
class Admission:
    """A namespace's permission to start one activation, holding one concurrency slot until released.

    Releasing twice is harmless; an admission that is never handed to `invoke` must be released.
    """

    namespace: str
    released: bool = False


@dataclass(frozen=True, slots=True)
class Invocation:
    """What an invoke produced: the activation id, and the record when it finished within the wait."""

    activation_id: str
    record: ActivationRecord | None


class Controller:
    """Starts activations on the pool and keeps their records.

    1. Every activation that got an id ends with a stored record, whether it ran, failed or never
       found a container (then a `whisk internal error`).
    2. An activation keeps running when its blocking caller stops waiting; `drain` awaits them all.
    """

    def __init__(
        self,
        store: Store,
        pool: Pool,
        throttle: Throttle,
        limits: LimitsConfig,
        *,
        api_host: str,
    ) -> None:
        self._store = store
        self._pool = pool
        self._throttle = throttle
        self._limits = limits
        self._api_host = api_host
        self._activations: set[asyncio.Task[tuple[ActivationRecord, PoolError | None]]] = set()

    def admit(self, identity: Identity) -> Admission:
        """Count one invocation against the namespace's per-minute and concurrent throttles.

        Raises `ApiError` 429 with OpenWhisk's texts when a throttle is exceeded.
        """
        per_minute = identity.limits.invocationsPerMinute or self._limits.invocations_per_minute
        concurrent = identity.limits.concurrentInvocations or self._limits.concurrent_invocations
        self._throttle.admit_invocation(identity.namespace, per_minute, concurrent)
        return Admission(identity.namespace)

    def release(self, admission: Admission) -> None:
        if not admission.released:
            admission.released = True
            self._throttle.release_invocation(admission.namespace)

    async def invoke(
        self,
        identity: Identity,
        action: Action,
        payload: dict[str, Any],
        *,
        admission: Admission,
        blocking: bool,
        wait_ms: int,
        cause: str | None = None,
        transaction_id: str = "",
    ) -> Invocation:
        """Start an activation of `action` with `payload` overlaid on its parameters.

        Takes ownership of `admission` (released when the activation ends). Raises `ApiError` 400 when
        `payload` overrides a parameter of a `final` action, 503 when no container can be had for a
        blocking caller. Non-blocking: returns at once with `record=None`. Blocking: waits up to
        `wait_ms`; if the activation has not ended by then, returns `record=None` and the activation
        goes on and is stored. The returned record has `logs == []`, as OpenWhisk's blocking responses
        do; the stored one has them.
        """
        try:
            arguments = merge_arguments(action, payload)
        except errors.ApiError:
            self.release(admission)
            raise
        activation_id = uuid.uuid4().hex
        job = self._job(identity, action, arguments, activation_id, transaction_id)
        task = asyncio.create_task(self._activate(identity, action, job, admission, cause, _now_ms()))
        self._activations.add(task)
        task.add_done_callback(self._activations.discard)
        if not blocking:
            return Invocation(activation_id, None)
        try:
            async with asyncio.timeout(wait_ms / 1000):
                record, no_container = await asyncio.shield(task)
        except TimeoutError:
            return Invocation(activation_id, None)
        if no_container is not None:
            raise errors.ApiError(503, str(no_container))
        return Invocation(activation_id, msgspec.structs.replace(record, logs=[]))

    async def drain(self) -> None:
        """Wait for every activation in flight to end and be stored."""
        while self._activations:
            await asyncio.gather(*list(self._activations), return_exceptions=True)

    async def _activate(
        self,
        identity: Identity,
        action: Action,
        job: Job,
        admission: Admission,
        cause: str | None,
        received_ms: int,
    ) -> tuple[ActivationRecord, PoolError | None]:
        """Run the job and store its record; also return the pool's error if it never ran."""
        no_container: PoolError | None = None
        try:
            try:
                outcome = await self._pool.run(job)
            except PoolError as error:
                log.warning("activation %s got no container: %s", job.activation_id, error)
                no_container = error
                record = failed_record(
                    identity, action, job.activation_id, str(error),
                    start_ms=received_ms, end_ms=_now_ms(), cause=cause,
                )
            else:
                wait_ms = max(outcome.wait_ms, outcome.start_ms - received_ms)
                record = build_record(identity, action, job.activation_id, outcome, wait_ms=wait_ms, cause=cause)
            self._store.put_activation(activation_row(record, action.namespace))
            return record, no_container
        finally:
            self.release(admission)

    def _job(
        self, identity: Identity, action: Action, arguments: dict[str, Any], activation_id: str, transaction_id: str
    ) -> Job:
        init_keys = {p.key for p in action.parameters if p.init}
        env = {key: _env_text(arguments.pop(key)) for key in init_keys if key in arguments}
        context = {
            "namespace": identity.namespace,
            "action_name": f"/{action.fully_qualified_name}",
            "action_version": action.version,
            "activation_id": activation_id,
            "transaction_id": transaction_id or activation_id,
        }
        if _truthy(action.annotation("provide-api-key", True)):
            context["api_key"] = identity.authkey
        deadline = str(_now_ms() + action.limits.timeout)
        env.update({f"__OW_{key.upper()}": value for key, value in context.items()})
        env["__OW_DEADLINE"] = deadline
        env["__OW_API_HOST"] = self._api_host
        return Job(
            activation_id=activation_id,
            action_name=action.name,
            code=action.exec.code or "",
            main=action.exec.main or "main",
            binary=bool(action.exec.binary),
            memory_mb=action.limits.memory,
            timeout_ms=action.limits.timeout,
            log_limit_bytes=action.limits.logs * 1024 * 1024,
            result_limit_bytes=self._limits.result_max_bytes,
            run_value=encoder.encode(arguments),
            env=env,
            run_context=context,
        )


def merge_arguments(action: Action, payload: dict[str, Any]) -> dict[str, Any]:
    """The action's parameters overlaid with `payload`; a `final` action refuses overrides of set values."""
    if payload and _truthy(action.annotation("final", False)):
        defined = {p.key for p in action.parameters if p.value is not None}
        if defined & payload.keys():
            raise errors.ApiError(400, errors.RESERVED_PARAMETERS)
    arguments = {p.key: p.value for p in action.parameters}
    arguments.update(payload)
    return arguments


def _env_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return encoder.encode(value).decode()


def _truthy(value: Any) -> bool:
    return value is not False and value is not None and value != "false"


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
