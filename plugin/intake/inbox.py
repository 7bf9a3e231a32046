"""The event inbox: store each Canvas event durably, then apply accepted ones to the state.

The webhook only commits the event (one small write transaction), so it answers fast and a
202 means the event survives anything after it; `apply_pending` folds accepted events into
the current state in batches (the scheduler process does it continuously, and an export run
catches up first). Reads never apply: they count what still waits (`pending_events`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from plugin.canvas.events import ParsedEvent, parse
from plugin.clock import utcnow
from plugin.intake.sqlite_inbox import SqliteInbox
from plugin.settings import Settings
from plugin.status import ACCEPTED, DUPLICATE, IGNORED
from plugin.store import state
from plugin.store.db import APPLY_LOCK_KEY, Store, is_lock_timeout
from plugin.store.models import IGNORED_EVENTS, PENDING_EVENTS, Assignment, Event

NOT_CONFIGURED = "course not configured"
APPLY_BATCH = 100  # keeps each apply transaction short: webhooks wait for the lock


_DUPLICATE = (
    update(Event)
    .where((Event.content_hash == bindparam("hash")) | (Event.webhook_id == bindparam("wid")))
    .values(receive_count=Event.receive_count + 1)
)
# Without a conflict target: a clash on the content hash or on the webhook-id is a duplicate.
_INSERT_NEW = postgresql.insert(Event).on_conflict_do_nothing().returning(Event.content_hash)
_INSERT_NEW_SQLITE = sqlite.insert(Event).on_conflict_do_nothing()  # see SqliteInbox

_COURSE_OF_ASSIGNMENT = (
    select(Assignment.course_id).where(Assignment.assignment_id == bindparam("aid")).limit(1)
)


def receive(conn: Connection, rows: list[dict]) -> list[str]:
    """Record inbox rows (see `inbox_row`): accepted, duplicate or ignored each.

    One multi-row INSERT for the lot: the webhook's cost is mostly statement handling.
    """
    inserted = set(conn.execute(_INSERT_NEW, rows).scalars())
    return statuses(rows, inserted, lambda content_hash, webhook_id: conn.execute(
        _DUPLICATE, {"hash": content_hash, "wid": webhook_id}))


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


def inbox_row(store: Store, settings: Settings, event: ParsedEvent,
              webhook_id: str | None) -> dict:
    """The inbox row of an event: its course resolved, accepted or ignored with a reason."""
    if event.ignore is None and event.course_id is None and event.assignment_id is not None:
        with store.read() as session:  # rare: only events that name no course
            event.course_id = session.scalar(_COURSE_OF_ASSIGNMENT,
                                             {"aid": event.assignment_id})
    reason = event.ignore or _course_problem(settings, event)
    return {
        "content_hash": event.content_hash, "webhook_id": webhook_id, "event_name": event.name,
        "event_time": event.event_time, "received_at": utcnow(), "receive_count": 1,
        "status": IGNORED if reason else ACCEPTED, "reason": reason,
        "course_id": event.course_id, "assignment_id": event.assignment_id,
        "user_id": event.user_id, "payload": event.canonical, "applied": reason is not None,
    }


def _course_problem(settings: Settings, event: ParsedEvent) -> str | None:
    if event.course_id is None:
        return "course unknown (no course context and assignment not seen yet)"
    if settings.course(event.course_id) is None:
        return NOT_CONFIGURED
    return None


def apply_event(session: Session, event: ParsedEvent) -> None:
    """Apply a usable event's facts to the current state."""
    course = event.course_id
    if event.assignment:
        state.upsert_assignment(session, course, event.assignment_id, event.assignment,
                                event.event_time)
    if event.user and event.user_id is not None:
        state.upsert_user(session, event.user_id, event.user)
    if event.enrollment_state is not None:
        state.upsert_enrollment(session, course, event.user_id, event.enrollment_state,
                                event.event_time)
    if event.observation is not None:
        state.record_observation(session, course, event.assignment_id, event.user_id,
                                 event.observation)


def _apply_rows(session: Session, rows) -> None:
    for row in rows:
        event = parse(json.loads(row.payload))
        event.course_id = row.course_id  # as resolved on receipt
        if event.ignore is None:
            apply_event(session, event)
    session.execute(update(Event).where(Event.id.in_([r.id for r in rows])).values(applied=True))


