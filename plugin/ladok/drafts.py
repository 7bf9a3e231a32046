"""The export's Ladok stage in "drafts" mode: put the results the ledger holds into Ladok as
drafts ("utkast"), and read back what Ladok shows for those it holds.

It runs after a run has decided and committed its ledger rows and before its files are
written, and it works on every result not yet in Ladok, this run's and earlier ones' (so a
result refused or held up by an unreachable Ladok goes at the next run). Under one lock
(PostgreSQL advisory lock; a lock file beside an SQLite database) so concurrent runs never
send a result twice, it:

1. reads the ledger's latest version of each key of the courses and what Ladok confirmed;
2. reads the rounds' modules, the grade scales, and each needed module's study results (paged);
3. decides per result (`rules.ladok.draft_action`): record what Ladok already holds (a crash
   after Ladok's answer creates nothing twice), create, update, or leave it for a person;
4. creates and updates drafts in bulk; a refusal concerns that student's line alone;
5. records what Ladok confirmed (with its result UID), refused, or shows now.

Ladok unreachable: nothing more is sent, the lines stay "not yet in Ladok", and the admins get
one alert per cause (not one per run) until a run reaches Ladok again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from sqlalchemy import and_, delete, func, select
from sqlalchemy.orm import Session

from plugin.clock import utcnow
from plugin.ladok.client import LadokClient
from plugin.ladok.errors import LadokError
from plugin.ladok.model import (
    ALL_STATES,
    DraftUpdate,
    GradeScale,
    LadokResult,
    NewDraft,
    StudyResult,
    by_identity,
    identity_key,
)
from plugin.mail import alerts
from plugin.rules import ladok as rules
from plugin.rules.course_config import CourseConfig
from plugin.settings import Settings
from plugin.settings.ladok import connected
from plugin.status import CORRECTION, NEW, WITHDRAWN
from plugin.store import state
from plugin.store.db import LADOK_LOCK_KEY, Store, WriterLock
from plugin.store.models import LadokDraft, LedgerEntry, Marker

log = logging.getLogger(__name__)
DOWN_MARKER = "ladok.down"  # the cause of the current outage, alerted once
RECORDED_MARKER = "ladok.recorded"  # moves whenever the stage records: cached views renew
LOCK_WAIT = 3600.0  # seconds a run waits for another run's Ladok stage
KEY = ("user_id", "ladok_code", "component_code")


@dataclass
class Line:
    """The ledger's latest version of one key, and what Ladok confirmed for it."""

    user_id: int
    ladok_code: str
    component_code: str
    version: int
    status: str
    course_id: int
    student_id: str
    name: str
    grade: str
    exam_date: str
    confirmed: int | None  # the version Ladok confirmed
    result_uid: str | None
    state: str | None
    problem_version: int | None

    @property
    def key(self) -> tuple[int, str, str]:
        return (self.user_id, self.ladok_code, self.component_code)

    @property
    def unsent(self) -> bool:
        return self.status in (NEW, CORRECTION) and self.confirmed != self.version

    @property
    def read_back(self) -> bool:
        return (self.status in (NEW, CORRECTION) and self.confirmed == self.version
                and self.state != rules.ATTESTERAD)


@dataclass
class LadokSummary:
    """What the stage did: results sent and confirmed, found already in Ladok, refused, left
    for people, still waiting; the error that stopped it; Ladok requests made."""

    sent: int = 0
    recorded: int = 0
    refused: list[dict] = field(default_factory=list)
    by_hand: list[dict] = field(default_factory=list)
    waiting: int = 0
    error: str | None = None
    requests: int = 0

    def as_dict(self) -> dict:
        return {"sent": self.sent, "recorded": self.recorded, "refused": self.refused,
                "by_hand": self.by_hand, "waiting": self.waiting, "error": self.error,
                "requests": self.requests}


@dataclass
class Target:
    """Where a component's results go on a set of rounds: an education instance."""

    instance_uid: str
    scale_id: int | None
    rounds: list[str]


def open_client(settings: Settings) -> LadokClient:
    """The Ladok client of the stage (tests replace it to skip real waits)."""
    return LadokClient.from_settings(settings)


