"""Database engines and sessions: SQLite (WAL, write transactions take the lock up front) or
PostgreSQL."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

# How long a writer waits for the SQLite lock before the request answers 503.
SQLITE_BUSY_SECONDS = 15


def normalise_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs that name no driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def is_sqlite(url: str) -> bool:
    """True for an SQLite database URL."""
    return url.startswith("sqlite")


def is_lock_timeout(exc: BaseException) -> bool:
    """True when a database error means the lock could not be had in time."""
    if not isinstance(exc, OperationalError):
        return False
    text = str(exc.orig).lower()
    return "database is locked" in text or "lock timeout" in text or "could not obtain lock" in text


class Store:
    """One database: a read session factory and a write session factory."""

    def __init__(self, url: str, sqlite_synchronous: str = "normal", pool_size: int = 5):
        self.url = normalise_url(url)
        self.sqlite = is_sqlite(self.url)
        self.engine = self._make_engine(sqlite_synchronous, pool_size)
        writer = self.engine.execution_options(sqlite_begin="BEGIN IMMEDIATE")
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(writer, expire_on_commit=False)

    def _make_engine(self, synchronous: str, pool_size: int) -> Engine:
        if not self.sqlite:
            return create_engine(self.url, pool_size=pool_size, pool_pre_ping=True)
        _ensure_parent(self.url)
        engine = create_engine(
            self.url, connect_args={"timeout": SQLITE_BUSY_SECONDS, "check_same_thread": False}
        )
        _make_sqlite_transactional(engine, synchronous)
        return engine

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading (rolled back at the end)."""
        with self._read() as session:
            yield session

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        """A session whose transaction holds the write lock on SQLite; committed on success."""
        with self._write() as session, session.begin():
            yield session

    def dispose(self) -> None:
        """Close every pooled connection (before a fork, or at exit)."""
        self.engine.dispose()


def _ensure_parent(url: str) -> None:
    path = url.split("///", 1)[-1].split("?", 1)[0]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def _make_sqlite_transactional(engine: Engine, synchronous: str) -> None:
    # pysqlite's own transaction handling starts transactions late and never for reads;
    # take over BEGIN so a writer locks at its start and cannot fail on upgrade later.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={'FULL' if synchronous == 'full' else 'NORMAL'}")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        conn.exec_driver_sql(conn.get_execution_options().get("sqlite_begin", "BEGIN"))
