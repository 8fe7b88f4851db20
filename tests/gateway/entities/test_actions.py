from __future__ import annotations

import base64

import msgspec
import pytest

from gateway.config import LimitsConfig
from gateway.entities.actions import (
    create_action,
    is_base64_archive,
    resolve_kind,
    summarize_action,
    update_action,
    without_code,
)
from gateway.wire.errors import ApiError
from gateway.wire.models import ActionPut, Runtime

BOUNDS = LimitsConfig()
CODE = "function main() { return {} }"


def put(**fields) -> ActionPut:
    return msgspec.convert(fields, ActionPut)


def create(**fields):
    fields.setdefault("exec", {"kind": "nodejs:default", "code": CODE})
    return create_action(put(**fields), "guest", "hello", bounds=BOUNDS, now_ms=1000)


def update(old, **fields):
    return update_action(old, put(**fields), bounds=BOUNDS, now_ms=2000)


def rejection(call, *args, **kwargs) -> tuple[int, str]:
    with pytest.raises(ApiError) as caught:
        call(*args, **kwargs)
    return caught.value.status, caught.value.message


def annotations(action) -> dict:
    return {item.key: item.value for item in action.annotations}


# kinds and code


def test_default_kind_resolves_to_the_default_version():
    assert resolve_kind("nodejs:default") == "nodejs:24"
    assert resolve_kind(" NodeJS:20 ") == "nodejs:20"


def test_unknown_kind_lists_the_valid_ones():
    runtimes = {k: Runtime(kind=k, image="i", default=k == "nodejs:22") for k in ("nodejs:20", "nodejs:22")}
    assert resolve_kind("nodejs:default", runtimes) == "nodejs:22"
    assert rejection(resolve_kind, "python:default", runtimes) == (
        400, "The specified runtime 'python:default' is not supported by this platform. "
        "Valid values are: 'nodejs:20', 'nodejs:22'.",
    )


def test_sequence_components_are_stored_fully_qualified_and_become_its_actions_parameter():
    action = create(exec={"kind": "sequence", "components": ["/_/a", "/whisk.system/utils/echo", "b"]},
                    parameters=[{"key": "ignored", "value": 1}])
    components = ["/guest/a", "/whisk.system/utils/echo", "/guest/b"]
    assert msgspec.to_builtins(action.exec) == {"kind": "sequence", "components": components}
    assert msgspec.to_builtins(action.parameters) == [{"key": "_actions", "value": components}]
    assert annotations(action)["exec"] == "sequence"


def test_sequence_without_components_is_rejected():
    assert rejection(create, exec={"kind": "sequence", "components": []}) == (
        400, "No component specified for the sequence.",
    )


def test_updating_a_sequence_keeps_its_actions_parameter():
    old = create(exec={"kind": "sequence", "components": ["/guest/a"]})
    new = update(old, parameters=[{"key": "x", "value": 1}])
    assert msgspec.to_builtins(new.parameters) == [{"key": "_actions", "value": ["/guest/a"]}]


def test_binary_is_inferred_from_base64_looking_code():
    assert is_base64_archive(base64.b64encode(b"PK\x03\x04zip").decode())
    assert is_base64_archive("  QUJD \n".strip())
    assert not is_base64_archive(CODE)
    assert not is_base64_archive("")
    assert not is_base64_archive("QUJ")  # not a multiple of 4


def test_client_binary_flag_is_ignored_for_string_code():
    action = create(exec={"kind": "nodejs:20", "code": CODE, "binary": True})
    assert action.exec.binary is False


def test_exec_without_code_is_malformed():
    status, message = rejection(create, exec={"kind": "nodejs:20"})
    assert status == 400
    assert message.startswith("The request content was malformed:\n'code' must be a string")


# create


def test_create_without_exec_is_400_exec_undefined():
    assert rejection(create_action, put(), "guest", "a", bounds=BOUNDS, now_ms=0) == (400, "exec undefined")


def test_create_fills_defaults_and_adds_server_annotations_after_the_users():
    action = create(annotations=[{"key": "web-export", "value": True}, {"key": "exec", "value": "python:3"}])
    assert (action.namespace, action.name, action.version, action.publish, action.updated) == (
        "guest", "hello", "0.0.1", False, 1000,
    )
    assert [(a.key, a.value) for a in action.annotations] == [
        ("web-export", True), ("exec", "nodejs:24"), ("provide-api-key", False),
    ]
    assert msgspec.structs.asdict(action.limits) == {"timeout": 60000, "memory": 256, "logs": 10, "concurrency": 1}


def test_create_keeps_a_users_provide_api_key():
    action = create(annotations=[{"key": "provide-api-key", "value": True}])
    assert annotations(action)["provide-api-key"] is True


def test_repeated_parameter_keys_keep_the_last_value():
    action = create(parameters=[{"key": "a", "value": 1}, {"key": "b", "value": 2}, {"key": "a", "value": 3}])
    assert [(p.key, p.value) for p in action.parameters] == [("a", 3), ("b", 2)]


def test_given_version_is_normalised_to_three_numbers():
    assert create(version="1.2").version == "1.2.0"
    status, message = rejection(create, version="one")
    assert status == 400 and "version 'one'" in message