def after_writes() -> None:
    """Called between Ladok's answers and the commit that records them (a test's hook)."""


def send_drafts(store: Store, settings: Settings, run_id: int | None,
                course_id: int | None = None, now: dt.datetime | None = None
                ) -> LadokSummary | None:
    """The stage for the courses (or one) connected to Ladok; None when none is."""
    courses = [c for c in settings.courses
               if connected(settings, c) and course_id in (None, c.canvas_id)]
    if not courses:
        return None
    now = now or utcnow()
    summary = LadokSummary()
    with _stage_lock(store):
        with store.read() as session:
            lines = _read_lines(session, courses)
        records = _withdrawal_notes(lines, run_id, now)
        work = [line for line in lines if line.unsent or line.read_back]
        if work:
            try:
                client = open_client(settings)
            except LadokError as exc:
                summary.error = str(exc)
            else:
                with client:
                    records += _talk(client, settings, courses, work, run_id, now, summary)
                    summary.requests = client.requests
        summary.waiting = sum(1 for line in lines if line.unsent) - summary.sent \
            - summary.recorded
        after_writes()
        with store.write() as session:
            _record(session, records)
            news = _outage_news(session, summary.error)
    if news:  # in a transaction of its own, after ours
        alerts.note(store, settings, "ladok_unreachable", summary.error or "", now)
    return summary


@contextlib.contextmanager
def _stage_lock(store: Store) -> Iterator[None]:
    """One Ladok stage at a time across processes and hosts, without holding the database's
    write lock while Ladok answers."""
    if store.sqlite_file:
        with WriterLock(store.sqlite_file + ".ladok").hold(LOCK_WAIT):
            yield
        return
    with store.read() as session:
        store.lock(session, LADOK_LOCK_KEY)
        yield


def _read_lines(session: Session, courses: list[CourseConfig]) -> list[Line]:
    codes = sorted({c.ladok_code for c in courses})
    latest = (select(LedgerEntry.user_id, LedgerEntry.ladok_code, LedgerEntry.component_code,
                     func.max(LedgerEntry.version).label("version"))
              .where(LedgerEntry.ladok_code.in_(codes))
              .group_by(LedgerEntry.user_id, LedgerEntry.ladok_code,
                        LedgerEntry.component_code).subquery())
    same_key = [getattr(LedgerEntry, k) == getattr(latest.c, k) for k in KEY]
    draft_key = [getattr(LedgerEntry, k) == getattr(LadokDraft, k) for k in KEY]
    rows = session.execute(
        select(LedgerEntry, LadokDraft)
        .join(latest, and_(*same_key, LedgerEntry.version == latest.c.version))
        .outerjoin(LadokDraft, and_(*draft_key))
        .where(LedgerEntry.course_id.in_([c.canvas_id for c in courses]))
        .order_by(LedgerEntry.user_id, LedgerEntry.component_code))
    return [Line(e.user_id, e.ladok_code, e.component_code, e.version, e.status, e.course_id,
                 e.student_id, e.student_name or "", e.grade or "", e.exam_date or "",
                 d.version if d else None, d.result_uid if d else None,
                 d.state if d else None, d.problem_version if d else None)
            for e, d in rows]


def _withdrawal_notes(lines: list[Line], run_id: int | None, now: dt.datetime) -> list[dict]:
    """A withdrawn result Ladok holds is left for a person (no call removes a result)."""
    return [_problem(line, rules.WITHDRAWN_NOTE, run_id, now) for line in lines
            if line.status == WITHDRAWN and line.result_uid
            and line.problem_version != line.version]


