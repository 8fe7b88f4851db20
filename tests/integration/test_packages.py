"""Packages, bindings and the system catalog end to end."""

from tests.integration.actions import NS, annotations, invoke, put_action, unique
from tests.integration.events import put, records_of

SHOW = "function main(p) { return {a: p.a, b: p.b, c: p.c}; }"


def test_a_binding_overrides_a_package_parameter_and_an_invoke_parameter_overrides_both(wsk):
    package, binding = unique("pkg"), unique("bound")
    put(wsk, "packages", package, {"parameters": [{"key": "a", "value": "package"}, {"key": "b", "value": "package"},
                                                  {"key": "c", "value": "package"}]})
    put_action(wsk, f"{package}/show", SHOW)
    put(wsk, "packages", binding, {"binding": {"namespace": "_", "name": package},
                                   "parameters": [{"key": "b", "value": "binding"}, {"key": "c", "value": "binding"}]})

    direct = invoke(wsk, f"{package}/show", result=True).json()
    assert direct == {"a": "package", "b": "package", "c": "package"}
    response = invoke(wsk, f"{binding}/show", {"c": "invoke"})
    assert response.status_code == 200
    record = response.json()
    assert record["response"]["result"] == {"a": "package", "b": "binding", "c": "invoke"}
    notes = annotations(record)
    assert notes["path"] == f"guest/{package}/show"
    assert notes["binding"] == f"guest/{binding}"
    assert [r["activationId"] for r in records_of(wsk, f"{binding}/show")] == [record["activationId"]]


def test_the_system_catalog_is_there_from_the_first_start(wsk):
    response = wsk.post("/api/v1/namespaces/whisk.system/actions/utils/echo",
                        params={"blocking": "true", "result": "true"}, json={"hi": 1})
    assert (response.status_code, response.json()) == (200, {"hi": 1})
    packages = {p["name"] for p in wsk.get("/api/v1/namespaces/whisk.system/packages").json()}
    assert {"utils", "alarms"} <= packages
    utils = wsk.get("/api/v1/namespaces/whisk.system/packages/utils").json()
    assert {a["name"] for a in utils["actions"]} == {"cat", "date", "echo", "head", "smash", "sort", "split"}
    alarms = wsk.get("/api/v1/namespaces/whisk.system/packages/alarms").json()
    assert {a["name"] for a in alarms["feeds"]} == {"alarm", "interval", "once"}


def test_binding_the_catalog_utils_runs_them_under_the_binding(wsk):
    binding = unique("myutils")
    put(wsk, "packages", binding, {"binding": {"namespace": "whisk.system", "name": "utils"},
                                   "parameters": [{"key": "num", "value": 2}]})
    response = invoke(wsk, f"{binding}/head", {"lines": ["x", "y", "z"]}, result=True)
    assert (response.status_code, response.json()) == (200, {"lines": ["x", "y"], "num": 2})
    smashed = invoke(wsk, f"{binding}/smash", {"fieldName": "all", "v": 1}, result=True).json()
    assert smashed == {"all": {"v": 1, "num": 2}}
    listed = wsk.get(f"{NS}/actions/{binding}/").json()
    assert {"echo", "split"} <= {a["name"] for a in listed}
