"""The inbox's statements and answers, shared by the PostgreSQL and SQLite write paths."""

from __future__ import annotations

from sqlalchemy import bindparam, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from plugin.status import DUPLICATE
from plugin.store.models import Event

COUNT_DUPLICATE = (
    update(Event)
    .where((Event.content_hash == bindparam("hash")) | (Event.webhook_id == bindparam("wid")))
    .values(receive_count=Event.receive_count + 1)
)
# Without a conflict target: a clash on the content hash or on the webhook-id is a duplicate.
INSERT_NEW = postgresql.insert(Event).on_conflict_do_nothing().returning(Event.content_hash)
INSERT_NEW_SQLITE = sqlite.insert(Event).on_conflict_do_nothing()  # see SqliteInbox


def receive(conn: Connection, rows: list[dict]) -> list[str]:
    """Record inbox rows (see `inbox.inbox_row`): accepted, duplicate or ignored each.

    One multi-row INSERT for the lot: the webhook's cost is mostly statement handling.
    """
    inserted = set(conn.execute(INSERT_NEW, rows).scalars())
    return statuses(rows, inserted, lambda content_hash, webhook_id: conn.execute(
        COUNT_DUPLICATE, {"hash": content_hash, "wid": webhook_id}))


def statuses(rows: list[dict], inserted: set[str], mark_duplicate) -> list[str]:
    """Each row's answer given the hashes that were inserted; counts the duplicates."""
    out, seen = [], set()
    for row in rows:
        if row["content_hash"] in inserted and row["content_hash"] not in seen:
            seen.add(row["content_hash"])
            out.append(row["status"])
        else:
            mark_duplicate(row["content_hash"], row["webhook_id"])
            out.append(DUPLICATE)
    return out