# limits


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        ({"timeout": 99}, "duration 99 milliseconds below allowed threshold of 100 milliseconds"),
        ({"timeout": 300001}, "duration 300001 milliseconds exceeds allowed threshold of 300000 milliseconds"),
        ({"memory": 64}, "memory 64 MB below allowed threshold of 128 MB"),
        ({"memory": 1024}, "memory 1024 MB exceeds allowed threshold of 512 MB"),
        ({"logs": -1}, "log -1 MB below allowed threshold of 0 MB"),
        ({"logs": 11}, "log 11 MB exceeds allowed threshold of 10 MB"),
        ({"concurrency": 2}, "concurrency 2 exceeds allowed threshold of 1"),
    ],
)
def test_limits_out_of_range_are_400_with_openwhisk_messages(limits, message):
    assert rejection(create, limits=limits) == (400, message)


def test_limits_that_are_not_integers_are_malformed():
    status, message = rejection(create, limits={"memory": "lots"})
    assert status == 400 and message.startswith("The request content was malformed:")


def test_limits_range_comes_from_the_configuration():
    bounds = LimitsConfig(memory_max_mb=4096)
    action = create_action(
        put(exec={"kind": "nodejs:20", "code": CODE}, limits={"memory": 2048}), "guest", "a", bounds=bounds, now_ms=0
    )
    assert action.limits.memory == 2048


# sizes


def test_oversized_annotations_and_code_are_413():
    bounds = LimitsConfig(parameters_max_bytes=20)
    big_annotation = put(exec={"kind": "nodejs:20", "code": "x"}, annotations=[{"key": "k", "value": "v" * 30}])
    status, message = rejection(create_action, big_annotation, "guest", "a", bounds=bounds, now_ms=0)
    assert status == 413 and message.startswith("annotations larger than allowed: ")
    bounds = LimitsConfig(code_max_bytes=10)
    big_code = put(exec={"kind": "nodejs:20", "code": CODE})
    assert rejection(create_action, big_code, "guest", "a", bounds=bounds, now_ms=0) == (
        413, f"exec larger than allowed: {len(CODE)} > 10 bytes.",
    )


# update


def test_update_keeps_what_is_not_given_and_bumps_the_patch_version():
    old = create(parameters=[{"key": "a", "value": 1}], publish=True, limits={"memory": 128})
    new = update(old)
    assert (new.exec, new.parameters, new.publish, new.limits) == (old.exec, old.parameters, True, old.limits)
    assert (new.version, new.updated) == ("0.0.2", 2000)


def test_update_replaces_exec_and_parameters_and_takes_a_given_version():
    old = create(parameters=[{"key": "a", "value": 1}])
    code = base64.b64encode(b"archive!").decode()
    new = update(old, exec={"kind": "nodejs:default", "code": code}, parameters=[{"key": "b", "value": 2}],
                 version="2.0.0", publish=True)
    assert (new.exec.code, new.exec.binary) == (code, True)
    assert [(p.key, p.value) for p in new.parameters] == [("b", 2)]
    assert (new.version, new.publish) == ("2.0.0", True)


def test_update_merges_annotations_after_removing_del_annotations():
    old = create(annotations=[{"key": "a", "value": 1}, {"key": "b", "value": 2}])
    new = update(old, annotations=[{"key": "b", "value": 3}, {"key": "c", "value": 4}],
                 delAnnotations=["a", "provide-api-key"])
    assert [(a.key, a.value) for a in new.annotations] == [("b", 3), ("exec", "nodejs:24"), ("c", 4)]


def test_update_merges_limits_per_field():
    old = create(limits={"timeout": 1000, "memory": 128})
    new = update(old, limits={"logs": 5})
    assert msgspec.structs.asdict(new.limits) == {"timeout": 1000, "memory": 128, "logs": 5, "concurrency": 1}


# views


def test_summary_and_code_less_views_drop_code_and_kind():
    action = create()
    summary = msgspec.to_builtins(summarize_action(action))
    assert summary["exec"] == {"binary": False}
    assert "parameters" not in summary
    assert msgspec.to_builtins(without_code(action).exec) == {"kind": "nodejs:24", "binary": False}


def test_an_update_merges_annotations_in_place_and_appends_new_ones_after_deletions():
    old = create(annotations=[{"key": "a", "value": 1}, {"key": "b", "value": 2}, {"key": "c", "value": 3}])
    new = update(old, annotations=[{"key": "d", "value": 4}, {"key": "b", "value": 20}, {"key": "d", "value": 40}],
                 delAnnotations=["a"])
    assert [(item.key, item.value) for item in new.annotations] == [
        ("b", 20), ("c", 3), ("exec", "nodejs:24"), ("provide-api-key", False), ("d", 40),
    ]


def test_a_put_over_the_size_limits_is_413_before_the_stored_action_is_merged():
    old = create(annotations=[{"key": f"k{index}", "value": 1} for index in range(10)])
    bounds = LimitsConfig(parameters_max_bytes=100)
    too_many = put(annotations=[{"key": f"n{index}", "value": 1} for index in range(100)])
    status, message = rejection(update_action, old, too_many, bounds=bounds, now_ms=0)
    assert status == 413 and message.startswith("annotations larger than allowed: ")
