"""What the store would hold once the waiting events are applied, kept in memory.

A dry run decides as if every event received before it started were applied, yet writes
nothing: it folds those events here through the same `apply_event` the scheduler uses (and,
for an export preview, what Canvas answers about names and identities), and reads this over
the store. Each submission the events touch is folded from its stored observations and the new
ones, by the same rule (`rules.submission.fold`), so the result is what applying would store.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, or_, select, tuple_
from sqlalchemy.orm import Session

from plugin.intake.apply import apply_rows, refresh_courses
from plugin.rules.course_config import CourseConfig
from plugin.rules.submission import Observation, SubmissionState, fold
from plugin.settings import Settings
from plugin.status import NOT_CONFIGURED
from plugin.store.db import Store
from plugin.store.models import (
    IGNORED_EVENTS,
    PENDING_EVENTS,
    Assignment,
    Event,
    ObservationRow,
    User,
)
from plugin.store.state import decode_observation, is_older

# A read (a page, the JSON preview, a student report) folds at most this many waiting events;
# with more waiting (the scheduler down, say) it shows the store as it is and says so.
READ_FOLD_LIMIT = 500
USER_FACTS = ("name", "email", "sis_user_id", "integration_id", "login_id", "looked_up_at")
Key = tuple[int, int, int]  # course, assignment, user


class Overlay:
    """Assignments, users and submissions as the waiting events leave them; a Sink."""

    def __init__(self) -> None:
        self.events = 0  # events folded in: received, not yet applied to the store
        self.backlog = 0  # events waiting that were too many to fold (none folded then)
        self.assignments: dict[tuple[int, int], dict[str, Any]] = {}
        self.users: dict[int, dict[str, Any]] = {}
        self.submissions: dict[Key, SubmissionState] = {}
        self._assignment_facts: dict[tuple[int, int], list] = defaultdict(list)
        self._observations: dict[Key, list[Observation]] = defaultdict(list)

    # --- the Sink apply_event writes to ----------------------------------------------------

    def assignment(self, course_id: int, assignment_id: int, facts: dict[str, Any],
                   when: dt.datetime | None) -> None:
        self._assignment_facts[(course_id, assignment_id)].append((when, dict(facts)))

    def user(self, user_id: int, facts: dict[str, Any]) -> None:
        kept = {k: v for k, v in facts.items() if v not in (None, "")}
        if kept:
            self.users.setdefault(user_id, {}).update(kept)

    def enrollment(self, course_id: int, user_id: int, workflow_state: str,
                   when: dt.datetime | None) -> None:
        """Enrollment states decide no result: nothing to keep."""

    def observation(self, course_id: int, assignment_id: int, user_id: int,
                    obs: Observation) -> None:
        self._observations[(course_id, assignment_id, user_id)].append(obs)

    # --- folding ---------------------------------------------------------------------------

    def settle(self, session: Session) -> Overlay:
        """Fold what was added with what the store holds (assignments and submissions)."""
        self._settle_assignments(session)
        self._settle_submissions(session)
        return self

    def _settle_assignments(self, session: Session) -> None:
        keys = list(self._assignment_facts)
        stored = {(r.course_id, r.assignment_id): r for r in _rows_by_key(
            session, Assignment, (Assignment.course_id, Assignment.assignment_id), keys)}
        for key in keys:
            row = stored.get(key)
            current = self.assignments.get(key) or (
                {"name": row.name, "points_possible": row.points_possible, "updated": row.updated}
                if row is not None else {"name": None, "points_possible": None, "updated": None})
            for when, facts in self._assignment_facts[key]:
                if not is_older(when, current["updated"]):
                    current = {**current, **facts, "updated": when}
            self.assignments[key] = current
        self._assignment_facts.clear()

    def _settle_submissions(self, session: Session) -> None:
        keys = list(self._observations)
        stored: dict[Key, list[Observation]] = defaultdict(list)
        for row in _rows_by_key(session, ObservationRow, (
                ObservationRow.course_id, ObservationRow.assignment_id, ObservationRow.user_id),
                keys):
            stored[(row.course_id, row.assignment_id, row.user_id)].append(
                decode_observation(row))
        for key in keys:
            seen = {o.tiebreak for o in stored[key]}
            new = [o for o in self._observations[key] if o.tiebreak not in seen]
            self.submissions[key] = fold(stored[key] + list({o.tiebreak: o for o in new}.values()))
        self._observations.clear()

    # --- reading it over the store ---------------------------------------------------------

    def students(self, course_id: int) -> set[int]:
        """Students with a submission the waiting events touch in the course."""
        return {u for c, _a, u in self.submissions if c == course_id}

    def submissions_of(self, course_id: int) -> Iterable[tuple[int, int, SubmissionState]]:
        """(user, assignment, state) of the course's submissions the events touch."""
        return ((u, a, s) for (c, a, u), s in self.submissions.items() if c == course_id)

    def named(self, course_id: int) -> dict[int, dict[str, Any]]:
        """Assignment id -> its facts after the events, for the course's touched assignments."""
        return {a: facts for (c, a), facts in self.assignments.items() if c == course_id}

    def person(self, user_id: int, stored: User | None) -> User | None:
        """The user as the store has it with the events' facts over it (never attached)."""
        facts = self.users.get(user_id)
        if not facts:
            return stored
        values = {k: getattr(stored, k) for k in USER_FACTS} if stored is not None else {}
        return User(user_id=user_id, **{**values, **facts})


def _rows_by_key(session: Session, model: type, columns: tuple, keys: list[tuple]) -> list:
    """The rows of `model` whose `columns` are one of `keys`, in chunks."""
    found = []
    for start in range(0, len(keys), 500):
        chunk = keys[start:start + 500]
        found += session.scalars(select(model).where(tuple_(*columns).in_(chunk))).all()
    return found


def _waiting(course_ids: list[int], replayed: list[int]):
    """Which events a run applies first: those accepted and not yet applied, and the stored
    events of newly configured courses (`replayed`) that wait for their replay."""
    pending = PENDING_EVENTS & Event.course_id.in_(course_ids)
    if not replayed:
        return pending
    return or_(pending, Event.course_id.in_(replayed) & IGNORED_EVENTS
               & (Event.reason == NOT_CONFIGURED))


def pending_overlay(session: Session, course_ids: Iterable[int],
                    replayed: Iterable[int] = (), limit: int | None = None) -> Overlay:
    """The waiting events of `course_ids` (and the replays of `replayed`), oldest first,
    folded in memory. Beyond `limit` waiting events none are folded (`backlog` says how many
    wait): a read then shows the store as it is rather than fold a pile it cannot fold fast."""
    where = _waiting(list(course_ids), list(replayed))
    overlay = Overlay()
    if limit is not None:
        waiting = session.scalar(select(func.count()).select_from(Event).where(where))
        if waiting > limit:
            overlay.backlog = waiting
            return overlay
    rows = session.execute(select(Event.id, Event.payload, Event.course_id).where(where)
                           .order_by(Event.id)).all()
    apply_rows(overlay, rows)
    overlay.events = len(rows)
    return overlay.settle(session)


def waiting_overlay(store: Store, settings: Settings, courses: list[CourseConfig],
                    limit: int | None = None) -> Overlay:
    """What a read decides on: the courses' waiting events (and, for a newly configured
    course, its stored events still to be replayed) folded in memory; nothing is written."""
    replayed = refresh_courses(store, settings, courses, dry_run=True)
    with store.read() as session:
        return pending_overlay(session, [c.canvas_id for c in courses], replayed, limit)
