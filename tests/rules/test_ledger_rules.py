"""What an export does with a result given the ledger: new, correction, withdrawal or nothing.

Direct tests of plugin/rules/ledger.py: one Ladok key at a time (`decide_component`), and a
student's whole plan (`plan_student`) with the attestation delay and Canvas courses (rooms)
that share a Ladok code.
"""

from __future__ import annotations

import datetime as dt

import pytest

from plugin.rules.course_config import CourseConfig, ModuleConfig
from plugin.rules.ledger import (
    CORRECTION,
    NEW,
    WITHDRAWN,
    Decision,
    Exported,
    active_results,
    decide_component,
    owned_here,
    plan_student,
)
from plugin.rules.results import ComponentResult, ExportedResult, StudentOutcome

ROOM, OTHER_ROOM = 565, 110
NOW = dt.datetime(2025, 4, 1, 12, tzinfo=dt.UTC)
DAY = dt.date(2025, 3, 2)
M1 = ModuleConfig("2205", "Inlämning", 2.5, "GU", (1,))
M2 = ModuleConfig("2225", "Projekt", 5.0, "AF", (10,), grade_from=(10,), final=True)
COURSE = CourseConfig(canvas_id=ROOM, ladok_code="DV1531", start=dt.date(2025, 1, 13),
                      modules=(M1, M2), final_grade_delay_days=7)


def result(code: str = "2205", grade: str | None = "G", date: dt.date | None = DAY,
           earned: bool = True, course_grade: bool = False) -> ComponentResult:
    return ComponentResult(code, "x", 2.5, earned, grade, date, (7,), "", course_grade)


def exported(status: str = NEW, grade: str = "G", date: dt.date = DAY, version: int = 1,
             room: int = ROOM, run_id: int | None = 1,
             at: dt.datetime = NOW - dt.timedelta(days=30)) -> Exported:
    return Exported(version, status, grade, date.isoformat(), at, room, ("Teacher",), run_id)


def outcome(*results: ComponentResult) -> StudentOutcome:
    modules = tuple(r for r in results if not r.is_course_grade)
    grade = next((r for r in results if r.is_course_grade), None)
    return StudentOutcome((), modules, grade, (), ())


# --- one key ----------------------------------------------------------------------------


def test_an_earned_result_never_exported_is_new_version_one() -> None:
    assert decide_component(result(), None) == Decision(result(), NEW, 1)


@pytest.mark.parametrize("unexportable", [
    result(earned=False, grade=None, date=None), result(grade="FX"), result(grade="U"),
    result(date=None),
])
def test_a_result_not_exportable_and_never_exported_writes_nothing(unexportable) -> None:
    assert decide_component(unexportable, None) is None


def test_an_exported_result_unchanged_writes_nothing() -> None:
    assert decide_component(result(grade="g"), exported(grade="G")) is None


def test_a_changed_examination_date_is_a_correction() -> None:
    later = result(date=DAY + dt.timedelta(days=1))
    assert decide_component(later, exported(version=2)) == Decision(later, CORRECTION, 3)


def test_a_changed_grade_is_a_correction() -> None:
    better = result("2225", grade="A")
    assert decide_component(better, exported(grade="B")) == Decision(better, CORRECTION, 2)


def test_a_withdrawn_result_earned_again_unchanged_is_a_correction() -> None:
    assert decide_component(result(), exported(WITHDRAWN, version=2)) == Decision(
        result(), CORRECTION, 3)


def test_an_exported_result_no_longer_earned_is_withdrawn() -> None:
    lost = result(earned=False, grade=None, date=None)
    assert decide_component(lost, exported(CORRECTION, version=2)) == Decision(lost, WITHDRAWN, 3)


def test_a_withdrawn_result_still_not_earned_writes_nothing() -> None:
    assert decide_component(result(grade="U"), exported(WITHDRAWN, version=2)) is None


# --- a student's plan -------------------------------------------------------------------


def test_a_first_course_grade_waits_for_its_modules_attestation() -> None:
    grade = result("DV1531", grade="B", course_grade=True)
    modules = result("2205"), result("2225", grade="B")
    plan = plan_student(COURSE, outcome(*modules, grade), {}, NOW)
    assert [(d.result.code, d.status) for d in plan.decisions] == [("2205", NEW), ("2225", NEW)]
    # The start of 8 April in Stockholm (summer time): seven calendar days after 1 April there.
    assert plan.course_grade_due == dt.datetime(2025, 4, 7, 22, tzinfo=dt.UTC)
    ledger = {"2205": exported(at=NOW - dt.timedelta(days=8)),
              "2225": exported(grade="B", at=NOW - dt.timedelta(days=7))}
    plan = plan_student(COURSE, outcome(*modules, grade), ledger, NOW)
    assert plan.decisions == (Decision(grade, NEW, 1),) and plan.course_grade_due is None


