"""The SQLite connection: opening the file owner-only and migrated, transactions, and errors named for the user."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from gateway.datadir import owner_only_file
from gateway.store.base import StoreError
from gateway.store.sqlite.schema import SCHEMA_VERSION, migrations_after

log = logging.getLogger("whisklet.store")

BUSY_TIMEOUT_MS = 5000


def store_error(path: Path, what: str, exc: sqlite3.Error) -> StoreError:
    """The one place a SQLite error becomes a StoreError that says what failed and what to do."""
    code = getattr(exc, "sqlite_errorname", "") or ""
    if code.startswith("SQLITE_READONLY") or "readonly" in str(exc):
        advice = f"the database file {path} is read-only: check its permissions and that its disk is writable"
    elif code.startswith("SQLITE_FULL"):
        advice = f"the disk holding {path} is full: free some space"
    elif code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        advice = f"the database file {path} is locked by another process: stop any other Whisklet using it"
    elif code.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        advice = f"the database file {path} is damaged or not a database: restore it from a backup or move it aside"
    elif code.startswith("SQLITE_CANTOPEN"):
        advice = f"cannot open the database file {path}: check that its directory exists and is writable"
    elif code.startswith("SQLITE_IOERR"):
        advice = f"an I/O error hit the database file {path}: check the disk"
    else:
        advice = f"the database file {path} failed"
    return StoreError(f"{what}: {advice} (SQLite: {exc})")


@contextlib.contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[None]:
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def connect(path: Path) -> sqlite3.Connection:
    """Blocking: open the writer's connection to `path` (0600, WAL), migrated to `SCHEMA_VERSION`."""
    # 0600 before SQLite opens it: SQLite gives the -wal and -shm files the database file's mode.
    try:
        owner_only_file(path)
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                owner_only_file(path.with_name(path.name + suffix), create=False)
    except OSError as exc:
        raise StoreError(
            f"opening the store: cannot open the database file {path} owner-only: check that its"
            f" directory exists and is writable, and that it is a regular file ({exc.strerror})"
        ) from None
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if db.execute("PRAGMA journal_mode = WAL").fetchone()[0] != "wal":
            log.warning("%s cannot use WAL mode (network file system?): writers will block readers", path)
        db.execute("PRAGMA synchronous = NORMAL")
        statements = migrations_after(db.execute("PRAGMA user_version").fetchone()[0], path)
        if statements:
            with transaction(db):
                for statement in statements:
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        db.close()
        raise
    return db


def data_version(db: sqlite3.Connection) -> int:
    """Blocking: a number that changes whenever another connection commits to the database."""
    return int(db.execute("PRAGMA data_version").fetchone()[0])
