"""Database engines, sessions and the locks that serialise writers: SQLite (WAL, write
transactions take the lock up front) or PostgreSQL (advisory locks)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

# How long a writer waits for the SQLite lock before the request answers 503.
SQLITE_BUSY_SECONDS = 15
# Keys of the locks that serialise writers across processes and hosts (see Store.lock).
APPLY_LOCK_KEY = 4_711_043  # folding observations into submissions: events and re-syncs
EXPORT_LOCK_KEY = 4_711_042  # export runs: a ledger key goes out once
SIGN_IN_LOCK_KEY = 4_711_044  # counting a sign-in attempt against the rate limit
LADOK_LOCK_KEY = 4_711_045  # sending drafts to Ladok: each result goes in once
_ADVISORY_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
T = TypeVar("T")


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


def poll(attempt: Callable[[], T], busy: Callable[[Exception], bool], deadline: float) -> T:
    """`attempt()` again and again while it fails as `busy`, sleeping 10 to 100 µs between
    tries; the busy error itself once `deadline` (a time.monotonic()) has passed."""
    delay = 0.00001
    while True:
        try:
            return attempt()
        except Exception as exc:
            if not busy(exc) or time.monotonic() > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.0001)


class WriterLock:
    """Queues SQLite writers of all threads and processes on one lock file.

    SQLite's own busy handler makes a waiting writer sleep up to 100 ms between tries, so
    under contention writers wait far longer than the writes take; a queue keeps them short.
    The webhook's inbox queues here only when SQLite's lock is busy (see intake.sqlite_inbox).
    """

    def __init__(self, path: str):
        self.path = path + ".writer-lock"
        self._thread_lock = threading.Lock()
        self._fd: int | None = None
        self._pid: int | None = None

    def _file(self) -> int:
        if self._fd is None or self._pid != os.getpid():  # a forked child opens its own
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        return self._fd

    @contextlib.contextmanager
    def hold(self, timeout: float) -> Iterator[None]:
        """Hold the lock; OperationalError 'database is locked' after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        if not self._thread_lock.acquire(timeout=timeout):
            raise _locked()
        try:
            fd = self._file()
            try:
                poll(lambda: fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB),
                     lambda exc: isinstance(exc, BlockingIOError), deadline)
            except BlockingIOError:
                raise _locked() from None
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()


def _locked() -> OperationalError:
    return OperationalError("BEGIN IMMEDIATE", {}, sqlite3.OperationalError("database is locked"))


class Store:
    """One database: a read session factory and a write session factory."""

    def __init__(self, url: str, sqlite_synchronous: str = "normal"):
        self.url = normalise_url(url)
        self.sqlite = is_sqlite(self.url)
        self.engine = self._make_engine(sqlite_synchronous)
        self.sqlite_file = sqlite_path(self.url) if self.sqlite else None
        self._writer_lock = WriterLock(self.sqlite_file) if self.sqlite_file else None
        self._writer = self.engine.execution_options(sqlite_begin="BEGIN IMMEDIATE")
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(self._writer, expire_on_commit=False)

    def _make_engine(self, synchronous: str) -> Engine:
        if not self.sqlite:
            return create_engine(self.url, pool_pre_ping=True)
        _ensure_parent(self.url)
        engine = create_engine(
            self.url, connect_args={"timeout": SQLITE_BUSY_SECONDS, "check_same_thread": False}
        )
        _make_sqlite_transactional(engine, synchronous)
        return engine

    def check_file(self, connection: Connection) -> None:
        """Raise FileReplaced (and drop the connection) when, on SQLite, the file at the
        configured path is not the one `connection` has open: deleted, or replaced."""
        if self.sqlite_file is None:
            return
        if connection.connection.info.get("file_id") != file_id(self.sqlite_file):
            connection.invalidate()
            raise FileReplaced(self.sqlite_file)

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading (rolled back at the end)."""
        with self._read() as session:
            yield session

    def writer_lock(self):
        """Hold the SQLite writer lock (a no-op on PostgreSQL)."""
        if self._writer_lock is None:
            return contextlib.nullcontext()
        return self._writer_lock.hold(SQLITE_BUSY_SECONDS)

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        """A session whose transaction holds the write lock on SQLite; committed on success."""
        with self.writer_lock(), self._write() as session, session.begin():
            yield session

    @contextlib.contextmanager
    def write_connection(self) -> Iterator[Connection]:
        """Like write(), as a Core connection: for the hot path of small fixed statements."""
        with self.writer_lock(), self._writer.begin() as connection:
            yield connection

    @staticmethod
    def dialect(session: Session) -> str:
        """The database a session talks to: "postgresql" or "sqlite"."""
        return session.get_bind().dialect.name

    def lock(self, session: Session, key: int) -> None:
        """Hold the lock `key` until the session's transaction ends.

        PostgreSQL: a transaction-level advisory lock, shared by every process and host. SQLite
        needs none: a write transaction already excludes every other writer.
        """
        if not self.sqlite:
            session.execute(_ADVISORY_LOCK, {"key": key})

    def dispose(self) -> None:
        """Close every pooled connection (before a fork, or at exit)."""
        self.engine.dispose()


def sqlite_path(url: str) -> str | None:
    """The file of an SQLite URL, or None for an in-memory database."""
    path = url.split("///", 1)[-1].split("?", 1)[0]
    return path if path and path != ":memory:" else None


def _ensure_parent(url: str) -> None:
    """The database's folder (owner-only when created here) and its files, owner-only."""
    path = sqlite_path(url)
    if path:
        Path(path).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        owner_only_sqlite(path)


def owner_only_sqlite(path: str) -> None:
    """Create the SQLite file owner-only (0600), whatever the umask, and make an existing
    one and its -wal and -shm so: they hold names and personnummer. SQLite gives the -wal
    and -shm files it creates the database file's mode."""
    with contextlib.suppress(PermissionError):  # SQLite then says what it cannot do
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for name in (path, path + "-wal", path + "-shm"):
        with contextlib.suppress(FileNotFoundError, PermissionError):
            os.chmod(name, 0o600)


def file_id(path: str) -> tuple[int, int] | None:
    """(device, inode) of the file at `path` now, or None when there is none."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_dev, found.st_ino


class FileReplaced(OperationalError):
    """The SQLite file at the configured path is not the one this connection has open."""

    def __init__(self, path: str):
        super().__init__("(file check)", {}, sqlite3.OperationalError(
            f"the database file {path} was removed or replaced while open"))


def sqlite_pragmas(conn: sqlite3.Connection, synchronous: str) -> None:
    """WAL, the configured durability, a busy timeout and foreign keys, on one connection."""
    cursor = conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA synchronous={'FULL' if synchronous == 'full' else 'NORMAL'}")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _make_sqlite_transactional(engine: Engine, synchronous: str) -> None:
    # pysqlite's own transaction handling starts transactions late and never for reads;
    # take over BEGIN so a writer locks at its start and cannot fail on upgrade later.
    path = sqlite_path(str(engine.url))

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, record) -> None:
        dbapi_conn.isolation_level = None
        sqlite_pragmas(dbapi_conn, synchronous)
        if path:  # which file this connection opened, for check_file
            record.info["file_id"] = file_id(path)

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        conn.exec_driver_sql(conn.get_execution_options().get("sqlite_begin", "BEGIN"))
