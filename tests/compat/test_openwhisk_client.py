"""The real `openwhisk` npm client against a live `whisklet serve`."""

from tests.compat.flows import run_flow


def test_openwhisk_npm_client_drives_the_action_lifecycle(whisklet):
    seen = run_flow(whisklet, "client_flow.mjs")
    name = seen["created"]["name"]
    assert seen["created"]["exec"]["kind"] == "nodejs:24"  # the client sends nodejs:default
    assert seen["got"]["exec"]["code"].startswith("function main")
    assert name in seen["listed"]
    assert seen["blocking"] == {"greeting": "Hello, World"}
    record = seen["blockingRecord"]
    assert record["response"] == {
        "status": "success", "success": True, "result": {"greeting": "Hello, Record"}, "size": record["response"]["size"]
    }
    assert seen["activation"]["activationId"] == seen["nonBlockingId"]
    assert seen["activation"]["response"]["result"] == {"greeting": "Hello, Later"}
    assert seen["result"]["result"] == {"greeting": "Hello, Later"}
    assert any(line.endswith("stdout: hello Later") for line in seen["logs"]["logs"])
    assert seen["nonBlockingId"] in seen["activationList"]
    assert seen["updated"]["version"] == "0.0.2"
    assert seen["afterUpdate"] == {"greeting": "Howdy, Again"}
    assert seen["deleted"]["name"] == name
    assert seen["getAfterDelete"]["statusCode"] == 404
    assert "The requested resource does not exist." in seen["getAfterDelete"]["message"]
    assert seen["invokeMissing"]["statusCode"] == 404
