"""Invoking actions end to end: a real gateway, real containers, every outcome."""

import time

from tests.integration.actions import NS, activation, annotations, invoke, put_action, unique

HELLO = "function main(params) { return { msg: 'hello ' + (params.name || 'stranger') }; }"


def test_blocking_result_invocation_returns_the_bare_result(wsk):
    name = unique("hello")
    put_action(wsk, name, HELLO)
    response = invoke(wsk, name, {"name": "Ada"}, result=True)
    assert response.status_code == 200
    assert response.json() == {"msg": "hello Ada"}
    assert len(response.headers["x-openwhisk-activation-id"]) == 32


def test_blocking_invocation_returns_the_full_record(wsk):
    name = unique("hello")
    put_action(wsk, name, HELLO, parameters=[{"key": "name", "value": "default"}])
    response = invoke(wsk, name)
    assert response.status_code == 200
    record = response.json()
    assert record["response"]["status"] == "success"
    assert record["response"]["success"] is True
    assert record["response"]["result"] == {"msg": "hello default"}
    assert record["response"]["size"] > 0
    assert record["logs"] == []
    assert record["namespace"] == "guest" and record["subject"] == "guest" and record["name"] == name
    assert record["duration"] == record["end"] - record["start"]
    notes = annotations(record)
    assert notes["path"] == f"guest/{name}"
    assert notes["kind"] == "nodejs:24"  # nodejs:default
    assert notes["timeout"] is False
    assert notes["limits"] == {"timeout": 60000, "memory": 256, "logs": 10, "concurrency": 1}
    assert isinstance(notes["waitTime"], int) and isinstance(notes["initTime"], int)
    assert record["activationId"] == response.headers["x-openwhisk-activation-id"]


def test_non_blocking_invocation_is_202_and_the_record_is_stored(wsk):
    name = unique("hello")
    put_action(wsk, name, "function main(p) { console.log('to the log'); return {done: true}; }")
    response = wsk.post(f"{NS}/actions/{name}", json={})
    assert response.status_code == 202
    activation_id = response.json()["activationId"]
    assert response.headers["x-openwhisk-activation-id"] == activation_id
    record = activation(wsk, activation_id)
    assert record["response"]["result"] == {"done": True}
    assert record["logs"][0].endswith("stdout: to the log")
    assert wsk.get(f"{NS}/activations/{activation_id}/result").json()["result"] == {"done": True}
    assert wsk.get(f"{NS}/activations/{activation_id}/logs").json()["logs"] == record["logs"]


def test_async_main_and_module_exports_are_supported(wsk):
    name = unique("async")
    put_action(wsk, name, "exports.main = async (p) => { await new Promise(r => setTimeout(r, 10)); return {n: p.n * 2}; }")
    assert invoke(wsk, name, {"n": 21}, result=True).json() == {"n": 42}


def test_custom_main_name(wsk):
    name = unique("custom")
    response = wsk.put(
        f"{NS}/actions/{name}",
        json={"exec": {"kind": "nodejs:20", "code": "function greet() { return {hi: 1}; }", "main": "greet"}},
    )
    assert response.status_code == 200
    assert invoke(wsk, name, result=True).json() == {"hi": 1}


def test_rejected_promise_is_an_application_error_502(wsk):
    name = unique("reject")
    put_action(wsk, name, "function main() { return Promise.reject({reason: 'nope'}); }")
    response = invoke(wsk, name)
    assert response.status_code == 502
    assert response.json()["response"]["status"] == "application error"
    assert response.json()["response"]["result"] == {"error": {"reason": "nope"}}
    assert invoke(wsk, name, result=True).json() == {"error": {"reason": "nope"}}


def test_error_field_in_result_is_an_application_error_keeping_only_error(wsk):
    name = unique("errfield")
    put_action(wsk, name, "function main() { return {error: 'bad input', other: 1}; }")
    response = invoke(wsk, name, result=True)
    assert response.status_code == 502
    assert response.json() == {"error": "bad input"}


