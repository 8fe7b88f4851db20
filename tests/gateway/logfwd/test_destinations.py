import base64
import json
import subprocess
from email.utils import parsedate_to_datetime

from gateway.logfwd.destinations import azure_request, new_relic_request, splunk_request
from gateway.logfwd.events import activation_events
from tests.gateway.logfwd.records import AZURE_KEY, NEW_RELIC_KEY, SPLUNK_TOKEN, WORKSPACE, azure, new_relic, record, splunk

LINES = [
    "2024-06-01T12:00:00.123456789Z stdout: hello",
    "2024-06-01T12:00:01.5Z         stderr: oops: it failed",
]


def concatenated_json(body: bytes) -> list[dict]:
    decoder, text, found, at = json.JSONDecoder(), body.decode(), [], 0
    while at < len(text):
        value, at = decoder.raw_decode(text, at)
        found.append(value)
    return found


def test_splunk_gets_one_concatenated_event_per_line_with_its_token_and_seconds():
    request = splunk_request(splunk(8088), activation_events(record(LINES)), scheme="https", host_name="node-1")
    assert request.url == "https://127.0.0.1:8088/services/collector/event"
    assert request.headers["Authorization"] == f"Splunk {SPLUNK_TOKEN}"
    assert not request.body.startswith(b"[")
    events = concatenated_json(request.body)
    assert [e["time"] for e in events] == [1717243200.123457, 1717243201.5]
    assert events[0]["sourcetype"] == "_json" and events[0]["index"] == "main" and events[0]["source"] == "guest/demo/hello"
    assert events[0]["event"] == {
        "activationId": "c7bb" + "0" * 28, "actionName": "guest/demo/hello", "namespace": "guest",
        "timestamp": "2024-06-01T12:00:00.123456789Z", "stream": "stdout", "message": "hello", "status": "success",
    }
    assert events[1]["event"]["stream"] == "stderr" and events[1]["event"]["message"] == "oops: it failed"


def test_new_relic_gets_the_detailed_form_with_its_api_key_and_milliseconds():
    request = new_relic_request(new_relic("https://log-api.eu.newrelic.com/log/v1"), activation_events(record(LINES)))
    assert request.url == "https://log-api.eu.newrelic.com/log/v1"
    assert request.headers["Api-Key"] == NEW_RELIC_KEY
    [block] = json.loads(request.body)
    assert block["common"]["attributes"]["namespace"] == "guest"
    assert [log["timestamp"] for log in block["logs"]] == [1717243200123, 1717243201500]
    assert block["logs"][0]["message"] == "hello"
    assert block["logs"][0]["attributes"]["activationId"] == "c7bb" + "0" * 28


def test_azure_signature_matches_an_independent_openssl_hmac_over_the_exact_body_length():
    request = azure_request(azure(), activation_events(record(LINES)), now_s=1459756800.0)
    date = request.headers["x-ms-date"]
    assert parsedate_to_datetime(date).timestamp() == 1459756800.0 and date.endswith("GMT")
    text = f"POST\n{len(request.body)}\napplication/json\nx-ms-date:{date}\n/api/logs"
    hex_key = base64.b64decode(AZURE_KEY).hex()
    digest = subprocess.run(
        ["openssl", "dgst", "-sha256", "-mac", "HMAC", "-macopt", f"hexkey:{hex_key}", "-binary"],
        input=text.encode(), capture_output=True, check=True,
    ).stdout
    assert request.headers["Authorization"] == f"SharedKey {WORKSPACE}:{base64.b64encode(digest).decode()}"
    assert request.headers["Log-Type"] == "whisklet"
    assert request.url == f"https://{WORKSPACE}.ods.opinsights.azure.com/api/logs?api-version=2016-04-01"
    rows = json.loads(request.body)
    assert isinstance(rows, list) and rows[1]["message"] == "oops: it failed"
    assert all(key.replace("_", "").isalnum() for row in rows for key in row)


def test_a_line_of_another_shape_is_forwarded_whole_at_the_activation_start():
    [event] = activation_events(record(["no timestamp here"]))
    assert (event.message, event.stream, event.time_ns) == ("no timestamp here", "stdout", 1717243200000 * 1_000_000)