def _talk(client: LadokClient, settings: Settings, courses: list[CourseConfig],
          work: list[Line], run_id: int | None, now: dt.datetime,
          summary: LadokSummary) -> list[dict]:
    """Read what Ladok holds, send what it lacks; the rows to record."""
    records: list[dict] = []
    try:
        targets = _targets(client, courses)
        scales = client.grade_scales()
        found = _search(client, targets, work)
    except LadokError as exc:
        summary.error = str(exc)
        return records
    creates: list[NewDraft] = []
    updates: list[DraftUpdate] = []
    for line in work:
        where = _locate(line, targets, found)
        if isinstance(where, str) and line.read_back:
            continue  # no longer found: what Ladok showed last stays shown
        if isinstance(where, str):
            records.append(_problem(line, where, run_id, now))
            _refused(summary, line, where)
            continue
        target, study_result = where
        if line.read_back:
            records += _read_back(line, target, study_result, run_id, now)
            continue
        records += _plan_line(line, target, study_result, scales, run_id, now, summary,
                              creates, updates)
    _write(client, creates, updates, run_id, now, summary, records)
    return records


def _targets(client: LadokClient, courses: list[CourseConfig]
             ) -> dict[tuple[str, str], list[Target]]:
    """(ladok code, component code) -> the instances of the course's rounds it goes to."""
    by_code: dict[tuple[str, str], dict[str, Target]] = defaultdict(dict)
    for course in courses:
        for round_uid in course.ladok_rounds:
            round_ = client.course_round(round_uid)
            places = [(course.ladok_code, round_.instance_uid, round_.scale_id)] + [
                (m.code, m.uid, m.scale_id) for m in round_.modules]
            for code, instance, scale in places:
                target = by_code[(course.ladok_code, code.upper())].setdefault(
                    instance, Target(instance, scale, []))
                target.rounds.append(round_uid)
    return {key: list(found.values()) for key, found in by_code.items()}


def _search(client: LadokClient, targets: dict[tuple[str, str], list[Target]],
            work: list[Line]) -> dict[str, dict[str, StudyResult]]:
    """Each needed instance's study results on its rounds, by identity key."""
    needed = {t.instance_uid: t for line in work
              for t in targets.get((line.ladok_code, line.component_code.upper()), [])}
    return {uid: by_identity(client.study_results(uid, t.rounds, states=ALL_STATES))
            for uid, t in needed.items()}


def _locate(line: Line, targets: dict[tuple[str, str], list[Target]],
            found: dict[str, dict[str, StudyResult]]) -> tuple[Target, StudyResult] | str:
    """The instance and the student's study result for the line, or why there is none."""
    places = targets.get((line.ladok_code, line.component_code.upper()))
    if not places:
        return (f"{line.component_code}: no module with this code on the course's rounds in "
                "Ladok (see ladok-check)")
    key = identity_key(line.student_id)
    for target in places:
        study_result = found.get(target.instance_uid, {}).get(key)
        if study_result is not None:
            return target, study_result
    return "the student is not registered on the course's rounds in Ladok"


def _held(result: LadokResult | None, scale: GradeScale | None) -> rules.Held | None:
    if result is None:
        return None
    code = result.grade_code or next(
        (g.code for g in (scale.grades if scale else ()) if g.id == result.grade_id), "")
    return rules.Held(result.uid, code, result.exam_date, result.state)


def _plan_line(line: Line, target: Target, study_result: StudyResult,
               scales: dict[int, GradeScale], run_id: int | None, now: dt.datetime,
               summary: LadokSummary, creates: list[NewDraft],
               updates: list[DraftUpdate]) -> list[dict]:
    scale = scales.get(target.scale_id or -1)
    grade = scale.grade(line.grade) if scale else None
    if scale is None or grade is None:
        text = (f"{line.component_code}: grade {line.grade} is not on Ladok's grade scale "
                f"({scale.codes() if scale else 'unknown scale'})")
        _refused(summary, line, text)
        return [_problem(line, text, run_id, now)]
    date = dt.date.fromisoformat(line.exam_date)
    action = rules.draft_action(
        line.grade, date, _held(study_result.open_result(target.instance_uid), scale),
        _held(study_result.attested_result(target.instance_uid), scale))
    if action.kind == rules.RECORD:
        summary.recorded += 1
        return [_confirmed(line, action.held, run_id, now)]
    if action.kind == rules.BY_HAND:
        summary.by_hand.append(_listed(line, action.note))
        return [_problem(line, action.note, run_id, now, action.held)]
    if action.kind == rules.UPDATE:
        changed = next(r.changed for r in study_result.results if r.uid == action.held.uid)
        updates.append(DraftUpdate(action.held.uid, grade.id, scale.id, date, changed, line))
    else:
        creates.append(NewDraft(study_result.uid, target.instance_uid, grade.id, scale.id, date,
                                line))
    return []


