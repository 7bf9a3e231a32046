"""The webhook's SQLite write path: SQLAlchemy's statements run on the driver directly.

On the embedded database the engine's per-transaction bookkeeping (pool checkout, BEGIN
through the execution machinery, result objects) costs several times the write itself. Here
each thread keeps one driver connection with the store's pragmas; the INSERT (one per group
size: a group is one statement) and the UPDATE are compiled by SQLAlchemy, with the columns'
own bind processors applied before the lock is taken, so rows are stored exactly as the ORM
stores them.
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
ROWS_PER_STATEMENT = 64  # 832 parameters: within every SQLite's limit (999 before 3.32)


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
        self._dialect = store.engine.dialect
        self._insert_statement = insert
        self.insert = _Compiled(insert, self._dialect, COLUMNS)
        self.duplicate = _Compiled(duplicate, self._dialect)
        self._insert_sql: dict[int, str] = {1: self.insert.sql}
        self._local = threading.local()

    def parameters(self, row: dict) -> tuple:
        """The row as the INSERT's parameters (computed before the lock is taken)."""
        return self.insert.params(row)

    def _insert_many(self, count: int) -> str:
        """The INSERT of `count` rows; its parameters are the rows' parameters in turn."""
        sql = self._insert_sql.get(count)
        if sql is None:
            compiled = self._insert_statement.values([dict.fromkeys(COLUMNS)] * count).compile(
                dialect=self._dialect)
            if list(compiled.positiontup) != [f"{key}_m{i}" for i in range(count)
                                              for key in self.insert.order]:
                raise RuntimeError("unexpected parameter order in the multi-row INSERT")
            sql = self._insert_sql[count] = str(compiled)
        return sql

    def _count_duplicate(self, conn: sqlite3.Connection, content_hash: str,
                         webhook_id: str | None) -> None:
        conn.execute(self.duplicate.sql,
                     self.duplicate.params({"hash": content_hash, "wid": webhook_id}))

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.store.sqlite_file, timeout=SQLITE_BUSY_SECONDS,
                                   isolation_level=None, check_same_thread=False)
            sqlite_pragmas(conn, self.synchronous)
            self._local.conn = conn
        return conn

    def write(self, take: Callable[[], list], statuses: Callable) -> list[str]:
        """Insert what `take()` gives once the lock is held (items with `row` and
        `parameters`), in one transaction; `statuses(rows, inserted, mark_duplicate)` gives
        each row's answer."""
        conn = self._connection()
        try:
            with self.store.writer_lock():
                conn.execute("BEGIN IMMEDIATE")
                try:
                    group = take()
                    inserted: set[str] = set()
                    for start in range(0, len(group), ROWS_PER_STATEMENT):
                        chunk = group[start:start + ROWS_PER_STATEMENT]
                        parameters = [value for item in chunk for value in item.parameters]
                        cursor = conn.execute(self._insert_many(len(chunk)), parameters)
                        inserted.update(found for (found,) in cursor)
                    result = statuses([item.row for item in group], inserted,
                                      lambda h, w: self._count_duplicate(conn, h, w))
                    conn.execute("COMMIT")
                    return result
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
        except sqlite3.IntegrityError as exc:
            raise IntegrityError(self.insert.sql, None, exc) from exc
        except sqlite3.OperationalError as exc:
            raise OperationalError(self.insert.sql, None, exc) from exc
