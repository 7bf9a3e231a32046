"""Current Canvas state in the store: upserts, observations folded into submissions, dirty marks."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from sqlalchemy import Integer, Row, Text, bindparam, cast, literal, null, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from plugin.rules.submission import UNSET, Observation, SubmissionState, fold
from plugin.store.db import Store
from plugin.store.models import (
    Assignment,
    CourseState,
    Dirty,
    Enrollment,
    Marker,
    ObservationRow,
    Submission,
    User,
)


def _insert(session: Session):
    """The dialect's INSERT with ON CONFLICT support."""
    return _dialect_insert(Store.dialect(session))


def _dialect_insert(dialect: str):
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def upsert(session: Session, model: type, values: dict[str, Any], keys: Iterable[str],
           update_columns: Iterable[str] | None = None) -> None:
    """INSERT … ON CONFLICT DO UPDATE (of `update_columns`, default all given) on both dialects;
    no columns to update means DO NOTHING."""
    keys = tuple(keys)
    chosen = values if update_columns is None else update_columns
    columns = tuple(c for c in chosen if c not in keys)
    statement = _upsert_statement(Store.dialect(session), model, keys, tuple(values), columns)
    session.execute(statement, values)


def upsert_many(session: Session, model: type, rows: list[dict[str, Any]],
                keys: Iterable[str], update_columns: Iterable[str] | None = None) -> None:
    """upsert() of rows of one shape (the same columns), in one executemany."""
    if not rows:
        return
    keys = tuple(keys)
    chosen = rows[0] if update_columns is None else update_columns
    columns = tuple(c for c in chosen if c not in keys)
    statement = _upsert_statement(Store.dialect(session), model, keys, tuple(rows[0]), columns)
    session.execute(statement, rows)


@lru_cache(maxsize=256)
def _upsert_statement(dialect: str, model: type, keys: tuple[str, ...],
                      given: tuple[str, ...], columns: tuple[str, ...]):
    # Built once per shape and run with bound values: building statements is the dear part.
    stmt = _dialect_insert(dialect)(model).values({name: bindparam(name) for name in given})
    if columns:
        return stmt.on_conflict_do_update(
            index_elements=list(keys), set_={c: stmt.excluded[c] for c in columns})
    return stmt.on_conflict_do_nothing(index_elements=list(keys))


def upsert_assignment(session: Session, course_id: int, assignment_id: int,
                      facts: dict[str, Any], when: dt.datetime | None) -> None:
    """Store an assignment's name and points; a name change marks the course's students."""
    old = session.get(Assignment, (course_id, assignment_id))
    if old is not None and is_older(when, old.updated):
        return  # an older assignment event never overwrites a newer one
    values = {"course_id": course_id, "assignment_id": assignment_id, "updated": when, **facts}
    upsert(session, Assignment, values, ("course_id", "assignment_id"))
    course_changed(session, course_id)
    if old is None or facts.get("name", old.name) != old.name or facts.get(
            "points_possible", old.points_possible) != old.points_possible:
        mark_course_dirty(session, course_id)


def is_older(when: dt.datetime | None, stored: dt.datetime | None) -> bool:
    """True when facts from `when` are older than those stored at `stored` (both known)."""
    return bool(stored and when and when < stored)


def upsert_user(session: Session, user_id: int, facts: dict[str, Any]) -> None:
    """Store what is known of a Canvas user; absent facts keep their stored value."""
    facts = {k: v for k, v in facts.items() if v not in (None, "")}
    if not facts:
        return
    old = session.get(User, user_id)
    upsert(session, User, {"user_id": user_id, **facts}, ("user_id",))
    if old is None or any(getattr(old, k) != v for k, v in facts.items()):
        users_changed(session)


def upsert_enrollment(session: Session, course_id: int, user_id: int, workflow_state: str,
                      when: dt.datetime | None) -> None:
    """Store an enrollment state unless a newer one is stored already."""
    old = session.get(Enrollment, (course_id, user_id))
    if old is not None and old.updated and when and when < old.updated:
        return
    upsert(session, Enrollment, {"course_id": course_id, "user_id": user_id,
                                 "state": workflow_state, "updated": when},
           ("course_id", "user_id"))
    course_changed(session, course_id)