def apply_pending(store: Store, limit: int | None = None) -> int:
    """Apply accepted events not yet applied, oldest first; returns how many were applied."""
    done = 0
    while limit is None or done < limit:
        with store.write() as session:
            store.lock(session, APPLY_LOCK_KEY)
            rows = session.execute(
                select(Event.id, Event.payload, Event.course_id)
                .where(PENDING_EVENTS).order_by(Event.id).limit(APPLY_BATCH)
            ).all()
            if not rows:
                return done
            _apply_rows(session, rows)
        done += len(rows)
    return done


def pending_events(session: Session, course_id: int | None = None) -> int:
    """How many accepted events wait to be applied: of one course, or of all."""
    stmt = select(func.count()).select_from(Event).where(PENDING_EVENTS)
    if course_id is not None:
        stmt = stmt.where(Event.course_id == course_id)
    return session.scalar(stmt)


def oldest_pending(session: Session):
    """When the oldest accepted event still waiting to be applied was received, or None."""
    return session.scalar(select(func.min(Event.received_at)).where(PENDING_EVENTS))


def replay_ignored(session: Session, course_id: int) -> int:
    """Queue for applying the stored events of a newly configured course."""
    result = session.execute(
        update(Event)
        .where(Event.course_id == course_id, IGNORED_EVENTS, Event.reason == NOT_CONFIGURED)
        .values(status=ACCEPTED, reason=None, applied=False)
    )
    return result.rowcount


class _Queued:
    """An inbox row waiting for its group: its statement parameters, then its answer.

    The answer is written and read under the group leader lock, which orders the two.
    """

    __slots__ = ("row", "parameters", "done", "status", "error")

    def __init__(self, row: dict, parameters: tuple) -> None:
        self.row, self.parameters = row, parameters
        self.done, self.status, self.error = False, None, None

    def answer(self, status: str | None = None, error: BaseException | None = None) -> None:
        self.done, self.status, self.error = True, status, error


class GroupCommit:
    """Commits the events of concurrent requests together: one lock, one commit per group.

    Each request waits until its own event is committed, so a 202 still means durable. The
    first waiting thread leads: it writes everything queued so far in one commit, while later
    arrivals queue for the next group. A group that fails is retried one by one, so one
    bad event fails only its own request.
    """

    def __init__(self, store: Store, settings: Settings):
        self.store, self.settings = store, settings
        self._queue: list[_Queued] = []
        self._queue_lock = threading.Lock()
        self._leader = threading.Lock()
        self._sqlite = SqliteInbox(store, settings.sqlite_synchronous, _INSERT_NEW_SQLITE,
                                   _DUPLICATE) if store.sqlite else None

    def submit(self, event: ParsedEvent, webhook_id: str | None) -> str:
        """Store one event; returns accepted, duplicate or ignored once it is committed."""
        # Everything but the statements happens before the lock, which the writers share.
        row = inbox_row(self.store, self.settings, event, webhook_id)
        queued = _Queued(row, self._sqlite.parameters(row) if self._sqlite else ())
        with self._queue_lock:
            self._queue.append(queued)
        with self._leader:
            if not queued.done:
                self._write(self._take)
        if queued.error is not None:
            raise queued.error
        return queued.status

    def _take(self) -> list[_Queued]:
        with self._queue_lock:
            group, self._queue = self._queue, []
        return group

    def _write(self, take: Callable[[], list[_Queued]]) -> None:
        """Write what `take()` gives; on PostgreSQL it is taken once the write transaction
        has begun, so whoever queued meanwhile joins this group."""
        group: list[_Queued] = []
        try:
            if self._sqlite is not None:
                group.extend(take())
                answers = self._sqlite.write(group, statuses)
            else:
                with self.store.write_connection() as conn:
                    group.extend(take())
                    answers = receive(conn, [queued.row for queued in group])
        except Exception as exc:  # reported to its requests, or retried one by one
            if not group:  # failed before taking its group (e.g. the lock timed out)
                group.extend(take())
            if len(group) == 1 or is_lock_timeout(exc):
                for queued in group:
                    queued.answer(error=exc)
            else:
                for queued in group:
                    self._write(lambda queued=queued: [queued])
            return
        for queued, status in zip(group, answers, strict=True):
            queued.answer(status)