def test_the_attestation_delay_counts_nights_not_seconds() -> None:
    grade = result("DV1531", grade="B", course_grade=True)
    modules = result("2205"), result("2225", grade="B")
    # Modules went out with one night's run; the run seven nights later starts a few seconds
    # earlier in the day: the course grade goes with it, not a night later.
    nightly = dt.datetime(2025, 4, 1, 1, 30, 5, tzinfo=dt.UTC)
    ledger = {"2205": exported(at=nightly), "2225": exported(grade="B", at=nightly)}
    week_later = dt.datetime(2025, 4, 8, 1, 30, 0, tzinfo=dt.UTC)
    plan = plan_student(COURSE, outcome(*modules, grade), ledger, week_later)
    assert plan.decisions == (Decision(grade, NEW, 1),) and plan.course_grade_due is None
    night_before = week_later - dt.timedelta(days=1)
    waiting = plan_student(COURSE, outcome(*modules, grade), ledger, night_before)
    assert waiting.decisions == () and waiting.course_grade_due == dt.datetime(
        2025, 4, 7, 22, tzinfo=dt.UTC)


def test_a_course_grade_correction_does_not_wait() -> None:
    grade = result("DV1531", grade="A", course_grade=True)
    modules = result("2205"), result("2225", grade="A")
    ledger = {"2205": exported(), "2225": exported(grade="A", at=NOW),
              "DV1531": exported(grade="B")}
    plan = plan_student(COURSE, outcome(*modules, grade), ledger, NOW)
    assert plan.decisions == (Decision(grade, CORRECTION, 2),)


def test_a_key_another_room_exported_is_left_to_it_and_listed() -> None:
    ledger = {"2205": exported(room=OTHER_ROOM, date=DAY - dt.timedelta(days=40))}
    plan = plan_student(COURSE, outcome(result()), ledger, NOW)
    assert (plan.decisions, plan.owned_elsewhere) == ((), ("2205",))
    lost = plan_student(COURSE, outcome(result(earned=False, grade=None, date=None)), ledger,
                        NOW)
    assert (lost.decisions, lost.owned_elsewhere) == ((), ("2205",))  # never withdrawn from here


def test_a_key_another_room_withdrew_goes_to_the_room_that_earns_it() -> None:
    ledger = {"2205": exported(WITHDRAWN, version=2, room=OTHER_ROOM, run_id=4)}
    plan = plan_student(COURSE, outcome(result()), ledger, NOW, run_id=5)
    assert plan.decisions == (Decision(result(), CORRECTION, 3),)
    assert (plan.owned_elsewhere, plan.taken_over) == ((), ("2205",))
    same_run = plan_student(COURSE, outcome(result()), ledger, NOW, run_id=4)
    assert same_run.decisions == (Decision(result(), CORRECTION, 2, replaces=True),)
    not_earned = plan_student(COURSE, outcome(result(grade="U")), ledger, NOW, run_id=5)
    assert (not_earned.decisions, not_earned.owned_elsewhere, not_earned.taken_over) == (
        (), (), ())


def test_active_results_are_the_keys_not_withdrawn_with_their_room() -> None:
    ledger = {"2205": exported(room=OTHER_ROOM), "2225": exported(WITHDRAWN, version=2),
              "DV1531": exported(CORRECTION, grade="B", version=2)}
    when = NOW - dt.timedelta(days=30)
    assert active_results(ledger) == {
        "2205": ExportedResult(OTHER_ROOM, "G", DAY, ("Teacher",), when),
        "DV1531": ExportedResult(ROOM, "B", DAY, ("Teacher",), when),
    }


def test_owned_here_follows_the_plan() -> None:
    ledger = {"2205": exported(), "2225": exported(room=OTHER_ROOM)}
    lost = result(earned=False, grade=None, date=None)
    plan = plan_student(COURSE, outcome(lost, result("2225", grade="B")), ledger, NOW)
    assert plan.decisions == (Decision(lost, WITHDRAWN, 2),)
    assert owned_here(COURSE, plan, ledger) == set()
    fresh = plan_student(COURSE, outcome(result(), result("2225", grade="B")), {}, NOW)
    assert owned_here(COURSE, fresh, {}) == {"2205", "2225"}


def test_a_student_whose_withdrawn_module_is_earned_again_gets_it_corrected() -> None:
    ledger = {"2205": exported(WITHDRAWN, version=2), "2225": exported(grade="B")}
    plan = plan_student(COURSE, outcome(result(), result("2225", grade="B")), ledger, NOW)
    assert plan.decisions == (Decision(result(), CORRECTION, 3),)