def _encode(obs: Observation) -> str:
    out = {}
    for name in ("grade", "score", "points_possible", "grader_id", "posted", "excused",
                 "submitted_at", "workflow_state", "graded_at"):
        value = getattr(obs, name)
        if value is UNSET:
            continue
        out[name] = value.isoformat() if isinstance(value, dt.datetime) else value
    return json.dumps(out, sort_keys=True)


TIME_FIELDS = ("submitted_at", "graded_at")


def decode_observation(row: ObservationRow) -> Observation:
    """The Observation a stored row holds."""
    fields = json.loads(row.fields)
    for name in TIME_FIELDS:
        if fields.get(name):
            fields[name] = dt.datetime.fromisoformat(fields[name])
    return Observation(kind=row.kind, time=row.time, tiebreak=row.source_hash, **fields)


def record_observation(session: Session, course_id: int, assignment_id: int, user_id: int,
                       obs: Observation) -> bool:
    """Add an observation, refold the submission; True when its state changed."""
    key = {"course_id": course_id, "assignment_id": assignment_id, "user_id": user_id}
    upsert(session, ObservationRow, {**key, "source_hash": obs.tiebreak, "kind": obs.kind,
                                     "time": obs.time, "fields": _encode(obs)},
           ("course_id", "assignment_id", "user_id", "source_hash"), update_columns=())
    old = _locked_submission(session, key)
    rows = session.scalars(select(ObservationRow).filter_by(**key)).all()
    new = fold(decode_observation(r) for r in rows)
    if old is not None and to_state(old) == new:
        return False
    upsert(session, Submission, {**key, **_columns(new)}, tuple(key))
    mark_dirty(session, course_id, user_id)
    course_changed(session, course_id)
    return True


def _locked_submission(session: Session, key: dict[str, int]) -> Submission | None:
    """The stored submission, locked so concurrent writers fold one after the other."""
    if Store.dialect(session) != "postgresql":
        return session.get(Submission, tuple(key.values()))  # SQLite: one writer at a time
    session.execute(_insert(session)(Submission).values(**key).on_conflict_do_nothing())
    row = session.scalars(select(Submission).filter_by(**key).with_for_update()).one()
    return None if row.updated is None else row


def _columns(s: SubmissionState) -> dict[str, Any]:
    return {
        "grade": s.grade, "score": s.score, "points_possible": s.points_possible,
        "grader_id": s.grader_id, "posted": s.posted, "excused": s.excused,
        "workflow_state": s.workflow_state, "graded_at": s.graded_at,
        "submitted_times": json.dumps([t.isoformat() for t in s.submitted_times]),
        "grade_since": s.grade_since, "updated": s.updated,
        "posted_grades": json.dumps([[t.isoformat(), g] for t, g in s.posted_grades]),
    }


# The Submission columns a SubmissionState is made of, in the order `state_of` takes them.
STATE_COLUMNS = ("grade", "score", "points_possible", "grader_id", "posted", "excused",
                 "workflow_state", "graded_at", "submitted_times", "grade_since", "updated",
                 "posted_grades")


def to_state(row: Submission | Row) -> SubmissionState:
    """The plain SubmissionState of a stored row (an ORM object or a plain table row)."""
    return state_of(*(getattr(row, name) for name in STATE_COLUMNS))


def state_of(grade, score, points_possible, grader_id, posted, excused, workflow_state,
             graded_at, submitted_times, grade_since, updated,
             posted_grades) -> SubmissionState:
    """The SubmissionState of a row's STATE_COLUMNS values (reading a row by position is
    much cheaper than by name, for the thousands of rows of a run)."""
    return SubmissionState.stored(
        grade=grade, score=score, points_possible=points_possible, grader_id=grader_id,
        posted=bool(posted), excused=bool(excused), workflow_state=workflow_state,
        graded_at=graded_at,
        submitted_times=tuple(map(dt.datetime.fromisoformat, _json_list(submitted_times))),
        grade_since=grade_since, updated=updated,
        posted_grades=tuple((dt.datetime.fromisoformat(t), g)
                            for t, g in _json_list(posted_grades)),
    )


