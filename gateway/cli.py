"""The `whisklet` command: serve, namespace create/list/limits/delete, image build."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

import msgspec
import uvloop

from gateway.config import Config, ConfigError, egress_mode, load_config
from gateway.datadir import owner_only_dir
from gateway.entities.namespaces import NamespaceExists, create_namespace, namespace_egress
from gateway.invoke.admission import namespace_limit
from gateway.store import Store, StoreError
from gateway.store.url import parse_store_url, store_for
from gateway.wire.errors import ApiError
from gateway.wire.models import NamespaceLimits, encoder
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
        exit_code: int = uvloop.run(args.command(config, args))
        return exit_code
    except (ConfigError, StoreError, SandboxError) as error:
        print(f"whisklet: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", help="where the database, wskprops and runner sockets live")
    common.add_argument("--config", help="a TOML file overriding config/whisklet.toml")
    common.add_argument("--store", metavar="URL",
                        help="the database (store.url): sqlite:///abs/path or postgresql://user[:pw]@host[:port]/db;"
                             " default: whisklet.db in the data directory")

    parser = argparse.ArgumentParser(prog="whisklet", description="An OpenWhisk-compatible FaaS platform.")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", parents=[common], help="serve the OpenWhisk API until SIGINT/SIGTERM")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 3233)")
    serve.add_argument("--driver", choices=("auto", "sandbox", "docker"),
                       help="sandbox driver (pool.driver): sandbox = bubblewrap namespaces + cgroups + seccomp, "
                            "docker = containers, auto = sandbox where the host can run it (default)")
    serve.add_argument("--node-id",
                       help="this node's id (store.node_id); default: generated once, kept in the data directory")
    serve.set_defaults(command=_serve)

    namespace = commands.add_parser("namespace", help="manage namespaces and their keys")
    actions = namespace.add_subparsers(required=True, metavar="ACTION")
    create = actions.add_parser("create", parents=[common], help="create a namespace; prints uuid:key")
    create.add_argument("name")
    _throttle_flags(create)
    create.set_defaults(command=_namespace_create)
    limits = actions.add_parser(
        "limits", parents=[common],
        help="show a namespace's throttles, or override them (a running server applies them within a second)",
    )
    limits.add_argument("name")
    _throttle_flags(limits)
    limits.add_argument("--reset", action="store_true", help="drop every override first: back to the system defaults")
    limits.set_defaults(command=_namespace_limits)
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


_THROTTLE_FLAGS = {
    "invocations_per_minute": "invocationsPerMinute",
    "concurrent_invocations": "concurrentInvocations",
    "fires_per_minute": "firesPerMinute",
}


def _throttle_flags(parser: argparse.ArgumentParser) -> None:
    for dest in _THROTTLE_FLAGS:
        parser.add_argument(
            "--" + dest.replace("_", "-"), type=_count, metavar="N",
            help="override the system default for this namespace (0 admits nothing)",
        )
    parser.add_argument(
        "--egress", type=_egress, metavar="MODE",
        help="the outbound network of this namespace's actions, overriding limits.egress: none, api (only "
             "Whisklet's API) or internet (the API and the internet, never the host or denied ranges)",
    )


def _egress(text: str) -> str:
    try:
        return egress_mode(text, "--egress")
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number of 0 or more, got {text!r}")
    return value


def _given_limits(args: argparse.Namespace) -> dict[str, int | str]:
    given: dict[str, int | str] = {
        field: getattr(args, dest) for dest, field in _THROTTLE_FLAGS.items() if getattr(args, dest) is not None
    }
    if args.egress is not None:
        given["egress"] = args.egress
    return given


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "server.data_dir": getattr(args, "data_dir", None),
        "server.host": getattr(args, "host", None),
        "server.port": getattr(args, "port", None),
        "pool.driver": getattr(args, "driver", None),
        "store.url": getattr(args, "store", None),
        "store.node_id": getattr(args, "node_id", None),
    }


async def _serve(config: Config, args: argparse.Namespace) -> int:
    from gateway.server import configure_logging, serve

    configure_logging()
    await serve(config)
    return 0


async def _open_store(config: Config) -> Store:
    store = store_for(parse_store_url(config.store.url, owner_only_dir(config.data_dir)))
    await store.open()
    return store


async def _namespace_create(config: Config, args: argparse.Namespace) -> int:
    limits = msgspec.convert(_given_limits(args), NamespaceLimits)
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


async def _namespace_limits(config: Config, args: argparse.Namespace) -> int:
    """Print `<limit> <value> <where it comes from>` per throttle, after applying the given overrides."""
    store = await _open_store(config)
    try:
        subject = await store.get_subject(args.name)
        if subject is None:
            print(f"whisklet: namespace '{args.name}' does not exist", file=sys.stderr)
            return 1
        current = {} if args.reset else msgspec.json.decode(subject.limits)
        overrides = msgspec.convert({**current, **_given_limits(args)}, NamespaceLimits)
        if args.reset or _given_limits(args):
            await store.set_subject_limits(args.name, encoder.encode(overrides))
    finally:
        await store.close()
    defaults = {
        "invocationsPerMinute": config.limits.invocations_per_minute,
        "concurrentInvocations": config.limits.concurrent_invocations,
        "firesPerMinute": config.limits.fires_per_minute,
    }
    for field, default in defaults.items():
        value = getattr(overrides, field)
        source = "system default" if value is msgspec.UNSET else "namespace"
        print(f"{field}\t{namespace_limit(value, default)}\t{source}")
    source = "system default" if overrides.egress is msgspec.UNSET else "namespace"
    print(f"egress\t{namespace_egress(overrides, config.limits.egress)}\t{source}")
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
    for tag in await build_runtime_image(config.docker, force=args.force):
        print(tag)
    return 0


if __name__ == "__main__":
    sys.exit(main())
