"""The store's engine, chosen by URL (`store.url`): `sqlite:///abs/path` or `postgresql://user@host/db`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from gateway.clock import SYSTEM_CLOCK, Clock
from gateway.config import ConfigError
from gateway.store.base import Store
from gateway.store.nodes import HEARTBEAT_S
from gateway.store.postgresql import PostgresStore
from gateway.store.sqlite import SqliteStore

DEFAULT_FILE = "whisklet.db"
"""The SQLite file in the data directory when `store.url` is empty."""

_EXAMPLES = "e.g. sqlite:///var/lib/whisklet/whisklet.db or postgresql://whisklet:secret@127.0.0.1:5432/whisklet"


@dataclass(frozen=True, slots=True)
class StoreUrl:
    """A parsed `store.url`: `path` for SQLite, `dsn` for PostgreSQL; `shown` never holds a password."""

    engine: str  # "sqlite" or "postgresql"
    shown: str
    path: Path | None = None
    dsn: str = ""


def parse_store_url(text: str, data_dir: Path) -> StoreUrl:
    """The engine and its address from `store.url`; empty means the data directory's SQLite file.

    `ConfigError` says what is wrong with the URL and gives an example of each engine's.
    """
    if not text:
        path = data_dir / DEFAULT_FILE
        return StoreUrl("sqlite", f"sqlite://{path}", path=path)
    scheme, _, rest = text.partition("://")
    if scheme == "sqlite":
        path_text = unquote(rest)
        if not rest or not path_text.startswith("/"):
            raise _bad(text, "a SQLite URL needs an absolute file path after sqlite:// (three slashes)")
        if path_text.endswith("/"):
            raise _bad(text, "a SQLite URL names a file, not a directory")
        return StoreUrl("sqlite", text, path=Path(path_text))
    if scheme in ("postgresql", "postgres"):
        return _postgresql(text)
    shown = _without_password(text)
    raise _bad(shown, "the store URL must start with sqlite:// or postgresql://")


def _postgresql(text: str) -> StoreUrl:
    shown = _without_password(text)
    parts = urlsplit(text)
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError:
        raise _bad(shown, "its port must be a number from 1 to 65535") from None
    if not parts.hostname:
        raise _bad(shown, "a PostgreSQL URL needs a host, such as 127.0.0.1")
    database = parts.path.lstrip("/")
    if not database or "/" in database:
        raise _bad(shown, "a PostgreSQL URL needs one database name after the host, such as /whisklet")
    if not parts.username:
        raise _bad(shown, "a PostgreSQL URL needs a user name before the host, such as whisklet@")
    return StoreUrl("postgresql", shown, dsn=text)


def _without_password(text: str) -> str:
    scheme, sep, rest = text.partition("://")
    authority, slash, tail = rest.partition("/")
    credentials, at, host = authority.rpartition("@")
    if at and ":" in credentials:
        authority = credentials.split(":", 1)[0] + ":***@" + host
    return scheme + sep + authority + slash + tail


def _bad(shown: str, what: str) -> ConfigError:
    return ConfigError(f"store.url {shown!r} is not usable: {what}; {_EXAMPLES}")


def store_for(
    url: StoreUrl,
    *,
    node_id: str = "",
    flush_interval_s: float = 0.05,
    heartbeat_s: float = HEARTBEAT_S,
    clock: Clock = SYSTEM_CLOCK,
) -> Store:
    """The (not yet opened) store on the engine `url` names; `node_id` for a serving node, "" otherwise."""
    if url.path is None:
        return PostgresStore(
            url.dsn, shown=url.shown, node_id=node_id, flush_interval_s=flush_interval_s, heartbeat_s=heartbeat_s,
            clock=clock,
        )
    return SqliteStore(url.path, node_id=node_id, flush_interval_s=flush_interval_s, heartbeat_s=heartbeat_s, clock=clock)
