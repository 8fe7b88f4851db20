from __future__ import annotations

import pytest
from msgspec import UNSET

from gateway.store import ActivationRow
from gateway.wire.models import ActivationRecord, ActivationResponse, KeyValue, encoder

ACTIVATIONS = "/api/v1/namespaces/_/activations"


def put_record(store, number: int, name: str = "hello", *, status: str = "success", end: int | None = None,
               namespace: str = "guest", logs: list[str] | None = None) -> str:
    activation_id = f"{number:032x}"
    start = 1000 * number
    end = start + 50 if end is None else end
    record = ActivationRecord(
        namespace=namespace, name=name.rpartition("/")[2], version="0.0.1", subject=namespace,
        activationId=activation_id, start=start, end=end or UNSET, duration=end - start if end else UNSET,
        response=ActivationResponse(status=status, success=status == "success", result={"n": number}, size=7),
        logs=logs or [], annotations=[KeyValue("path", f"{namespace}/{name}")],
    )
    store.put_activation(ActivationRow(activation_id, namespace, name, start, end, encoder.encode(record)))
    return activation_id


async def test_list_gives_summaries_newest_first_with_top_level_status_code(client, store):
    put_record(store, 1)
    put_record(store, 2, status="application error")
    response = await client.get(ACTIVATIONS)
    assert response.status_code == 200
    first, second = response.json()
    assert first["activationId"] == f"{2:032x}"
    assert first["statusCode"] == 1
    assert second["statusCode"] == 0
    assert {"end", "duration"} <= set(first)
    assert "response" not in first and "logs" not in first


async def test_summary_of_a_record_without_end_has_no_end_duration_or_status_code(client, store):
    put_record(store, 3, "events", end=0)
    [summary] = (await client.get(ACTIVATIONS)).json()
    assert summary["start"] == 3000
    assert not {"end", "duration", "statusCode"} & set(summary)


async def test_docs_true_lists_full_records(client, store):
    put_record(store, 1, logs=["line"])
    [doc] = (await client.get(ACTIVATIONS, params={"docs": "true"})).json()
    assert doc["response"] == {"status": "success", "success": True, "result": {"n": 1}, "size": 7}
    assert doc["logs"] == ["line"]


async def test_list_filters_by_name_since_and_upto_and_pages(client, store):
    for number in range(1, 6):
        put_record(store, number, "demo/hello" if number % 2 else "other")
    names = {a["activationId"][-1] for a in (await client.get(ACTIVATIONS, params={"name": "demo/hello"})).json()}
    assert names == {"1", "3", "5"}
    window = (await client.get(ACTIVATIONS, params={"since": 2000, "upto": 4000})).json()
    assert [a["start"] for a in window] == [4000, 3000, 2000]
    paged = (await client.get(ACTIVATIONS, params={"limit": 2, "skip": 1})).json()
    assert [a["start"] for a in paged] == [4000, 3000]
    assert (await client.get(ACTIVATIONS, params={"count": "true"})).json() == {"activations": 5}


async def test_records_of_other_namespaces_are_not_listed(client, store):
    put_record(store, 1, namespace="other")
    assert (await client.get(ACTIVATIONS)).json() == []


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"docs": "true", "count": "true"}, "The parameter 'docs' is not permitted with 'count'."),
        ({"limit": "many"}, "The value 'many' is not an integer for activations."),
        ({"limit": "300"}, "The value '300' is not in the range of 0 to 200 for activations."),
        ({"skip": "-1"}, "The value '-1' is not greater than or equal to 0 for activations."),
        ({"since": "yesterday"},
         "The query parameter 'since' was malformed:\n'yesterday' is not a valid 64-bit signed integer value"),
    ],
)
async def test_bad_list_parameters_are_400(client, params, message):
    response = await client.get(ACTIVATIONS, params=params)
    assert (response.status_code, response.json()["error"]) == (400, message)


async def test_get_returns_the_full_record(client, store):
    activation_id = put_record(store, 1, logs=["2024-06-01T12:00:00.123Z stdout: hi"])
    record = (await client.get(f"{ACTIVATIONS}/{activation_id}")).json()
    assert record["activationId"] == activation_id
    assert record["response"]["status"] == "success"
    assert "statusCode" not in record["response"]
    assert record["duration"] == 50


async def test_result_is_the_records_response_object(client, store):
    activation_id = put_record(store, 1)
    response = await client.get(f"{ACTIVATIONS}/{activation_id}/result")
    assert response.json() == {"status": "success", "success": True, "result": {"n": 1}, "size": 7}


async def test_logs_are_wrapped_in_an_object(client, store):
    activation_id = put_record(store, 1, logs=["a", "b"])
    assert (await client.get(f"{ACTIVATIONS}/{activation_id}/logs")).json() == {"logs": ["a", "b"]}


@pytest.mark.parametrize("suffix", ["", "/result", "/logs"])
async def test_unknown_activation_is_404(client, suffix):
    response = await client.get(f"{ACTIVATIONS}/{'a' * 32}{suffix}")
    assert (response.status_code, response.json()["error"]) == (404, "The requested resource does not exist.")


@pytest.mark.parametrize(
    ("activation_id", "message"),
    [("abc", "Activation id length is 3 but must be 32."), ("z" * 32, "The activation id is not valid.")],
)
async def test_malformed_activation_id_is_400(client, activation_id, message):
    response = await client.get(f"{ACTIVATIONS}/{activation_id}")
    assert (response.status_code, response.json()["error"]) == (400, message)


async def test_activation_of_another_namespace_is_403_before_404(client, store):
    activation_id = put_record(store, 1, namespace="other")
    response = await client.get(f"/api/v1/namespaces/other/activations/{activation_id}")
    assert response.status_code == 403
    assert (await client.get(f"{ACTIVATIONS}/{activation_id}")).status_code == 404