def read_states(session: Session, course_id: int, user_ids: list[int], read_updated: bool = True
                ) -> Iterable[tuple[int, int, SubmissionState]]:
    """(user id, assignment id, state) of the students' stored submissions in a course.

    Read through the driver: row processing in SQLAlchemy costs more than the rest of the
    read. SQLite gives the times as ISO text, PostgreSQL as naive datetimes (both UTC); each
    distinct time is converted once.
    """
    table = Submission.__table__
    columns = [table.c[name] if read_updated or name != "updated" else null()
               for name in STATE_COLUMNS]
    if session.autoflush:  # as session.execute would: pending rows are read too
        session.flush()
    connection = session.connection()
    ids = [int(i) for i in user_ids]  # rendered inline: plain integers only
    stmt = select(table.c.user_id, table.c.assignment_id, *columns).where(
        table.c.course_id == int(course_id), table.c.user_id.in_(ids))
    sql = str(stmt.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))
    times: dict[Any, dt.datetime | None] = {None: None}

    def utc(value):
        if value not in times:
            parsed = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
            times[value] = parsed.replace(tzinfo=dt.UTC)
        return times[value]

    for (user_id, assignment_id, grade, score, points, grader, posted, excused, workflow,
         graded_at, submitted, since, updated, posted_grades) in connection.exec_driver_sql(sql):
        yield user_id, assignment_id, state_of(
            grade, score, points, grader, posted, excused, workflow, utc(graded_at), submitted,
            utc(since), utc(updated), posted_grades)


def _json_list(text: str | None) -> list:
    # Most rows have no posted-grade history: skip the parser for an empty list.
    return [] if not text or text == "[]" else json.loads(text)


def _bump_on_conflict(stmt):
    return stmt.on_conflict_do_update(
        index_elements=["course_id", "user_id"],
        set_={"version": Dirty.version + 1, "due_at": None},
    )


def mark_dirty(session: Session, course_id: int, user_id: int) -> None:
    """Note that a student's results must be recomputed."""
    stmt = _insert(session)(Dirty).values(course_id=course_id, user_id=user_id, version=1,
                                          due_at=None)
    session.execute(_bump_on_conflict(stmt))


def mark_course_dirty(session: Session, course_id: int) -> None:
    """Mark every student with a submission in the course, in one statement."""
    _mark_with_submissions(session, Submission.course_id == course_id)


def mark_students_dirty(session: Session, course_ids: list[int], user_ids: list[int]) -> None:
    """Mark `user_ids` in each of `course_ids` where they have a submission, in one statement."""
    _mark_with_submissions(session, Submission.course_id.in_(course_ids),
                           Submission.user_id.in_(user_ids))


def _mark_with_submissions(session: Session, *where) -> None:
    students = (
        select(Submission.course_id, Submission.user_id, literal(1)).where(*where).distinct()
    )
    stmt = _insert(session)(Dirty).from_select(["course_id", "user_id", "version"], students)
    session.execute(_bump_on_conflict(stmt))


USERS_CHANGED = "users_changed"  # the Marker counting changes to any stored user


def course_changed(session: Session, course_id: int) -> None:
    """Count a write to the course's applied state (cached course views read the count).

    Views only ask whether the count moved, so one bump per course and transaction does.
    """
    transaction = session.get_transaction()
    bumped = session.info.get("courses_changed")
    if bumped is None or bumped[0] is not transaction:
        bumped = session.info["courses_changed"] = (transaction, set())
    if course_id in bumped[1]:
        return
    bumped[1].add(course_id)
    stmt = _insert(session)(CourseState).values(course_id=course_id, changes=1)
    session.execute(stmt.on_conflict_do_update(
        index_elements=["course_id"], set_={"changes": CourseState.changes + 1}))


def users_changed(session: Session) -> None:
    """Count a change to a stored user: a name or identity shows in every course they are in."""
    stmt = _insert(session)(Marker).values(key=USERS_CHANGED, value="1")
    session.execute(stmt.on_conflict_do_update(
        index_elements=["key"], set_={"value": cast(cast(Marker.value, Integer) + 1, Text)}))
