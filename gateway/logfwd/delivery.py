"""Sending one request to a destination: the address checked, the whole exchange bounded in time and size."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx

from gateway.logfwd.destinations import OutboundRequest, host_of
from gateway.logfwd.network import EgressPolicy, EgressRefused

MAX_REPLY_BYTES = 4096
MAX_REPLY_CHARS = 200


@dataclass(frozen=True, slots=True)
class Delivery:
    """How one attempt ended: `ok`, or why not (`text`, never holding a secret) and whether to retry."""

    ok: bool
    retry: bool = False
    text: str = ""


async def deliver(client: httpx.AsyncClient, policy: EgressPolicy, request: OutboundRequest, timeout_s: float) -> Delivery:
    """POST `request` to its checked address; `timeout_s` bounds the whole exchange (a receiver that
    trickles its answer byte by byte is cut off as surely as a silent one)."""
    scheme, host, port = host_of(request)
    try:
        policy.check_scheme(scheme)
        address = await policy.resolve(host, port, timeout_s)
    except EgressRefused as refused:
        return Delivery(False, False, f"refused: {refused}")
    url = httpx.URL(request.url).copy_with(host=str(address))
    default_port = 443 if scheme == "https" else 80
    headers = {**request.headers, "Host": host if port == default_port else f"{host}:{port}"}
    extensions = {"sni_hostname": host} if scheme == "https" else {}
    try:
        async with asyncio.timeout(timeout_s):
            async with client.stream("POST", url, content=request.body, headers=headers, extensions=extensions) as reply:
                text = await _bounded_text(reply)
    except TimeoutError:
        return Delivery(False, True, f"no complete answer within {timeout_s:g}s")
    except httpx.HTTPError as error:
        return Delivery(False, True, f"transport error: {type(error).__name__} {_short(str(error))}".rstrip())
    if 200 <= reply.status_code < 300:
        return Delivery(True)
    retry = reply.status_code == 429 or reply.status_code >= 500
    return Delivery(False, retry, f"HTTP {reply.status_code} {text}".rstrip())


async def _bounded_text(reply: httpx.Response) -> str:
    received = bytearray()
    async for chunk in reply.aiter_raw():
        received += chunk[: MAX_REPLY_BYTES - len(received)]
        if len(received) >= MAX_REPLY_BYTES:
            break
    return _short(received.decode("utf-8", "replace"))


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= MAX_REPLY_CHARS else flat[:MAX_REPLY_CHARS] + "..."
