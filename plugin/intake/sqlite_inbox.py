"""The webhook's SQLite write path: SQLAlchemy's statements run on the driver directly.

On the embedded database the engine's per-transaction bookkeeping (pool checkout, BEGIN
through the execution machinery, result objects) costs several times the write itself. Here
one driver connection with the store's pragmas writes every group of the process: only the
group's leader writes (GroupCommit holds its leader lock), and a connection whose last
transaction was its own keeps its page cache, where SQLite empties the cache of a connection
that sees another connection's commit (a connection per thread had every write start cold).
The INSERT (one per group
size: a group is one statement) and the UPDATE are compiled by SQLAlchemy, with the columns'
own bind processors applied before any lock is taken, so rows are stored exactly as the ORM
stores them.

Locking: every call into SQLite lets the GIL go, and getting it back while other requests'
threads run can take a millisecond. A writer holding the store's writer lock (a lock file)
would hold it all that time, and every other writer would wait. So an inbox statement first
runs on SQLite's own lock alone, failing at once if that is busy (no busy timeout); only then
does it queue for the writer lock like every other writer and retry until SQLite's lock is
free too. Uncontended, the lock is held exactly as long as SQLite works.
"""

from __future__ import annotations

import sqlite3
import time

from sqlalchemy.exc import IntegrityError, OperationalError

from plugin.intake.inbox_rows import COUNT_DUPLICATE, INSERT_NEW_SQLITE, statuses
from plugin.store.db import SQLITE_BUSY_SECONDS, FileReplaced, Store, file_id, poll, sqlite_pragmas
from plugin.store.models import Event

COLUMNS = ("content_hash", "webhook_id", "event_name", "event_time", "received_at",
           "receive_count", "status", "reason", "course_id", "assignment_id", "user_id",
           "payload", "applied")
ROWS_PER_STATEMENT = 64  # 832 parameters: within every SQLite's limit (999 before 3.32)
# The commit that takes the WAL past this many pages runs a checkpoint (two fsyncs with
# synchronous=NORMAL) before its statement returns, and its worker's next group waits for it.
# SQLite's default, 1000 pages, is reached about every hundred events; at 4000 there are a
# quarter as many checkpoints, and pages written again and again (the tails of the table and
# its indexes) are copied back once each time. The store's other connections keep the default.
WAL_AUTOCHECKPOINT_PAGES = 4000


class _Compiled:
    """A statement as SQL text with its positional parameter order and bind processors."""

    def __init__(self, statement, dialect, keys: tuple[str, ...] | None = None):
        compiled = statement.compile(dialect=dialect, column_keys=list(keys or ()))
        self.sql = str(compiled)
        self.order = compiled.positiontup
        self.defaults = compiled.params  # e.g. the 1 of receive_count + 1
        columns = Event.__table__.c
        self._steps = [(key, self.defaults.get(key),
                        columns[key].type.bind_processor(dialect) if key in columns else None)
                       for key in self.order]

    def params(self, values: dict) -> tuple:
        out = []
        for key, default, process in self._steps:
            value = values.get(key, default)
            out.append(value if process is None or value is None else process(value))
        return tuple(out)


