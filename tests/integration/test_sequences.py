"""Sequences end to end: each component in its own container, values piped, failures short-circuit."""

from tests.integration.actions import NS, activation, annotations, invoke, put_action, unique


def sequence(wsk, name, *components):
    body = {"exec": {"kind": "sequence", "components": list(components)}}
    response = wsk.put(f"{NS}/actions/{name}", params={"overwrite": "true"}, json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_three_step_sequence_pipes_each_result_into_the_next(wsk):
    steps = [unique("step") for _ in range(3)]
    put_action(wsk, steps[0], "function main(p) { return {n: p.n + 1, trail: ['a']}; }")
    put_action(wsk, steps[1], "function main(p) { return {n: p.n * 10, trail: p.trail.concat(p.tag)}; }",
               parameters=[{"key": "tag", "value": "b"}], limits={"memory": 512})
    put_action(wsk, steps[2], "function main(p) { return {n: p.n - 1, trail: p.trail.concat('c')}; }")
    name = unique("seq")
    sequence(wsk, name, *(f"/_/{step}" for step in steps))

    response = invoke(wsk, name, {"n": 1})
    assert response.status_code == 200
    record = response.json()
    assert record["response"]["result"] == {"n": 19, "trail": ["a", "b", "c"]}
    assert len(record["logs"]) == 3
    components = [activation(wsk, activation_id) for activation_id in record["logs"]]
    assert [c["name"] for c in components] == steps
    assert record["duration"] == sum(c["duration"] for c in components)
    notes = annotations(record)
    assert (notes["kind"], notes["topmost"], notes["limits"]["memory"]) == ("sequence", True, 512)
    for component in components:
        assert component["cause"] == record["activationId"]
        assert annotations(component)["causedBy"] == "sequence"
        assert "initTime" in annotations(component)  # a fresh container each


def test_a_sequence_stops_at_a_failing_step_with_that_steps_status(wsk):
    steps = [unique("step") for _ in range(3)]
    put_action(wsk, steps[0], "function main(p) { return {n: 1}; }")
    put_action(wsk, steps[1], "function main(p) { throw new Error('step two broke'); }")
    put_action(wsk, steps[2], "function main(p) { return {reached: true}; }")
    name = unique("seq")
    sequence(wsk, name, *(f"/_/{step}" for step in steps))

    response = invoke(wsk, name)
    assert response.status_code == 502
    record = response.json()
    assert record["response"]["status"] == "action developer error"
    assert "step two broke" in record["response"]["result"]["error"]
    assert len(record["logs"]) == 2
    failed = activation(wsk, record["logs"][1])
    assert failed["name"] == steps[1] and failed["response"]["status"] == "action developer error"
    assert wsk.get(f"{NS}/activations", params={"name": steps[2]}).json() == []
    summary = next(a for a in wsk.get(f"{NS}/activations", params={"name": name}).json())
    assert summary["statusCode"] == 2


def test_catalog_utils_compose_into_a_sequence_out_of_the_box(wsk):
    name = unique("lines")
    sequence(wsk, name, "/whisk.system/utils/split", "/whisk.system/utils/sort")
    response = invoke(wsk, name, {"payload": "pear,apple,fig", "separator": ","}, result=True)
    assert response.status_code == 200
    assert response.json() == {"lines": ["apple", "fig", "pear"], "length": 3}


def test_a_non_blocking_sequence_answers_202_and_records_its_components(wsk):
    step = unique("step")
    put_action(wsk, step, "function main(p) { return {n: p.n * 2}; }")
    name = unique("seq")
    sequence(wsk, name, f"/_/{step}", f"/_/{step}")
    response = wsk.post(f"{NS}/actions/{name}", json={"n": 3})
    assert response.status_code == 202
    record = activation(wsk, response.json()["activationId"])
    assert record["response"]["result"] == {"n": 12}
    assert len(record["logs"]) == 2