def test_a_throw_is_a_developer_error_502(wsk):
    name = unique("throw")
    put_action(wsk, name, "function main() { throw new Error('boom'); }")
    response = invoke(wsk, name)
    assert response.status_code == 502
    record = response.json()
    assert record["response"]["status"] == "action developer error"
    assert "boom" in record["response"]["result"]["error"]


def test_a_string_result_is_a_developer_error(wsk):
    name = unique("string")
    put_action(wsk, name, "function main() { return 'just text'; }")
    response = invoke(wsk, name, result=True)
    assert response.status_code == 502
    assert response.json() == {"error": "The action did not return a dictionary."}


def test_an_array_result_comes_back_bare_even_with_the_full_record_asked(wsk):
    name = unique("array")
    put_action(wsk, name, "function main() { return [1, 'two', {three: 3}]; }")
    response = invoke(wsk, name)
    assert response.status_code == 200
    assert response.json() == [1, "two", {"three": 3}]


def test_syntax_error_fails_initialization(wsk):
    name = unique("syntax")
    put_action(wsk, name, "function main( { return {}; }")
    response = invoke(wsk, name, result=True)
    assert response.status_code == 502
    assert response.json()["error"].startswith("Initialization has failed due to:")


def test_time_limit_is_enforced_with_openwhisks_message(wsk):
    name = unique("slow")
    put_action(wsk, name, "async function main() { await new Promise(() => {}); }", limits={"timeout": 1000})
    response = invoke(wsk, name)  # the action never returns: only its time limit can answer
    assert response.status_code == 502
    record = response.json()
    assert record["response"]["result"] == {"error": "The action exceeded its time limits of 1000 milliseconds."}
    assert annotations(record)["timeout"] is True


def test_a_busy_loop_is_stopped_at_the_time_limit(wsk):
    name = unique("spin")
    put_action(wsk, name, "function main() { while (true) {} }", limits={"timeout": 500})
    response = invoke(wsk, name, result=True)
    assert response.json() == {"error": "The action exceeded its time limits of 500 milliseconds."}


def test_memory_limit_is_enforced_with_openwhisks_message(wsk):
    name = unique("hog")
    put_action(
        wsk, name,
        "function main() { const keep = []; for (;;) { keep.push(Buffer.alloc(16 * 1024 * 1024, 1)); } }",
        limits={"memory": 128},
    )
    response = invoke(wsk, name)
    assert response.status_code == 502
    record = response.json()
    assert record["response"]["result"] == {"error": "The action exhausted its memory and was aborted."}
    assert annotations(record)["limits"]["memory"] == 128


def test_a_js_heap_hog_also_gets_the_memory_message(wsk):
    name = unique("heap")
    put_action(
        wsk, name,
        "function main() { const keep = []; for (;;) { keep.push(new Array(1e6).fill({a: Math.random()})); } }",
        limits={"memory": 128},
    )
    response = invoke(wsk, name, result=True)
    assert response.json() == {"error": "The action exhausted its memory and was aborted."}


def test_process_exit_is_a_developer_error_that_keeps_the_logs(wsk):
    name = unique("exit")
    put_action(wsk, name, "function main() { console.log('about to exit'); process.exit(3); }")
    response = invoke(wsk, name)
    assert response.status_code == 502
    record = response.json()
    assert record["response"]["result"] == {
        "error": "The action did not produce a valid response and exited unexpectedly."
    }
    logs = activation(wsk, record["activationId"])["logs"]
    assert any(line.endswith("stdout: about to exit") for line in logs)
    assert logs[-1].endswith("stderr: The action did not initialize or run as expected. Log data might be missing.")


def test_an_uncaught_exception_in_a_timer_is_a_developer_error_with_its_stack_logged(wsk):
    name = unique("timer")
    put_action(
        wsk, name,
        "function main() { setTimeout(() => { throw new Error('late boom'); }, 10); return new Promise(() => {}); }",
    )
    response = invoke(wsk, name)  # the action never returns: the exception ends it, not its time limit
    assert response.status_code == 502
    assert response.json()["response"]["status"] == "action developer error"
    assert "time limit" not in response.json()["response"]["result"]["error"]
    logs = activation(wsk, response.json()["activationId"])["logs"]
    assert any("late boom" in line and "stderr:" in line for line in logs)