class SqliteInbox:
    """Writes inbox rows to the store's SQLite file (locking as the module says)."""

    def __init__(self, store: Store, synchronous: str):
        """The INSERT … ON CONFLICT DO NOTHING has no RETURNING: the row count says what
        was new."""
        self.store = store
        self.synchronous = synchronous
        self._dialect = store.engine.dialect
        self.insert = _Compiled(INSERT_NEW_SQLITE, self._dialect, COLUMNS)
        self.duplicate = _Compiled(COUNT_DUPLICATE, self._dialect)
        self._insert_sql: dict[int, str] = {1: self.insert.sql}
        self._conn: sqlite3.Connection | None = None  # callers serialise its use
        self._file_id: tuple[int, int] | None = None  # of the file it opened

    def parameters(self, row: dict) -> tuple:
        """The row as the INSERT's parameters (computed before the lock is taken)."""
        return self.insert.params(row)

    def _insert_many(self, count: int) -> str:
        """The INSERT of `count` rows; its parameters are the rows' parameters in turn."""
        sql = self._insert_sql.get(count)
        if sql is None:
            compiled = INSERT_NEW_SQLITE.values([dict.fromkeys(COLUMNS)] * count).compile(
                dialect=self._dialect)
            if list(compiled.positiontup) != [f"{key}_m{i}" for i in range(count)
                                              for key in self.insert.order]:
                raise RuntimeError("unexpected parameter order in the multi-row INSERT")
            sql = self._insert_sql[count] = str(compiled)
        return sql

    def _count_duplicate(self, conn: sqlite3.Connection, content_hash: str,
                         webhook_id: str | None) -> None:
        self._execute(conn, self.duplicate.sql,
                      self.duplicate.params({"hash": content_hash, "wid": webhook_id}))

    def _connection(self) -> sqlite3.Connection:
        conn = self._conn
        if conn is None:
            conn = sqlite3.connect(self.store.sqlite_file, isolation_level=None,
                                   check_same_thread=False)
            sqlite_pragmas(conn, self.synchronous)
            conn.execute("PRAGMA busy_timeout=0")  # busy is handled by _execute
            conn.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
            self._conn, self._file_id = conn, file_id(self.store.sqlite_file)
        return conn

    def _check_file(self, conn: sqlite3.Connection) -> None:
        """After a commit: the file at the path must be the one written, or no 202 is given.

        A deleted or replaced file keeps its writers writing into a file nobody will read;
        the connection is dropped so the next one opens whatever is at the path now.
        """
        if file_id(self.store.sqlite_file) != self._file_id:
            self._conn = None
            conn.close()
            raise FileReplaced(self.store.sqlite_file)

    def write(self, group: list) -> list[str]:
        """Insert the group's items (with `row` and `parameters`); each row's answer. One
        caller at a time.

        A group that fits one statement is that statement alone, committing by itself; only
        a larger group needs a transaction around its statements.
        """
        conn = self._connection()
        result = self._write(conn, group)
        self._check_file(conn)
        return result

    def _write(self, conn: sqlite3.Connection, group: list) -> list[str]:
        try:
            try:
                if len(group) > ROWS_PER_STATEMENT:
                    self._execute(conn, "BEGIN IMMEDIATE")
                inserted: set[str] = set()
                for start in range(0, len(group), ROWS_PER_STATEMENT):
                    inserted |= self._insert(conn, group[start:start + ROWS_PER_STATEMENT])
                result = statuses([item.row for item in group], inserted,
                                  lambda h, w: self._count_duplicate(conn, h, w))
                if conn.in_transaction:
                    conn.execute("COMMIT")
                return result
            finally:
                if conn.in_transaction:  # left open by a failure
                    conn.execute("ROLLBACK")
        except sqlite3.IntegrityError as exc:
            raise IntegrityError(self.insert.sql, None, exc) from exc
        except sqlite3.OperationalError as exc:
            raise OperationalError(self.insert.sql, None, exc) from exc

    def _execute(self, conn: sqlite3.Connection, sql: str,
                 parameters: tuple | list = ()) -> sqlite3.Cursor:
        """Run one statement on SQLite's lock alone, or under the writer lock when that is
        busy (see the module's docstring)."""
        try:
            return conn.execute(sql, parameters)
        except sqlite3.OperationalError as exc:
            if conn.in_transaction or not _busy(exc):
                raise
        deadline = time.monotonic() + SQLITE_BUSY_SECONDS
        with self.store.writer_lock():
            return poll(lambda: conn.execute(sql, parameters), _busy, deadline)

    def _insert(self, conn: sqlite3.Connection, chunk: list) -> set[str]:
        """Insert the rows in one statement; the hashes of those that were new."""
        parameters = [value for item in chunk for value in item.parameters]
        cursor = self._execute(conn, self._insert_many(len(chunk)), parameters)
        new = cursor.rowcount
        if new == len(chunk):
            return {item.row["content_hash"] for item in chunk}
        if new == 0:
            return set()
        # A new row's id is above every id stored before it, and rows written after the
        # statement get higher ids than its last one: the `new` highest ids up to that last
        # one are the statement's rows.
        return {found for (found,) in conn.execute(_NEWEST, (cursor.lastrowid, new))}


_NEWEST = "SELECT content_hash FROM events WHERE id <= ? ORDER BY id DESC LIMIT ?"


def _busy(exc: Exception) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and exc.sqlite_errorcode in (
        sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
