"""`/namespaces/{ns}/activations`: list activation records, get one, its result and its logs."""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.entities.auth import Authenticator, authorize, resolve_namespace
from gateway.entities.names import activation_id, activation_query
from gateway.store import ActivationRow, Store
from gateway.wire.codec import json_response
from gateway.wire.errors import NOT_FOUND, ApiError
from gateway.wire.models import STATUS_CODES, ActivationLogs, ActivationRecord, ActivationSummary, record_decoder

PAGE_MAX_BYTES = 16 * 1024 * 1024
"""The most record bytes one `docs=true` page holds: it ends before the record that would pass this
(one record always fits), so a page may hold fewer than `limit` records; clients go on with `skip`."""


def summarize_activation(record: ActivationRecord) -> ActivationSummary:
    """The list view: `statusCode` at the top level, and no `end`, `duration` or `statusCode` while
    `end` is unset or 0 (trigger activations, records not yet ended)."""
    end = record.end if isinstance(record.end, int) and record.end != 0 else None
    duration = record.duration if end is not None and isinstance(record.duration, int) else None
    return ActivationSummary(
        namespace=record.namespace,
        name=record.name,
        version=record.version,
        publish=record.publish,
        annotations=record.annotations,
        activationId=record.activationId,
        start=record.start,
        end=end,
        duration=duration,
        statusCode=None if end is None else STATUS_CODES[record.response.status],
        cause=record.cause or None,
    )


def routes(store: Store, authenticate: Authenticator) -> list[Route]:
    async def namespace_of(request: Request) -> str:
        identity = await authenticate(request)
        namespace = resolve_namespace(identity, request.path_params["ns"])
        authorize(identity, namespace, namespace)
        return namespace

    async def fetch(request: Request) -> ActivationRow:
        namespace = await namespace_of(request)
        row = await store.get_activation(namespace, activation_id(request.path_params["id"]))
        if row is None:
            raise ApiError(404, NOT_FOUND)
        return row

    async def list_activations(request: Request) -> Response:
        namespace = await namespace_of(request)
        query = activation_query(request.query_params)
        if query.page.count:
            count = await store.count_activations(
                namespace, name=query.name, since=query.since, upto=query.upto, skip=query.page.skip
            )
            return json_response({"activations": count})
        rows = await store.list_activations(
            namespace,
            name=query.name,
            since=query.since,
            upto=query.upto,
            limit=query.page.limit,
            skip=query.page.skip,
            docs=query.docs,
            max_bytes=PAGE_MAX_BYTES if query.docs else None,
        )
        if query.docs:
            return json_response([msgspec.Raw(row.doc) for row in rows])
        return json_response([summarize_activation(record_decoder.decode(row.doc)) for row in rows])

    async def get_activation(request: Request) -> Response:
        return json_response(msgspec.Raw((await fetch(request)).doc))

    async def get_result(request: Request) -> Response:
        return json_response(record_decoder.decode((await fetch(request)).doc).response)

    async def get_logs(request: Request) -> Response:
        return json_response(ActivationLogs(record_decoder.decode((await fetch(request)).doc).logs))

    base = "/api/v1/namespaces/{ns}/activations"
    return [
        Route(base, list_activations, methods=["GET"]),
        Route(base + "/{id}", get_activation, methods=["GET"]),
        Route(base + "/{id}/result", get_result, methods=["GET"]),
        Route(base + "/{id}/logs", get_logs, methods=["GET"]),
    ]
