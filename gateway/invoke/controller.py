"""Invocation: parameters merged, activation id allocated, the pool run, the record built and stored.

No Starlette here: handlers in `gateway/api/` call `Controller` and turn its answers into responses.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import msgspec

from gateway.clock import SYSTEM_CLOCK, Clock
from gateway.config import LimitsConfig
from gateway.entities.actions import SEQUENCE
from gateway.entities.namespaces import namespace_egress
from gateway.entities.resolve import ResolvedAction
from gateway.invoke.admission import Admission, Throttle, namespace_limit
from gateway.invoke.observer import GatewayObserver
from gateway.invoke.records import INTERNAL_ERROR, Ended, activation_row, build_record, failed_record, internal_error_record
from gateway.invoke.sequences import Budget, run_sequence
from gateway.store import ActivationRow, Store, StoreError
from gateway.wire import errors
from gateway.wire.models import Action, ActivationRecord, Identity, encoder
from pool import API_HOST_IN_SANDBOX, ActivationStatus, Job, Pool, PoolError, RunResult

log = logging.getLogger("whisklet.controller")
_T = TypeVar("_T")

BuiltinAction = Callable[[Identity, dict[str, Any]], Awaitable[tuple[ActivationStatus, Any]]]
"""An action of the system catalog that the gateway runs in-process (it touches Whisklet's own state,
which a network-less container cannot): (invoking identity, arguments) -> (status, result)."""


@dataclass(frozen=True, slots=True)
class Invocation:
    """What an invoke produced: the activation id, and the ended activation when it finished within the wait."""

    activation_id: str
    ended: Ended | None
    unstored: str | None = None  # why the record is not yet durable, when it is not

    @property
    def record(self) -> ActivationRecord | None:
        return None if self.ended is None else self.ended.record


class Controller:
    """Starts activations on the pool and keeps their records.

    1. Every activation that got an id ends with a stored record, whether it ran, failed or never
       found a container (then a `whisk internal error`).
    2. An activation keeps running when its blocking caller stops waiting; `drain` awaits them all.
    3. Nothing is answered before it is durable: a non-blocking activation is journalled (committed)
       before it starts, so a 202 id survives a crash (recorded as interrupted at the next start). A
       blocking one's journal row is queued, not awaited, and built only if a flush comes first: its
       record replaces it in the one commit sent before the result (the flusher commits the journal
       row within the flush interval if the activation runs longer, and a blocking wait that runs out
       commits it before its 202). A result or 202 whose rows could not be committed carries a
       `Warning` header saying so. Writes are group-committed: concurrent activations share a
       transaction, never a batch interval.
    """

    def __init__(
        self,
        store: Store,
        pool: Pool,
        throttle: Throttle,
        limits: LimitsConfig,
        *,
        api_host: str,
        observer: GatewayObserver | None = None,
        builtins: Mapping[str, BuiltinAction] | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        """`builtins` maps fully qualified action names (`whisk.system/alarms/alarm`) to the in-process
        code that runs them instead of a container."""
        self._builtins = dict(builtins or {})
        self._store = store
        self._pool = pool
        self._throttle = throttle
        self._limits = limits
        self._api_host = api_host
        self._observer = observer or GatewayObserver()
        self._clock = clock
        self._activations: set[asyncio.Task[tuple[Ended, PoolError | None]]] = set()

    @property
    def observer(self) -> GatewayObserver:
        """Where the gateway's work is reported; trigger firing (`gateway/events/firing.py`) reports there too."""
        return self._observer

    def admit(self, identity: Identity) -> Admission:
        """Count one invocation against the namespace's per-minute and concurrent throttles; the slot
        it holds is released as `Admission` says (hold it in a `with` block and hand it to `invoke`).

        Raises `ApiError` 429 with OpenWhisk's texts when a throttle is exceeded.
        """
        per_minute = namespace_limit(identity.limits.invocationsPerMinute, self._limits.invocations_per_minute)
        concurrent = namespace_limit(identity.limits.concurrentInvocations, self._limits.concurrent_invocations)
        self._throttle.admit_invocation(identity.namespace, per_minute, concurrent)
        return Admission(identity.namespace, self._throttle.release_invocation)

    def may_fire(self, identity: Identity) -> bool:
        """Whether `admit_fire` would admit a fire now (nothing is counted)."""
        return self._throttle.may_fire(identity.namespace, self._fires_per_minute(identity))

    def admit_fire(self, identity: Identity) -> None:
        """Count one trigger fire against the namespace's `firesPerMinute`; 429 beyond it."""
        self._throttle.admit_fire(identity.namespace, self._fires_per_minute(identity))

    def _fires_per_minute(self, identity: Identity) -> int:
        return namespace_limit(identity.limits.firesPerMinute, self._limits.fires_per_minute)

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
        binding: str | None = None,
    ) -> Invocation:
        """Start an activation of `action` with `payload` overlaid on its parameters.

        `binding` is `ns/binding` when `action` was reached through a package binding
        (`ResolvedAction.binding`). A sequence gets `payload` alone and runs its components; its
        blocking record keeps its `logs` (the component activation ids).

        Takes ownership of `admission` (released when the activation ends). Raises `ApiError` 400 when
        `payload` overrides a parameter of a `final` action, 503 when the container engine is known to
        be down or (blocking) no container could be had, `StoreError` when a non-blocking
        activation cannot be journalled (then it does not run). Non-blocking: returns at once with
        `record=None`. Blocking: waits up to
        `wait_ms`; if the activation has not ended by then, returns `record=None` and the activation
        goes on and is stored. The returned record has `logs == []`, as OpenWhisk's blocking responses
        do; the stored one has them.
        """
        with admission:  # released here if the activation never starts, else by its task when it ends
            arguments = merge_arguments(action, payload)
            if action.exec.kind != SEQUENCE and action.fully_qualified_name not in self._builtins:
                egress = namespace_egress(identity.limits, self._limits.egress)
                unavailable = self._pool.unavailable_reason(action.limits.memory, action.exec.kind, egress)
                if unavailable is not None:
                    raise errors.ApiError(503, unavailable)  # fail fast: nothing could run it
            if action.exec.kind == SEQUENCE:
                arguments = payload
            activation_id = uuid.uuid4().hex
            received_ms = self._clock.wall_ms()
            journal = functools.partial(self._journal_row, identity, action, activation_id, received_ms, cause, binding)
            if blocking:  # built and committed only if a flush comes before its record (or its wait runs out)
                self._store.journal(activation_id, journal)
            else:  # the 202's id must survive a crash before the activation starts
                await self._store.accept(journal())
            run = self.run(
                identity, action, arguments, activation_id,
                received_ms=received_ms, cause=cause, binding=binding, transaction_id=transaction_id,
            )
            done = asyncio.Event()
            task = asyncio.create_task(_ending(run, done) if blocking else run)
            admission.pass_to(task)
        self._activations.add(task)
        task.add_done_callback(self._activations.discard)
        if not blocking:
            return Invocation(activation_id, None)
        if not await self._clock.wait(done, wait_ms / 1000):  # the activation goes on; its record follows
            return Invocation(activation_id, None, await self._unstored())
        ended, no_container = task.result()
        if no_container is not None:
            raise errors.ApiError(503, str(no_container))
        unstored = await self._unstored()
        if action.exec.kind == SEQUENCE:
            return Invocation(activation_id, ended, unstored)
        return Invocation(activation_id, replace(ended, record=msgspec.structs.replace(ended.record, logs=[])), unstored)

    def _journal_row(
        self, identity: Identity, action: Action, activation_id: str, received_ms: int,
        cause: str | None, binding: str | None,
    ) -> ActivationRow:
        """The record the activation keeps should Whisklet die before it ends."""
        interrupted = failed_record(
            identity, action, activation_id, errors.ACTIVATION_INTERRUPTED,
            start_ms=received_ms, end_ms=received_ms, cause=cause, binding=binding,
        )
        return activation_row(interrupted.record, binding or action.namespace)

    async def _unstored(self) -> str | None:
        """Commit everything put so far (one group commit); why it is not durable, when it is not
        (the rows stay pending and are retried; the caller says so in a `Warning`)."""
        try:
            await self._store.flush()
        except StoreError as error:
            return str(error)
        return None

    async def drain(self) -> None:
        """Wait for every activation in flight to end and be stored."""
        while self._activations:
            await asyncio.gather(*list(self._activations), return_exceptions=True)

    async def run(
        self,
        identity: Identity,
        action: Action,
        arguments: Any,
        activation_id: str,
        *,
        received_ms: int,
        cause: str | None = None,
        binding: str | None = None,
        transaction_id: str = "",
        budget: Budget | None = None,
    ) -> tuple[Ended, PoolError | None]:
        """Run one activation of `action` with its final `arguments` and store its record; no throttle.

        Returns the record and, when no container could be had, the pool's error. A sequence runs its
        components through here (each in its own container, each with a record of its own); a builtin
        action runs in-process.
        """
        record_path = binding or action.namespace
        if action.exec.kind == SEQUENCE:
            budget = budget or Budget(self._limits.sequence_max_length, self._limits.sequence_max_length)

            async def component(resolved: ResolvedAction, value: Any, sequence_id: str, left: Budget) -> Ended:
                if isinstance(value, dict) and resolved.action.exec.kind != SEQUENCE:
                    value = {p.key: p.value for p in resolved.action.parameters} | value
                record, _ = await self.run(
                    identity, resolved.action, value, uuid.uuid4().hex, received_ms=self._clock.wall_ms(),
                    cause=sequence_id, binding=resolved.binding, transaction_id=transaction_id, budget=left,
                )
                return record

            record = await run_sequence(
                self._store, identity, action, arguments, activation_id,
                run_component=component, budget=budget, clock=self._clock, received_ms=received_ms, cause=cause, binding=binding,
            )
            return self._stored(record, record_path), None
        builtin = self._builtins.get(action.fully_qualified_name)
        if builtin is not None:
            outcome = await _run_builtin(builtin, identity, arguments, received_ms, self._clock)
            record = build_record(
                identity, action, activation_id, outcome, wait_ms=outcome.wait_ms, cause=cause, binding=binding
            )
            return self._stored(record, record_path), None
        job = self._job(identity, action, arguments, activation_id, transaction_id)
        return await self._activate(identity, action, job, cause, binding, received_ms)

    def _stored(self, ended: Ended, record_path: str) -> Ended:
        try:
            row = activation_row(ended.record, record_path)
        except Exception:  # an outcome that cannot be encoded still ends with a record
            log.exception(
                "activation %s: its record could not be encoded; storing an internal error", ended.record.activationId
            )
            ended = internal_error_record(ended)
            row = activation_row(ended.record, record_path)
        self._store.put_activation(row)
        self._observer.activation_ended(ended)
        return ended

    async def _activate(
        self,
        identity: Identity,
        action: Action,
        job: Job,
        cause: str | None,
        binding: str | None,
        received_ms: int,
    ) -> tuple[Ended, PoolError | None]:
        """Run the job and store its record; also return the pool's error if it never ran."""
        no_container: PoolError | None = None
        try:
            outcome = await self._pool.run(job)
            wait_ms = max(outcome.wait_ms, outcome.start_ms - received_ms)
            record = build_record(
                identity, action, job.activation_id, outcome, wait_ms=wait_ms, cause=cause, binding=binding
            )
        except PoolError as error:
            log.warning("activation %s got no container: %s", job.activation_id, error)
            no_container = error
            record = failed_record(
                identity, action, job.activation_id, str(error),
                start_ms=received_ms, end_ms=self._clock.wall_ms(), cause=cause, binding=binding,
            )
        except Exception:  # a bug, never the tenant's doing: the activation still gets a record, never a 500
            log.exception("activation %s failed inside Whisklet; storing an internal error", job.activation_id)
            record = failed_record(
                identity, action, job.activation_id, INTERNAL_ERROR,
                start_ms=received_ms, end_ms=self._clock.wall_ms(), cause=cause, binding=binding,
            )
        return self._stored(record, binding or action.namespace), no_container

    def _job(
        self, identity: Identity, action: Action, arguments: dict[str, Any], activation_id: str, transaction_id: str
    ) -> Job:
        init_keys = {p.key for p in action.parameters if p.init} if isinstance(arguments, dict) else set()
        env = {key: _env_text(arguments.pop(key)) for key in init_keys if key in arguments}
        context = {
            "namespace": identity.namespace,
            "action_name": f"/{action.fully_qualified_name}",
            "action_version": action.version,
            "activation_id": activation_id,
            "transaction_id": transaction_id or activation_id,
        }
        if identity.authkey and action.annotated("provide-api-key", default=True):  # no key: web, alarms
            context["api_key"] = identity.authkey
        deadline = str(self._clock.wall_ms() + action.limits.timeout)
        env.update({f"__OW_{key.upper()}": value for key, value in context.items()})
        env["__OW_DEADLINE"] = deadline
        egress = namespace_egress(identity.limits, self._limits.egress)
        # Inside the sandbox, Whisklet's API is the forwarder on its own loopback (pool/runtime/nodejs/api_proxy.js).
        env["__OW_API_HOST"] = self._api_host if egress == "none" else API_HOST_IN_SANDBOX
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
            kind=action.exec.kind,
            egress=egress,
        )