def test_logs_are_timestamped_per_stream_in_openwhisks_format(wsk):
    name = unique("logs")
    put_action(wsk, name, "function main() { console.log('out line'); console.error('err line'); return {}; }")
    activation_id = invoke(wsk, name).json()["activationId"]
    logs = activation(wsk, activation_id)["logs"]
    assert len(logs) == 2
    for line in logs:
        stamp = line[:30]
        assert stamp.rstrip().endswith("Z") and stamp[4] == "-" and stamp[10] == "T"
    # stdout and stderr are two streams: lines written a moment apart keep the order they arrive in
    assert sorted(line[31:] for line in logs) == ["stderr: err line", "stdout: out line"]


def test_logs_are_cut_at_the_limit_with_the_truncation_line(wsk):
    name = unique("chatty")
    put_action(wsk, name, "function main() { for (let i = 0; i < 200000; i++) console.log('x'.repeat(100)); return {}; }",
               limits={"logs": 1})
    activation_id = invoke(wsk, name).json()["activationId"]
    logs = activation(wsk, activation_id)["logs"]
    assert logs[-1].endswith(
        "Logs were truncated because the total bytes size exceeds the limit of 1048576 bytes."
    )
    assert sum(len(line) for line in logs) < 2 * 1048576


def test_openwhisk_context_reaches_the_action_as_environment(wsk):
    name = unique("env")
    put_action(
        wsk, name,
        "function main() { const e = process.env; return {id: e.__OW_ACTIVATION_ID, ns: e.__OW_NAMESPACE, "
        "name: e.__OW_ACTION_NAME, version: e.__OW_ACTION_VERSION, deadline: e.__OW_DEADLINE, "
        "key: e.__OW_API_KEY || null, secret: e.SECRET || null}; }",
        parameters=[{"key": "SECRET", "value": "s3cr3t", "init": True}, {"key": "plain", "value": 1}],
    )
    response = invoke(wsk, name, result=True)
    result = response.json()
    assert result["id"] == response.headers["x-openwhisk-activation-id"]
    assert result["ns"] == "guest"
    assert result["name"] == f"/guest/{name}"
    assert result["version"] == "0.0.1"
    assert int(result["deadline"]) > time.time() * 1000
    assert result["key"] is None  # provide-api-key is false on new actions
    assert result["secret"] == "s3cr3t"


def test_init_parameters_are_not_arguments(wsk):
    name = unique("initarg")
    put_action(wsk, name, "function main(p) { return {keys: Object.keys(p).sort()}; }",
               parameters=[{"key": "SECRET", "value": "x", "init": True}, {"key": "plain", "value": 1}])
    assert invoke(wsk, name, result=True).json() == {"keys": ["plain"]}


def test_blocking_wait_runs_out_with_202_and_the_activation_goes_on(wsk):
    name = unique("patient")
    put_action(wsk, name, "async function main() { await new Promise(r => setTimeout(r, 2500)); return {late: true}; }")
    response = invoke(wsk, name, timeout=500)
    assert response.status_code == 202
    activation_id = response.json()["activationId"]
    assert response.headers["x-openwhisk-activation-id"] == activation_id
    assert activation(wsk, activation_id)["response"]["result"] == {"late": True}


def test_final_parameters_cannot_be_overridden(wsk):
    name = unique("final")
    put_action(wsk, name, HELLO, parameters=[{"key": "name", "value": "fixed"}],
               annotations=[{"key": "final", "value": True}])
    response = invoke(wsk, name, {"name": "other"}, result=True)
    assert response.status_code == 400
    assert response.json()["error"] == "Request defines parameters that are not allowed (e.g., reserved properties)."
    assert invoke(wsk, name, result=True).json() == {"msg": "hello fixed"}
