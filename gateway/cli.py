"""The `whisklet` command: serve, namespace create/list/delete, image build."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import Any

import msgspec
import uvloop

from gateway.config import Config, ConfigError, load_config
from gateway.errors import ApiError
from gateway.models import NamespaceLimits, encoder
from gateway.namespaces import NamespaceExists, create_namespace
from gateway.store import SqliteStore, StoreError
from pool import SandboxError, build_runtime_image


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config, overrides=_overrides(args))
    except ConfigError as error:
        print(f"whisklet: {error}", file=sys.stderr)
        return 2
    try:
        return uvloop.run(args.command(config, args))
    except (ConfigError, StoreError, SandboxError) as error:
        print(f"whisklet: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", help="where the database, wskprops and runner sockets live")
    common.add_argument("--config", help="a TOML file overriding config/whisklet.toml")

    parser = argparse.ArgumentParser(prog="whisklet", description="An OpenWhisk-compatible FaaS platform.")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", parents=[common], help="serve the OpenWhisk API until SIGINT/SIGTERM")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 3233)")
    serve.set_defaults(command=_serve)

    namespace = commands.add_parser("namespace", help="manage namespaces and their keys")
    actions = namespace.add_subparsers(required=True, metavar="ACTION")
    create = actions.add_parser("create", parents=[common], help="create a namespace; prints uuid:key")
    create.add_argument("name")
    for flag in ("invocations-per-minute", "concurrent-invocations", "fires-per-minute"):
        create.add_argument(f"--{flag}", type=int, help="override the system default for this namespace")
    create.set_defaults(command=_namespace_create)
    listing = actions.add_parser("list", parents=[common], help="list namespaces")
    listing.set_defaults(command=_namespace_list)
    delete = actions.add_parser("delete", parents=[common], help="delete a namespace and its key")
    delete.add_argument("name")
    delete.set_defaults(command=_namespace_delete)

    image = commands.add_parser("image", help="the Node.js runtime image")
    image_actions = image.add_subparsers(required=True, metavar="ACTION")
    build = image_actions.add_parser("build", parents=[common], help="build the runtime image if missing or stale")
    build.add_argument("--force", action="store_true", help="rebuild even when the image is current")
    build.set_defaults(command=_image_build)
    return parser


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "server.data_dir": getattr(args, "data_dir", None),
        "server.host": getattr(args, "host", None),
        "server.port": getattr(args, "port", None),
    }


async def _serve(config: Config, args: argparse.Namespace) -> int:
    from gateway.server import configure_logging, serve

    configure_logging()
    await serve(config)
    return 0


async def _open_store(config: Config) -> SqliteStore:
    config.data_dir.mkdir(parents=True, exist_ok=True)
    store = SqliteStore(config.data_dir / "whisklet.db")
    await store.open()
    return store


async def _namespace_create(config: Config, args: argparse.Namespace) -> int:
    limits = NamespaceLimits(
        **{
            key: value
            for key, value in {
                "invocationsPerMinute": args.invocations_per_minute,
                "concurrentInvocations": args.concurrent_invocations,
                "firesPerMinute": args.fires_per_minute,
            }.items()
            if value is not None
        }
    )
    store = await _open_store(config)
    try:
        credential = await create_namespace(store, args.name, encoder.encode(limits))
    except (NamespaceExists, ApiError) as error:
        print(f"whisklet: {error}", file=sys.stderr)
        return 1
    finally:
        await store.close()
    print(credential.auth)
    return 0


async def _namespace_list(config: Config, args: argparse.Namespace) -> int:
    store = await _open_store(config)
    try:
        subjects = await store.list_subjects()
    finally:
        await store.close()
    for subject in subjects:
        limits = msgspec.json.decode(subject.limits)
        print(f"{subject.namespace}\t{subject.uuid}" + (f"\t{encoder.encode(limits).decode()}" if limits else ""))
    return 0


async def _namespace_delete(config: Config, args: argparse.Namespace) -> int:
    store = await _open_store(config)
    try:
        deleted = await store.delete_subject(args.name)
    finally:
        await store.close()
    if not deleted:
        print(f"whisklet: namespace '{args.name}' does not exist", file=sys.stderr)
        return 1
    print(f"deleted namespace {args.name}")
    return 0


async def _image_build(config: Config, args: argparse.Namespace) -> int:
    tag = await build_runtime_image(config.docker, force=args.force)
    print(tag)
    return 0


if __name__ == "__main__":
    sys.exit(main())
