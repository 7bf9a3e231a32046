"""What an export does with a student's results given what was exported before.

Decisions: a result withdrawn earlier and earned again goes out as a correction (Ladok must
hear of it again); a change of graders alone is not a correction. A key belongs to the Canvas
course that exported it first; when that course withdraws it and another course sharing the
ladok_code earns it, the other course exports it as a correction and owns it from then on (in
the run that withdrew it, the correction takes the withdrawal's place).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from plugin.rules.course_config import CourseConfig
from plugin.rules.grades import same_grade
from plugin.rules.ladok import modules_attested
from plugin.rules.results import ComponentResult, ExportedResult, StudentOutcome, exportable
from plugin.status import CORRECTION, NEW, WITHDRAWN

ACTIVE = (NEW, CORRECTION)


@dataclass(frozen=True)
class Exported:
    """The latest ledger version of one (student, ladok code, component)."""

    version: int
    status: str
    grade: str | None
    exam_date: str | None  # YYYY-MM-DD
    exported_at: dt.datetime
    course_id: int  # the Canvas course whose results own this key
    graders: tuple[str, ...] = ()
    run_id: int | None = None


@dataclass(frozen=True)
class Decision:
    """One ledger version to write: a component result and how it goes out."""

    result: ComponentResult
    status: str
    version: int
    # Takes the place of this version, a withdrawal by another course in the same run.
    replaces: bool = False


@dataclass(frozen=True)
class StudentPlan:
    decisions: tuple[Decision, ...]
    # When a course grade waits for its modules' attestation, the time it may go out.
    course_grade_due: dt.datetime | None = None
    # Components another Canvas course with the same ladok_code exported first.
    owned_elsewhere: tuple[str, ...] = ()
    # Components another course withdrew that this course now exports (and owns).
    taken_over: tuple[str, ...] = ()


def components(outcome: StudentOutcome) -> tuple[ComponentResult, ...]:
    """The module results and the course grade (if the course has one)."""
    extra = (outcome.course_grade,) if outcome.course_grade is not None else ()
    return outcome.modules + extra


def _changed(result: ComponentResult, latest: Exported) -> bool:
    return not same_grade(result.grade, latest.grade) or (
        result.date.isoformat() != latest.exam_date
    )


def decide_component(result: ComponentResult, latest: Exported | None) -> Decision | None:
    """The ledger version this result needs now, or None when the ledger is up to date."""
    wanted = exportable(result)
    if latest is None:
        return Decision(result, NEW, 1) if wanted else None
    if not wanted:
        return Decision(result, WITHDRAWN, latest.version + 1) if latest.status in ACTIVE else None
    if latest.status == WITHDRAWN or _changed(result, latest):
        return Decision(result, CORRECTION, latest.version + 1)
    return None


def take_over(result: ComponentResult, latest: Exported, run_id: int | None) -> Decision | None:
    """Another course's withdrawn key that this course earns: a correction, owned here."""
    if latest.status != WITHDRAWN or not exportable(result):
        return None
    if run_id is not None and latest.run_id == run_id:
        return Decision(result, CORRECTION, latest.version, replaces=True)
    return Decision(result, CORRECTION, latest.version + 1)


def plan_student(
    course: CourseConfig,
    outcome: StudentOutcome,
    ledger: Mapping[str, Exported],
    now: dt.datetime,
    run_id: int | None = None,
    attested: frozenset[str] | None = None,
) -> StudentPlan:
    """Every ledger version due for one student; a first course grade waits for attestation.

    `attested`: with Ladok connected, the module codes Ladok shows attested (as exported);
    the course grade then waits for those instead of `final_grade_delay_days`.

    A key is owned by the Canvas course that exported it: courses sharing a ladok_code never
    withdraw or correct each other's results (that needs a person), but a key its owner
    withdrew goes to the course that earns it (`take_over`). `run_id`: the run being planned.
    """
    decisions = []
    due = None
    elsewhere, taken = [], []
    for result in components(outcome):
        latest = ledger.get(result.code)
        if latest is not None and latest.course_id != course.canvas_id:
            if latest.status in ACTIVE:
                elsewhere.append(result.code)
            decision = take_over(result, latest, run_id)
            if decision is not None:
                decisions.append(decision)
                taken.append(result.code)
            continue
        decision = decide_component(result, latest)
        if decision is None:
            continue
        if result.is_course_grade and decision.status == NEW:
            due = _course_grade_due(course, decisions, ledger, now, attested)
            if due is not None:
                continue
        decisions.append(decision)
    return StudentPlan(tuple(decisions), due, tuple(elsewhere), tuple(taken))


def _course_grade_due(
    course: CourseConfig, decisions: list[Decision], ledger: Mapping[str, Exported],
    now: dt.datetime, attested: frozenset[str] | None = None,
) -> dt.datetime | None:
    """None when a first course grade may go out now, else the time it may.

    The delay counts calendar days in the course's time zone: a module exported by one nightly
    run lets the course grade go with the run `final_grade_delay_days` nights later, whatever
    seconds the two runs started apart. With Ladok connected (`attested` given) it goes once
    Ladok shows every module attested; until then it is looked at again the next night.
    """
    days = course.final_grade_delay_days
    codes = {m.code for m in course.modules}
    if attested is not None:
        if modules_attested(codes, attested):
            return None
        return _local_midnight(now, 1, ZoneInfo(course.timezone))
    times = [e.exported_at for code, e in ledger.items() if code in codes and e.status in ACTIVE]
    if any(d.result.code in codes and d.status != WITHDRAWN for d in decisions):
        times.append(now)
    if days == 0:
        return None
    due = _local_midnight(max(times, default=now), days, ZoneInfo(course.timezone))
    return None if due <= now else due


def _local_midnight(when: dt.datetime, days: int, zone: ZoneInfo) -> dt.datetime:
    """The start of the local day `days` after the local day of `when`, in UTC."""
    day = when.astimezone(zone).date() + dt.timedelta(days=days)
    return dt.datetime.combine(day, dt.time(), zone).astimezone(dt.UTC)


def active_results(ledger: Mapping[str, Exported]) -> dict[str, ExportedResult]:
    """The keys whose latest version is not withdrawn, as the course-grade rule reads them."""
    return {
        code: ExportedResult(e.course_id, e.grade,
                             dt.date.fromisoformat(e.exam_date) if e.exam_date else None,
                             e.graders, e.exported_at)
        for code, e in ledger.items() if e.status in ACTIVE
    }


def owned_here(course: CourseConfig, plan: StudentPlan, ledger: Mapping[str, Exported]) -> set[str]:
    """Codes whose latest version, after the plan, is this course's and not withdrawn."""
    owned = {code for code, e in ledger.items()
             if e.course_id == course.canvas_id and e.status in ACTIVE}
    for decision in plan.decisions:
        (owned.discard if decision.status == WITHDRAWN else owned.add)(decision.result.code)
    return owned