def _read_back(line: Line, target: Target, study_result: StudyResult, run_id: int | None,
               now: dt.datetime) -> list[dict]:
    """What Ladok shows now for a result it confirmed."""
    result = next((r for r in study_result.results if r.uid == line.result_uid), None)
    if result is None:
        return []
    return [{"user_id": line.user_id, "ladok_code": line.ladok_code,
             "component_code": line.component_code, "state": result.state,
             "attested_on": result.decided.isoformat() if result.decided else None,
             "checked_at": now}]  # run_id stays that of the run that sent it


def _write(client: LadokClient, creates: list[NewDraft], updates: list[DraftUpdate],
           run_id: int | None, now: dt.datetime, summary: LadokSummary,
           records: list[dict]) -> None:
    for items, send in ((creates, client.create_drafts), (updates, client.update_drafts)):
        if not items or summary.error:
            continue
        outcome = send(items)
        for item, result in outcome.confirmed:
            summary.sent += 1
            held = rules.Held(result.uid, item.ref.grade, item.exam_date, result.state)
            records.append(_confirmed(item.ref, held, run_id, now))
        for item, refusal in outcome.refused:
            text = refusal.message or str(refusal)
            if refusal.fel_uid:
                text += f" (FelUID {refusal.fel_uid})"
            log.warning("Ladok refused %s of user %s: %s", item.ref.component_code,
                        item.ref.user_id, refusal)
            _refused(summary, item.ref, text)
            records.append(_problem(item.ref, text, run_id, now))
        if outcome.error is not None:
            summary.error = str(outcome.error)


def _confirmed(line: Line, held: rules.Held, run_id: int | None, now: dt.datetime) -> dict:
    return {"user_id": line.user_id, "ladok_code": line.ladok_code,
            "component_code": line.component_code, "version": line.version,
            "result_uid": held.uid, "state": held.state, "grade": held.grade,
            "exam_date": held.exam_date.isoformat() if held.exam_date else None,
            "attested_on": None, "problem": None, "problem_version": None,
            "run_id": run_id, "checked_at": now}


def _problem(line: Line, text: str, run_id: int | None, now: dt.datetime,
             held: rules.Held | None = None) -> dict:
    row = {"user_id": line.user_id, "ladok_code": line.ladok_code,
           "component_code": line.component_code, "problem": text,
           "problem_version": line.version, "run_id": run_id, "checked_at": now}
    if held is not None:  # what Ladok holds instead, for people to see
        row.update(result_uid=held.uid, state=held.state)
    return row


def _listed(line: Line, text: str) -> dict:
    return {"course": line.course_id, "user_id": line.user_id, "name": line.name,
            "component": line.component_code, "grade": line.grade, "message": text}


def _refused(summary: LadokSummary, line: Line, text: str) -> None:
    summary.refused.append(_listed(line, text))


def _record(session: Session, records: Sequence[dict]) -> None:
    """Upsert the rows, grouped by their shape (each updates only the columns it names)."""
    shapes: dict[tuple[str, ...], list[dict]] = defaultdict(list)
    for row in records:
        shapes[tuple(row)].append(row)
    for rows in shapes.values():
        state.upsert_many(session, LadokDraft, rows, KEY)
    if records:
        state.upsert(session, Marker, {"key": RECORDED_MARKER, "value": uuid.uuid4().hex},
                     ("key",))


def _outage_news(session: Session, error: str | None) -> bool:
    """Whether this outage is news (its cause not yet alerted); a run that reached Ladok ends
    the outage."""
    marker = session.get(Marker, DOWN_MARKER)
    if error is None:
        if marker is not None:
            session.execute(delete(Marker).where(Marker.key == DOWN_MARKER))
        return False
    cause = error.split(":")[0][:200]
    if marker is not None and marker.value == cause:
        return False
    state.upsert(session, Marker, {"key": DOWN_MARKER, "value": cause}, ("key",))
    return True
