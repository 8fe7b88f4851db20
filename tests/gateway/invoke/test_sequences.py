"""Sequences run by the controller on a real pool (fake sandboxes echo their input) and a real store.

Fake runners answer `{"echo": <input>, "deadline": ...}`; builtin actions stand in for components that
fail or return arrays.
"""

from __future__ import annotations

import msgspec
import pytest

from gateway.config import LimitsConfig
from gateway.invoke.admission import MinuteCounter, Throttle
from gateway.invoke.controller import Controller
from gateway.store import EntityKind, SqliteStore
from gateway.wire.models import Action, ActionLimits, Exec, Identity, KeyValue, NamespaceLimits, encoder, record_decoder
from pool import ActivationStatus, Pool, PoolConfig
from tests.pool.fake_driver import FakeDriver

GUEST = Identity("guest", "guest", "uuid", "uuid:key", NamespaceLimits())


async def failing(identity, arguments):
    return ActivationStatus.APPLICATION_ERROR, {"error": "nope"}


async def listing(identity, arguments):
    return ActivationStatus.SUCCESS, [1, 2]


def action(name: str, memory_mb: int = 256, **exec_fields) -> Action:
    exec_ = Exec(**{"kind": "nodejs:20", "code": "function main(){}", **exec_fields})
    parameters = [KeyValue("_actions", exec_.components)] if exec_.kind == "sequence" else [KeyValue("own", name)]
    return Action(namespace="guest", name=name, version="0.0.1", publish=False, exec=exec_,
                  parameters=parameters, annotations=[], limits=ActionLimits(timeout=5000, memory=memory_mb), updated=0)


def sequence(name: str, *components: str) -> Action:
    return action(name, kind="sequence", components=[f"/guest/{c}" for c in components], code=msgspec.UNSET)


@pytest.fixture
async def setup(tmp_path):
    driver = FakeDriver(tmp_path / "run")
    store = SqliteStore(tmp_path / "db.sqlite")
    await store.open()
    pool = Pool(driver, PoolConfig(min_prewarm=1, queue_timeout_s=5.0), default_memory_mb=256)
    await pool.start()
    controller = Controller(store, pool, Throttle(MinuteCounter(lambda: 0), MinuteCounter(lambda: 0)),
                            LimitsConfig(sequence_max_length=4), api_host="http://127.0.0.1:3233",
                            builtins={"guest/fail": failing, "guest/list": listing})
    for a in (action("a1", 128), action("a2", 512), action("a3"), action("fail"), action("list"),
              sequence("s", "a1", "a2", "a3"), sequence("broken", "a1", "fail", "a3"),
              sequence("outer", "a1", "s"), sequence("dangling", "a1", "ghost"),
              sequence("long", "a1", "a2", "a3", "a1", "a2"), sequence("arrays", "list", "a1")):
        await store.put_entity(EntityKind.ACTION, "guest", a.name, encoder.encode(a), 0, None)
    yield controller, store
    await controller.drain()
    await pool.stop(grace_s=1)
    await store.close()


async def invoke(controller, store, name, payload):
    entity = await store.get_entity("guest", name)
    seq = msgspec.json.decode(entity.doc, type=Action)
    invocation = await controller.invoke(GUEST, seq, payload, admission=controller.admit(GUEST), blocking=True, wait_ms=10000)
    assert invocation.record is not None
    return invocation.record


async def stored(store, activation_id):
    return record_decoder.decode((await store.get_activation("guest", activation_id)).doc)


def annotations(record) -> dict:
    return {a.key: a.value for a in record.annotations}


def result(record):
    return msgspec.json.decode(msgspec.json.encode(record.response.result))


async def test_components_run_in_order_each_getting_the_previous_result(setup):
    controller, store = setup
    record = await invoke(controller, store, "s", {"n": 1})
    assert record.response.status == "success"
    out = result(record)
    assert out["echo"]["own"] == "a3"
    assert out["echo"]["echo"]["own"] == "a2"
    assert out["echo"]["echo"]["echo"] == {"own": "a1", "n": 1}
    assert len(record.logs) == 3


async def test_sequence_record_sums_durations_and_takes_the_largest_memory(setup):
    controller, store = setup
    record = await invoke(controller, store, "s", {})
    components = [await stored(store, activation_id) for activation_id in record.logs]
    assert [c.name for c in components] == ["a1", "a2", "a3"]
    assert record.duration == sum(c.duration for c in components)
    marks = annotations(record)
    assert (marks["topmost"], marks["kind"], marks["path"]) == (True, "sequence", "guest/s")
    assert marks["limits"]["memory"] == 512
    assert record.cause is msgspec.UNSET
    for component in components:
        assert component.cause == record.activationId
        assert annotations(component)["causedBy"] == "sequence"
    assert (await stored(store, record.activationId)).logs == record.logs


async def test_a_failing_component_ends_the_sequence_with_its_response(setup):
    controller, store = setup
    record = await invoke(controller, store, "broken", {})
    assert (record.response.status, result(record)) == ("application error", {"error": "nope"})
    assert [(await stored(store, i)).name for i in record.logs] == ["a1", "fail"]


async def test_nested_sequence_is_a_component_whose_own_components_point_at_it(setup):
    controller, store = setup
    record = await invoke(controller, store, "outer", {})
    first, nested_id = record.logs
    nested = await stored(store, nested_id)
    assert nested.cause == record.activationId
    assert (annotations(nested)["topmost"], annotations(nested)["causedBy"]) == (False, "sequence")
    assert len(nested.logs) == 3
    assert [(await stored(store, i)).cause for i in nested.logs] == [nested_id] * 3
    assert record.duration == (await stored(store, first)).duration + nested.duration


async def test_missing_component_at_run_time_is_an_application_error_and_runs_nothing(setup):
    controller, store = setup
    record = await invoke(controller, store, "dangling", {})
    assert (record.response.status, result(record)) == ("application error", {"error": "Sequence component does not exist."})
    assert record.logs == []


async def test_more_atomic_actions_than_the_limit_stops_with_an_application_error(setup):
    controller, store = setup
    record = await invoke(controller, store, "long", {})
    assert (record.response.status, result(record)) == ("application error", {"error": "Too many actions in the sequence."})
    assert len(record.logs) == 4


async def test_an_array_result_is_passed_on_as_is(setup):
    controller, store = setup
    record = await invoke(controller, store, "arrays", {})
    assert result(record)["echo"] == [1, 2]


async def test_non_blocking_sequence_answers_at_once_and_its_record_follows(setup):
    controller, store = setup
    entity = await store.get_entity("guest", "s")
    seq = msgspec.json.decode(entity.doc, type=Action)
    invocation = await controller.invoke(GUEST, seq, {}, admission=controller.admit(GUEST), blocking=False, wait_ms=0)
    assert invocation.record is None
    await controller.drain()
    assert len((await stored(store, invocation.activation_id)).logs) == 3
