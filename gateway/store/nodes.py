"""A node's identity (configured, or generated once and kept in the data directory) and its heartbeat."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

from gateway.config import ConfigError
from gateway.datadir import owner_only_file
from gateway.store.base import StoreError

log = logging.getLogger("whisklet.store")

NODE_ID = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,62}\Z")
NODE_ID_FILE = "node-id"
HEARTBEAT_S = 5.0
"""How often a node writes its heartbeat row."""


def node_identity(configured: str, data_dir: Path) -> str:
    """`configured` (`store.node_id` / `--node-id`) when set, else the id kept in `data_dir/node-id`,
    generated on first use. `ConfigError` for an id that is not 1-63 letters, digits, `.`, `_`, `-`."""
    if configured:
        return _checked(configured, "store.node_id")
    path = data_dir / NODE_ID_FILE
    try:
        kept = path.read_text().strip() if path.exists() else ""
        if kept:
            return _checked(kept, str(path))
        generated = f"node-{secrets.token_hex(6)}"
        owner_only_file(path)
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC)
        with os.fdopen(fd, "w") as file:
            file.write(generated + "\n")
        return generated
    except OSError as exc:
        raise ConfigError(
            f"cannot keep this node's id in {path} ({exc.strerror}): make the data directory writable,"
            " or set store.node_id (--node-id)"
        ) from None


def _checked(node_id: str, where: str) -> str:
    if not NODE_ID.match(node_id):
        raise ConfigError(
            f"{where} {node_id!r} is not a node id: 1 to 63 letters, digits, '.', '_' or '-', starting with a"
            " letter or digit, e.g. node-1"
        )
    return node_id


async def beat_forever(beat: Callable[[], Awaitable[None]], interval_s: float) -> None:
    """Call `beat()` every `interval_s` until cancelled; a failing beat is logged once per failure streak."""
    await asyncio.sleep(interval_s)
    await _repeat_forever(beat, interval_s, "this node's heartbeat")


async def _repeat_forever(step: Callable[[], Awaitable[None]], interval_s: float, what: str) -> None:
    """Call `step()` now and every `interval_s` after until cancelled; a `StoreError` is logged once per
    failure streak (`what` failed)."""
    failing = False
    while True:
        try:
            await step()
        except StoreError as exc:
            if not failing:
                log.warning("%s failed: %s", what, exc)
            failing = True
        else:
            failing = False
        await asyncio.sleep(interval_s)


async def leave(mark_left: Callable[[], Awaitable[None]]) -> None:
    """A serving node stopping with nothing pending marks its heartbeat row as left (`mark_left`); if that
    fails it is logged, and the row lapses as a dead node's would."""
    try:
        await mark_left()
    except StoreError as exc:
        log.warning("this node's leaving was not recorded (the others count it until it lapses): %s", exc)


def heartbeat_interval_s(node_lapse_s: float) -> float:
    """How often a node beats so that `node_lapse_s` (`store.node_lapse_s`) spans at least three beats.
    `ConfigError` for a lapse that is not positive."""
    if not node_lapse_s > 0:
        raise ConfigError(f"store.node_lapse_s {node_lapse_s!r} must be a positive number of seconds, e.g. 30")
    return min(HEARTBEAT_S, node_lapse_s / 3)


class NodeWatch(Protocol):
    async def take_over_lapsed(self, lapse_ms: int) -> int: ...

    async def live_nodes(self, lapse_ms: int) -> int: ...


async def watch_nodes_forever(store: NodeWatch, node_lapse_s: float, live: Callable[[int], None]) -> None:
    """Now and every beat: record the activations of nodes silent for `node_lapse_s` as interrupted (the
    store makes that exactly once across racing survivors), and tell `live` how many nodes serve. Runs
    until cancelled; a failing round is logged once per failure streak and changes nothing."""
    lapse_ms = round(node_lapse_s * 1000)

    async def watch() -> None:
        taken = await store.take_over_lapsed(lapse_ms)
        live(await store.live_nodes(lapse_ms))
        if taken:
            log.warning(
                "%d activations of nodes silent for %.0fs were interrupted; recorded as whisk internal errors",
                taken, node_lapse_s,
            )

    await _repeat_forever(watch, heartbeat_interval_s(node_lapse_s), "watching the other nodes")