async def _ending(run: Awaitable[_T], done: asyncio.Event) -> _T:
    """`run`, setting `done` in its own last step: the blocking caller wakes on the next turn of the event
    loop, where a done callback on the task would take two (one to run the callback, one to wake it).
    By then the task is done: it ends in the same step."""
    try:
        return await run
    finally:
        done.set()


def merge_arguments(action: Action, payload: dict[str, Any]) -> dict[str, Any]:
    """The action's parameters overlaid with `payload`; a `final` action refuses overrides of set values."""
    if payload and action.annotated("final"):
        defined = {p.key for p in action.parameters if p.value is not None}
        if defined & payload.keys():
            raise errors.ApiError(400, errors.RESERVED_PARAMETERS)
    arguments = {p.key: p.value for p in action.parameters}
    arguments.update(payload)
    return arguments


async def _run_builtin(
    builtin: BuiltinAction, identity: Identity, arguments: Any, received_ms: int, clock: Clock
) -> RunResult:
    start_ms = clock.wall_ms()
    try:
        status, result = await builtin(identity, arguments if isinstance(arguments, dict) else {})
    except Exception:
        log.exception("builtin action failed")
        status, result = ActivationStatus.INTERNAL_ERROR, {"error": errors.BUILTIN_FAILED}
    body = encoder.encode(result)
    end_ms = clock.wall_ms()
    return RunResult(
        status=status, result=body, size=len(body), start_ms=start_ms, end_ms=end_ms, init_ms=0,
        wait_ms=max(start_ms - received_ms, 0), cold_start=False, timed_out=False, logs=[],
    )


def _env_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return encoder.encode(value).decode()
