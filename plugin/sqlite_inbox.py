"""The webhook's SQLite write path: SQLAlchemy's statements run on the driver directly.

On the embedded database the engine's per-transaction bookkeeping (pool checkout, BEGIN
through the execution machinery, result objects) costs several times the write itself. Here
each thread keeps one driver connection with the store's pragmas; the INSERT and UPDATE are
compiled by SQLAlchemy once, with the columns' own bind processors, so rows are stored
exactly as the ORM stores them.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable

from sqlalchemy.exc import IntegrityError, OperationalError

from .db import SQLITE_BUSY_SECONDS, Store, sqlite_pragmas
from .models import Event

COLUMNS = ("content_hash", "webhook_id", "event_name", "event_time", "received_at",
           "receive_count", "status", "reason", "course_id", "assignment_id", "user_id",
           "payload", "applied")


class _Compiled:
    """A statement as SQL text with its positional parameter order and bind processors."""

    def __init__(self, statement, dialect, keys: tuple[str, ...] | None = None):
        compiled = statement.compile(dialect=dialect, column_keys=list(keys or ()))
        self.sql = str(compiled)
        self.order = compiled.positiontup
        self.defaults = compiled.params  # e.g. the 1 of receive_count + 1
        columns = Event.__table__.c
        self.processors: dict[str, Callable | None] = {
            key: columns[key].type.bind_processor(dialect) if key in columns else None
            for key in self.order
        }

    def params(self, values: dict) -> tuple:
        out = []
        for key in self.order:
            value = values[key] if key in values else self.defaults[key]
            process = self.processors[key]
            out.append(process(value) if process and value is not None else value)
        return tuple(out)


class SqliteInbox:
    """Writes inbox rows to the store's SQLite file under the store's writer lock."""

    def __init__(self, store: Store, synchronous: str, insert, duplicate):
        """`insert` and `duplicate`: the inbox's INSERT … RETURNING and its duplicate count."""
        self.store = store
        self.synchronous = synchronous
        dialect = store.engine.dialect
        self.insert = _Compiled(insert, dialect, COLUMNS)
        self.duplicate = _Compiled(duplicate, dialect)
        self._local = threading.local()

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.store.sqlite_file, timeout=SQLITE_BUSY_SECONDS,
                                   isolation_level=None, check_same_thread=False)
            sqlite_pragmas(conn, self.synchronous)
            self._local.conn = conn
        return conn

    def write(self, take_rows: Callable[[], list[dict]], statuses: Callable) -> list[str]:
        """Insert the rows `take_rows()` gives once the lock is held, in one transaction;
        `statuses(rows, inserted, mark_duplicate)` gives each row's answer."""
        conn = self._connection()
        try:
            with self.store.writer_lock():
                conn.execute("BEGIN IMMEDIATE")
                try:
                    rows = take_rows()
                    inserted = set()
                    for row in rows:
                        found = conn.execute(self.insert.sql, self.insert.params(row)).fetchone()
                        if found:
                            inserted.add(found[0])
                    result = statuses(rows, inserted, lambda h, w: conn.execute(
                        self.duplicate.sql, self.duplicate.params({"hash": h, "wid": w})))
                    conn.execute("COMMIT")
                    return result
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
        except sqlite3.IntegrityError as exc:
            raise IntegrityError(self.insert.sql, None, exc) from exc
        except sqlite3.OperationalError as exc:
            raise OperationalError(self.insert.sql, None, exc) from exc
