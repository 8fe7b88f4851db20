"""Whisklet's running services, created in order and closed in reverse: store, pool, controller, alarms."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import msgspec

from gateway.app import Services
from gateway.clock import Clock, SystemClock
from gateway.config import Config, egress_mode
from gateway.datadir import owner_only_dir, owner_only_file
from gateway.edge.metrics import Metrics
from gateway.entities.catalog import install_catalog
from gateway.entities.namespaces import Credential, ensure_guest, write_wskprops
from gateway.events.alarms.feed import AlarmFeeds
from gateway.events.alarms.scheduler import AlarmScheduler
from gateway.invoke.admission import MinuteCounter, Throttle
from gateway.invoke.controller import Controller
from gateway.invoke.observer import ObserverGroup
from gateway.logfwd.forwarder import LogForwarder
from gateway.logfwd.metrics import ForwardingCollector
from gateway.logfwd.network import EgressPolicy
from gateway.logfwd.secrets import SecretBox
from gateway.store import Store, StoreError
from gateway.store.nodes import heartbeat_interval_s, node_identity, watch_nodes_forever
from gateway.store.url import parse_store_url, store_for
from pool import Pool, open_driver

log = logging.getLogger("whisklet")


@dataclass(frozen=True, slots=True)
class Started:
    """What start-up tells the user: where the API is and, on first start, the guest credential."""

    api_host: str
    wskprops: Path
    guest: Credential | None
    driver: str = ""  # the sandbox driver in use: "sandbox" or "docker"
    api_socket: str = ""  # where the inside API is served for sandboxes (gateway/edge/inside.py)


def api_host(config: Config) -> str:
    return config.server.api_host or f"http://{config.server.host}:{config.server.port}"


@asynccontextmanager
async def running(config: Config) -> AsyncIterator[tuple[Services, Started, Pool]]:
    """Open the store, bootstrap `guest`, start the pool; on exit drain activations and close all.

    Shutdown order: activations in flight get `server.shutdown_grace_s` to finish; what still runs
    then has its container destroyed (recorded as a developer error); the store is flushed last.
    """
    clock = SystemClock()
    data_dir = owner_only_dir(config.data_dir)
    url = parse_store_url(config.store.url, data_dir)
    store = store_for(
        url, node_id=node_identity(config.store.node_id, data_dir),
        flush_interval_s=config.store.flush_interval_ms / 1000,
        heartbeat_s=heartbeat_interval_s(config.store.node_lapse_s), clock=clock,
    )
    await store.open()
    try:
        interrupted = await store.recover_interrupted()
        if interrupted:
            log.warning("%d activations were interrupted by the last stop; recorded as whisk internal errors", interrupted)
        wskprops = data_dir / "wskprops"
        guest = await bootstrap_guest(store, wskprops, api_host(config), url.shown)
        await install_catalog(store, config.limits, clock.wall_ms())
        instance = f"{socket.gethostname()}-{os.getpid()}"
        run_dir = owner_only_dir(data_dir / "run")
        async with (
            open_driver(config.pool.driver, config.docker, data_dir, str(run_dir), instance,
                        tuple(config.limits.egress_deny)) as opened,
            httpx.AsyncClient(
                follow_redirects=False, trust_env=False, timeout=config.logfwd.request_timeout_s
            ) as log_client,
        ):
            metrics = Metrics()
            pool_config = config.pool.for_driver(opened.name)
            pool = Pool(opened.driver, pool_config, default_memory_mb=config.limits.memory_default_mb,
                        default_egress=egress_mode(config.limits.egress, "limits.egress"), observer=metrics)
            metrics.watch_pool(pool.snapshot)
            await pool.start()
            throttle = Throttle(MinuteCounter(clock.wall_ms), MinuteCounter(clock.wall_ms), observer=metrics)
            alarms = AlarmScheduler(store, clock)
            forwarding = config.logfwd
            forwarder = LogForwarder(
                store, SecretBox.from_key_file(data_dir / "logfwd.key"),
                EgressPolicy.from_settings(forwarding.allow_http, forwarding.allow_networks), forwarding,
                log_client, host_name=socket.gethostname(), now_ms=clock.wall_ms,
            )
            metrics.registry.register(ForwardingCollector(forwarder.counts))
            controller = Controller(
                store, pool, throttle, config.limits, api_host=api_host(config),
                observer=ObserverGroup(metrics, forwarder), builtins=AlarmFeeds(store, alarms.wake, clock).actions(),
                clock=clock,
            )
            forwarder.start()
            pruner = asyncio.create_task(_prune_forever(store, config, clock), name="activation-pruner")
            node_watch = asyncio.create_task(
                watch_nodes_forever(store, config.store.node_lapse_s, throttle.share.set_live_nodes), name="node-watch"
            )
            alarms.start(controller)
            try:
                # The routes name the driver in use, not "auto", and the number of parallel creates it got.
                served = msgspec.structs.replace(config, pool=pool_config)
                services = Services(served, store, controller, metrics=metrics, clock=clock, log_forwarder=forwarder)
                yield services, Started(api_host(config), wskprops, guest, opened.name, opened.api_socket), pool
            finally:
                await alarms.stop()
                pruner.cancel()
                node_watch.cancel()
                await asyncio.gather(pruner, node_watch, return_exceptions=True)
                await _drain(controller, pool, config.server.shutdown_grace_s)
                await forwarder.close()
    finally:
        await store.close()


async def bootstrap_guest(store: Store, wskprops: Path, host: str, shown: str) -> Credential | None:
    """Create `guest` on the store's first start and write its `wskprops`; return its credential then.

    A node joining a shared database finds `guest` made by another node: only the key's hash is stored,
    so this node cannot write a `wskprops`, and says where the key is instead (and how to make another).
    """
    guest = await ensure_guest(store)
    if guest is not None:
        write_wskprops(wskprops, host, guest)
    elif wskprops.exists():  # written by an earlier start, perhaps with a looser mode
        owner_only_file(wskprops, create=False)
    else:
        log.warning(
            "namespace guest already exists in %s (created by another node or an earlier data directory), and"
            " only its key's hash is stored, so no %s is written here: copy the wskprops of the node that created"
            " it, or create a namespace with a key of its own: whisklet namespace create NAME --store ...",
            shown, wskprops,
        )
    return guest


async def _drain(controller: Controller, pool: Pool, grace_s: float) -> None:
    try:
        async with asyncio.timeout(grace_s):
            await controller.drain()
    except TimeoutError:
        log.warning("activations still running after %.0fs of shutdown grace; stopping them", grace_s)
    await pool.stop(grace_s=0)
    await controller.drain()


_PRUNE_EVERY_S = 600.0


async def _prune_forever(store: Store, config: Config, clock: Clock) -> None:
    """Remove activation records past the retention period or the count limit, now and every 10 min."""
    retention_ms = round(config.store.activation_retention_days * 86_400_000)
    while True:
        try:
            removed = await store.prune_activations(clock.wall_ms() - retention_ms, config.store.max_activations)
        except StoreError as error:
            log.warning("pruning activation records failed: %s", error)
        else:
            if removed:
                log.info("pruned %d activation records", removed)
        await asyncio.sleep(_PRUNE_EVERY_S)
