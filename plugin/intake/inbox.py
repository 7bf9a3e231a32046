"""The event inbox: store each Canvas event durably, in one small write transaction.

The webhook only commits the event, so it answers fast and a 202 means the event survives
anything after it; applying it to the state is `intake.apply`'s work, later.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy import bindparam, select

from plugin.canvas.events import ParsedEvent
from plugin.clock import utcnow
from plugin.intake.inbox_rows import receive
from plugin.intake.sqlite_inbox import SqliteInbox
from plugin.settings import Settings
from plugin.status import ACCEPTED, IGNORED, NOT_CONFIGURED
from plugin.store.db import Store, is_lock_timeout
from plugin.store.models import Assignment

_COURSE_OF_ASSIGNMENT = (
    select(Assignment.course_id).where(Assignment.assignment_id == bindparam("aid")).limit(1)
)


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
        self._sqlite = SqliteInbox(store, settings.sqlite_synchronous) if store.sqlite else None

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
                answers = self._sqlite.write(group)
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
