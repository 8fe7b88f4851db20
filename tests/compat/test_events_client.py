"""The real `openwhisk` npm client drives triggers, rules, packages, bindings, a sequence and a feed."""

import json

from tests.compat.flows import run_flow


def test_openwhisk_npm_client_drives_the_event_model(whisklet):
    seen = run_flow(whisklet, "events_flow.mjs")

    assert seen["binding"]["binding"] == {"namespace": "guest", "name": seen["package"]["name"]}
    assert seen["viaBinding"] == {"who": "package", "where": "binding", "when": "now"}
    assert [p["value"] for p in seen["bindingGot"]["parameters"]] == ["package", "binding"]
    assert [a["name"] for a in seen["bindingGot"]["actions"]] == ["show"]
    assert {seen["package"]["name"], seen["binding"]["name"]} <= set(seen["packageList"])

    components = ["/whisk.system/utils/split", "/whisk.system/utils/sort"]
    assert seen["sequence"]["exec"] == {"kind": "sequence", "components": components}
    assert seen["sequenceResult"] == {"lines": ["apple", "fig", "pear"], "length": 3}

    assert seen["rule"]["status"] == "active"
    trigger_record = seen["triggerRecord"]
    assert trigger_record["activationId"] == seen["fired"]["activationId"]
    assert trigger_record["response"]["result"] == {"n": 1}
    assert json.loads(trigger_record["logs"][0])["rule"] == f"guest/{seen['rule']['name']}"
    result = seen["ruleActivation"]["response"]["result"]
    assert (result["from"], result["n"], result["__ow_headers"]["user-agent"]) == ("trigger", 1, "openwhisk-client-js")
    assert seen["disabled"] == seen["enabled"] == "OK"
    assert seen["ruleAfterDisable"]["status"] == "inactive"
    assert "activationId" not in json.dumps(seen["firedWhileDisabled"])
    assert seen["ruleAfterEnable"]["status"] == "active"
    assert seen["rule"]["name"] in seen["ruleList"]
    assert seen["triggerGot"]["rules"] == {
        f"guest/{seen['rule']['name']}": {"action": {"path": "guest", "name": seen["ruleActivation"]["name"]}, "status": "active"}
    }
    assert seen["ruleDeleted"]["status"] == "inactive"
    assert seen["triggerDeleted"]["rules"] == {}

    assert seen["feedCreated"]["response"]["success"] is True
    read = seen["feedRead"]["response"]["result"]
    assert (read["config"]["cron"], read["config"]["payload"]) == ("0 0 1 1 *", {"year": "new"})
    assert seen["feedDeleted"]["response"]["success"] is True
    assert seen["packageDeleted"]["name"] == seen["package"]["name"]
