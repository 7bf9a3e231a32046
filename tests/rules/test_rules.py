"""The grading rules, one test per rule, plus dbwebb-style students."""

from __future__ import annotations

import datetime as dt
import math
import random

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from plugin.rules.course_config import CourseConfig, ModuleConfig
from plugin.rules.grades import judge, letter_for_percent, same_grade
from plugin.rules.results import (
    AssignmentInfo,
    ComponentResult,
    ExportedResult,
    StudentOutcome,
    evaluate_student,
    exportable,
    mapped_by_name,
    moment_of_assignment,
    renamed_assignments,
)
from plugin.rules.submission import Observation, SubmissionState, fold

UTC = dt.UTC
D = dt.date
START = dt.date(2025, 1, 13)
MOMENTS = (1, 2, 3, 4, 5, 6, 10)
GU1 = ModuleConfig("2205", "Kmom01-03", 3.0, "GU", (1, 2, 3))
GU2 = ModuleConfig("2215", "Kmom04-06", 3.0, "GU", (4, 5, 6))
PROJECT = ModuleConfig("2225", "Projekt", 1.5, "AF", (10,), grade_from=(10,), final=True)
# Variant: kmom04-06 and the project graded in points, the grade from their summed points.
POINTS = ModuleConfig(
    "2235", "Kmom04-06 + projekt", 4.5, "AF", (4, 5, 6, 10),
    grade_from=(4, 5, 6, 10), grade_from_is_list=True, final=True,
)


def course(*modules: ModuleConfig, **kw) -> CourseConfig:
    """A course with `modules` (default: the three dbwebb modules)."""
    return CourseConfig(
        canvas_id=565, ladok_code="DV1531", start=START,
        modules=modules or (GU1, GU2, PROJECT), **kw,
    )


def at(month: int, day: int, hour: int = 12, minute: int = 0) -> dt.datetime:
    """A UTC time in 2025."""
    return dt.datetime(2025, month, day, hour, minute, tzinfo=UTC)


def graded(
    grade: str | None,
    when: dt.datetime,
    *,
    submitted: tuple[dt.datetime, ...] = (),
    score: float | None = None,
    points: float | None = None,
    grader: int | None = 7,
    posted: bool = True,
    excused: bool = False,
) -> SubmissionState:
    """A submission whose current grade was recorded as posted at `when`."""
    visible = grade is not None and posted and not excused
    return SubmissionState(
        grade=grade, score=score, points_possible=points, grader_id=grader, posted=posted,
        excused=excused, graded_at=when, submitted_times=tuple(sorted(submitted)),
        grade_since=when if visible else None,
    )


def infos(points: dict[int, float] | None = None) -> dict[int, AssignmentInfo]:
    """Assignment 100 + n is "kmom0n" (kmom10 is 110)."""
    points = points or {}
    return {
        100 + m: AssignmentInfo(100 + m, f"kmom{m:02d}", points.get(m)) for m in MOMENTS
    }


def run(subs: dict[int, SubmissionState], crs: CourseConfig | None = None, **kw) -> StudentOutcome:
    """Evaluate a student whose submissions are keyed by moment (assignment 100 + moment)."""
    return evaluate_student(crs or course(), infos(**kw), {100 + m: s for m, s in subs.items()})


def module(outcome: StudentOutcome, code: str) -> ComponentResult:
    return next(m for m in outcome.modules if m.code == code)


def moment(outcome: StudentOutcome, number: int):
    return next(m for m in outcome.moments if m.moment == number)


def all_passed(
    project: SubmissionState | None = None, **overrides: SubmissionState
) -> dict[int, SubmissionState]:
    """Every kmom G in week order from 3 February, kmom10 B on 20 March."""
    subs = {m: graded("G", at(2, 3 + 3 * i)) for i, m in enumerate(MOMENTS[:-1])}
    subs[10] = project or graded("B", at(3, 20))
    subs.update({int(k.removeprefix("k")): v for k, v in overrides.items()})
    return subs


# --- 2.2 assignment -> moment ------------------------------------------------------------


def test_explicit_assignment_map_wins() -> None:
    crs = course(assignments={355: 1})
    assert moment_of_assignment(crs, 355, "kmom07 (old name)") == 1
    assert moment_of_assignment(crs, 356, "kmom07 (old name)") == 7


def test_assignment_name_matched_by_moment_pattern_group_one() -> None:
    crs = course()
    assert moment_of_assignment(crs, 1, "Kmom 1") == moment_of_assignment(crs, 2, "kmom01") == 1
    assert moment_of_assignment(crs, 3, "Redovisning kmom10") == 10
    crs = course(moment_pattern=r"(?i)moment\s*(\d+)")
    assert moment_of_assignment(crs, 4, "Moment 3: rapport") == 3


def test_unmapped_assignments_are_listed_never_guessed() -> None:
    extra = {900: AssignmentInfo(900, "Extra uppgift"), 901: AssignmentInfo(901, None)}
    assignments = infos() | extra
    submissions = {900: graded("G", at(2, 1)), 902: graded("G", at(2, 1))}
    outcome = evaluate_student(course(), assignments, submissions)
    assert outcome.unmapped_assignments == (900, 901, 902)
    assert all(m.assignment_id is None for m in outcome.moments)
    assert moment_of_assignment(course(), 900, "Extra uppgift") is None


def test_a_name_mapping_used_by_an_export_survives_a_rename_and_is_listed() -> None:
    renamed = infos() | {101: AssignmentInfo(101, "Extra uppgift", exported_moment=1)}
    outcome = evaluate_student(course(), renamed, {101: graded("G", at(2, 1))})
    assert moment(outcome, 1).passed and outcome.unmapped_assignments == ()
    assert moment(outcome, 1).reason == ('kmom01: passed with G (assignment renamed to '
                                         '"Extra uppgift": still counted as kmom01)')
    assert renamed_assignments(course(), renamed) == (
        'assignment 101 renamed to "Extra uppgift": still counted as kmom01; map it in '
        '`assignments` (101 = "kmom01") or rename it back',)


def test_a_rename_before_any_export_unmaps_the_assignment() -> None:
    renamed = infos() | {101: AssignmentInfo(101, "Extra uppgift")}
    outcome = evaluate_student(course(), renamed, {101: graded("G", at(2, 1))})
    assert outcome.unmapped_assignments == (101,) and not moment(outcome, 1).passed
    assert renamed_assignments(course(), renamed) == ()


def test_an_explicit_assignments_entry_wins_over_a_kept_name_mapping() -> None:
    crs = course(assignments={101: 2})
    renamed = infos() | {101: AssignmentInfo(101, "Extra uppgift", exported_moment=1)}
    assert moment_of_assignment(crs, 101, "Extra uppgift", 1) == 2
    assert moment_of_assignment(crs, 101, "Kmom03", 1) == 2
    assert renamed_assignments(crs, renamed) == ()


def test_a_rename_onto_another_moments_name_keeps_the_mapping_and_is_listed() -> None:
    renamed = infos() | {103: AssignmentInfo(103, "Kmom02", exported_moment=3)}
    subs = {101: graded("G", at(2, 1)), 102: graded("G", at(2, 2)), 103: graded("G", at(2, 3))}
    outcome = evaluate_student(course(), renamed, subs)
    assert moment_of_assignment(course(), 103, "Kmom02", 3) == 3
    assert (moment(outcome, 2).assignment_id, moment(outcome, 3).assignment_id) == (102, 103)
    assert module(outcome, "2205").earned and module(outcome, "2205").date == dt.date(2025, 2, 3)
    assert moment(outcome, 3).reason == ('kmom03: passed with G (assignment renamed to '
                                         '"Kmom02": still counted as kmom03)')
    assert renamed_assignments(course(), renamed) == (
        'assignment 103 renamed to "Kmom02": still counted as kmom03; map it in '
        '`assignments` (103 = "kmom03") or rename it back',)
    back = infos() | {103: AssignmentInfo(103, "Kmom03", exported_moment=3)}
    assert renamed_assignments(course(), back) == ()


def test_mapped_by_name_names_the_counted_assignments_of_the_given_modules() -> None:
    assignments = infos() | {201: AssignmentInfo(201, "Kmom01 igen")}
    subs = {101: graded("G", at(2, 1)), 201: graded("G", at(2, 9)), 104: graded("G", at(2, 3))}
    crs = course(assignments={102: 2})
    outcome = evaluate_student(crs, assignments, subs | {102: graded("G", at(2, 2))})
    assert mapped_by_name(crs, assignments, outcome, {"2205"}) == {201: 1}
    assert mapped_by_name(crs, assignments, outcome, {"2205", "2215"}) == {201: 1, 104: 4}


def test_latest_posted_grade_counts_among_several_assignments() -> None:
    assignments = infos() | {201: AssignmentInfo(201, "Kmom01 komplettering")}
    subs = {101: graded("U", at(2, 1), grader=7), 201: graded("G", at(2, 9), grader=8)}
    outcome = evaluate_student(course(), assignments, subs)
    counted = moment(outcome, 1)
    assert (counted.passed, counted.assignment_id, counted.grader_ids) == (True, 201, (8,))
    subs[101] = graded("U", at(2, 10))
    assert not moment(evaluate_student(course(), assignments, subs), 1).passed


def test_unposted_grade_on_another_assignment_of_a_passed_moment_is_listed_not_blocking() -> None:
    assignments = infos() | {201: AssignmentInfo(201, "Kmom01 komplettering")}
    subs = {101: graded("G", at(2, 1)), 201: graded("A", at(2, 9), posted=False)}
    outcome = evaluate_student(course(), assignments, subs)
    assert moment(outcome, 1).passed
    assert outcome.manual == ("kmom01 (assignment 201): no posted grade (hidden); "
                              "counting assignment 101",)


# --- 2.2 grades --------------------------------------------------------------------------


def test_grades_compare_case_insensitively() -> None:
    assert same_grade("Fx", "FX") and same_grade("g", "G") and same_grade(" Pass", "pass")
    assert not same_grade("G", "PG")
    assert judge("g").passed and judge("COMPLETE").passed and judge("b", "AF").passed
    assert not judge("fx", "AF").passed and not judge("pg").passed and not judge("ux").passed
    assert run({1: graded("g", at(2, 1))}).moments[0].passed


@pytest.mark.parametrize("grade", ["G", "complete", "pass"])
def test_default_pass_grades_pass(grade: str) -> None:
    assert judge(grade).passed and judge(grade, "AF").passed


def test_course_pass_grades_are_used() -> None:
    assert judge("Godkänd", pass_grades=("godkänd",)).passed
    assert not judge("G", pass_grades=("godkänd",)).passed
    crs = course(pass_grades=("Godkänd",))
    assert run({1: graded("GODKÄND", at(2, 1))}, crs).moments[0].passed


@pytest.mark.parametrize("grade", ["A", "B", "C", "D", "E", "a", "e"])
def test_letters_a_to_e_pass_on_an_af_module(grade: str) -> None:
    assert judge(grade, "AF").passed
    assert not judge(grade, "GU").passed  # a letter is no G/U pass unless in pass_grades


def test_pg_is_not_a_pass() -> None:
    assert not judge("PG").passed and not judge("pg", "AF").passed
    assert not judge("PG", pass_grades=("G", "PG")).passed  # not even when configured
    outcome = run(all_passed(k2=graded("PG", at(2, 6), grader=-1)))
    assert module(outcome, "2205").reason == "kmom02: grade PG is not a pass"
    assert not module(outcome, "2205").earned


@pytest.mark.parametrize("moment_number", [2, 10])  # a G/U module and an A–F module
def test_pg_blocks_its_module_even_when_the_course_lists_it_as_a_pass_grade(
        moment_number: int) -> None:
    crs = course(pass_grades=("G", "Pg"))
    outcome = run(all_passed(**{f"k{moment_number}": graded("PG", at(2, 6), grader=-1)}), crs)
    counted = moment(outcome, moment_number)
    assert (counted.passed, counted.reason) == (
        False, f"kmom{moment_number:02d}: grade PG is not a pass")
    assert not outcome.course_grade.earned


@pytest.mark.parametrize("grade", ["U", "Ux", "UX", "incomplete", "Incomplete", "F", "FX"])
def test_u_ux_incomplete_are_fails(grade: str) -> None:
    assert not judge(grade).passed and not judge(grade, "AF").passed
    assert not judge(grade, pass_grades=(grade,)).passed


def test_unknown_grade_is_not_a_pass() -> None:
    assert judge("VG").reason == "grade VG is not a pass on a G/U module"
    assert not judge("VG", "AF").passed


@pytest.mark.parametrize(
    ("grade", "points", "passed"),
    [("5", 10, True), ("4.9", 10, False), ("4,9", 10, False), ("50%", None, True),
     ("49.5%", None, False), ("10", 10, True), ("0", 10, False)],
)
def test_numeric_grade_on_gu_module_passes_at_pass_percent(grade, points, passed) -> None:
    assert judge(grade, "GU", points).passed is passed


def test_pass_percent_is_configurable() -> None:
    assert not judge("6", "GU", 10, pass_percent=65).passed
    crs = course(pass_percent=65)
    outcome = run({1: graded("6", at(2, 1), score=6)}, crs, points={1: 10})
    assert moment(outcome, 1).reason == "kmom01: 6/10 points (60%) is below 65%"


def test_numeric_grade_without_points_possible_needs_manual_handling() -> None:
    verdict = judge("8", "GU", None)
    assert (verdict.passed, verdict.manual) == (False, True)
    outcome = run(all_passed(k3=graded("8", at(2, 9))))
    assert moment(outcome, 3).needs_manual and not module(outcome, "2205").earned
    assert outcome.manual == ("kmom03 (assignment 103): numeric grade 8 without points possible",)


@pytest.mark.parametrize(
    ("percent", "letter"),
    [(100, "A"), (90, "A"), (89.99, "B"), (80, "B"), (70, "C"), (60, "D"), (55, "E"),
     (54.9, "FX"), (51, "FX"), (50.99, "F"), (0, "F")],
)
def test_numeric_grade_on_af_module_maps_by_grade_thresholds(percent, letter) -> None:
    assert letter_for_percent(percent) == letter
    verdict = judge(f"{percent}", "AF", 100)
    assert (verdict.letter, verdict.passed) == (letter, letter in "ABCDE")


def test_below_fx_threshold_is_f() -> None:
    assert letter_for_percent(50.999) == "F"
    assert letter_for_percent(39, {"A": 95, "E": 40, "FX": 35}) == "FX"
    assert letter_for_percent(34, {"a": 95, "e": 40, "fx": 35}) == "F"


def test_percentage_rounding_does_not_fail_an_exact_threshold() -> None:
    assert letter_for_percent(judge("33", "AF", 60).percent) == "E"  # 33/60 = 55 %


@pytest.mark.parametrize(
    ("state", "kind"),
    [
        (graded(None, at(2, 6), score=None), "removed"),
        (graded("G", at(2, 6), posted=False), "hidden"),
        (graded("G", at(2, 6), excused=True), "excused"),
        (graded(None, at(2, 6), excused=True), "excused"),
    ],
)
def test_removed_hidden_or_excused_grade_blocks_module_and_is_listed(state, kind) -> None:
    outcome = run(all_passed(k2=state))
    assert moment(outcome, 2).reason == f"kmom02: no posted grade ({kind})"
    assert moment(outcome, 2).needs_manual and moment(outcome, 2).grade is None
    assert not module(outcome, "2205").earned
    assert outcome.manual == (f"kmom02 (assignment 102): no posted grade ({kind})",)
    assert module(outcome, "2215").earned  # other modules are not held back


def test_ungraded_submission_is_waited_for_not_manual() -> None:
    state = SubmissionState(workflow_state="submitted", submitted_times=(at(2, 6),))
    outcome = run(all_passed(k2=state))
    assert moment(outcome, 2).reason == "waiting for kmom02"
    assert not moment(outcome, 2).needs_manual and outcome.manual == ()


# --- 2.3 modules -------------------------------------------------------------------------


def test_module_earned_when_every_moment_passed() -> None:
    subs = all_passed()
    del subs[3]
    outcome = run(subs)
    assert not module(outcome, "2205").earned
    assert module(outcome, "2205").reason == "waiting for kmom03"
    assert module(outcome, "2215").earned


def test_gu_module_grade_is_g() -> None:
    result = module(run(all_passed(k1=graded("complete", at(2, 3)))), "2205")
    assert (result.earned, result.grade) == (True, "G")


def test_af_module_grade_from_one_moment_letter() -> None:
    result = module(run(all_passed(graded("c", at(3, 20)))), "2225")
    assert (result.earned, result.grade, result.reason) == (
        True, "C", "passed kmom10; grade C from kmom10")


def test_af_module_grade_from_one_moment_points() -> None:
    outcome = run(all_passed(graded("64", at(3, 20), score=64)), points={10: 80})
    assert moment(outcome, 10).reason == "kmom10: passed with 64/80 points (80%) -> B"
    assert module(outcome, "2225").grade == "B"


def test_af_grade_from_moment_with_a_pass_grade_gives_no_letter_and_needs_manual() -> None:
    outcome = run(all_passed(graded("G", at(3, 20))))
    assert moment(outcome, 10).passed and not module(outcome, "2225").earned
    assert outcome.manual == ("module 2225: kmom10: grade G gives no A–F grade",)


def points_subs(k4: float, k5: float, k6: float, k10: float, **kw) -> dict[int, SubmissionState]:
    subs = {m: graded("G", at(2, 3 + m)) for m in (1, 2, 3)}
    for m, score, day in ((4, k4, 10), (5, k5, 12), (6, k6, 14), (10, k10, 20)):
        subs[m] = graded(f"{score:g}", at(3 if m == 10 else 2, day), score=score, **kw)
    return subs


VARIANT_POINTS = {4: 10, 5: 10, 6: 10, 10: 70}


def test_af_module_grade_from_list_sums_points_over_points_possible() -> None:
    outcome = run(points_subs(8, 9, 10, 60), course(GU1, POINTS), points=VARIANT_POINTS)
    result = module(outcome, "2235")
    assert (result.earned, result.grade) == (True, "B")  # 87/100
    assert "87/100 points (87%)" in result.reason
    assert outcome.course_grade.grade == "B"


def test_each_grade_from_moment_must_still_pass_on_its_own() -> None:
    outcome = run(points_subs(10, 10, 5, 70), course(GU1, POINTS), points=VARIANT_POINTS)
    assert not moment(outcome, 6).passed  # 50 % maps to F on its own, though 95/100 is A
    assert not module(outcome, "2235").earned
    assert module(outcome, "2235").reason == "kmom06: not a pass: 5/10 points (50%) -> F"


def test_summed_fx_module_grade_is_not_earned_nor_exported() -> None:
    subs = points_subs(0, 0, 0, 52)
    for m in (4, 5, 6):
        subs[m] = graded("complete", at(2, 10 + m), score=0)
    outcome = run(subs, course(GU1, POINTS), points=VARIANT_POINTS)
    assert all(moment(outcome, m).passed for m in (4, 5, 6, 10))
    result = module(outcome, "2235")
    assert (result.earned, result.grade, exportable(result)) == (False, "FX", False)
    assert result.reason.startswith("grade FX is not a pass")
    assert outcome.course_grade.grade is None and not outcome.course_grade.earned


def test_only_passing_grades_are_exported() -> None:
    def line(grade: str | None, earned: bool = True) -> ComponentResult:
        return ComponentResult("1", "M", 1.0, earned, grade, START, (), "")

    assert all(exportable(line(g)) for g in ("A", "b", "E", "G"))
    assert not any(exportable(line(g)) for g in ("FX", "F", "U", "PG", None))
    assert not exportable(line("A", earned=False))


# --- 2.3 course grade --------------------------------------------------------------------


def test_course_grade_is_final_module_grade_when_every_module_earned() -> None:
    grade = run(all_passed(graded("A", at(3, 20), grader=9))).course_grade
    assert (grade.code, grade.is_course_grade, grade.earned, grade.grade) == (
        "DV1531", True, True, "A")
    assert grade.grader_ids == (9,) and grade.credits == 7.5


def test_course_grade_waits_for_every_module() -> None:
    subs = all_passed()
    del subs[4]
    grade = run(subs).course_grade
    assert (grade.earned, grade.grade, grade.reason) == (False, None, "waiting for kmom04")
    assert not exportable(grade)


def test_several_gu_modules_without_final_get_course_grade_g() -> None:
    grade = run(all_passed(), course(GU1, GU2)).course_grade
    assert (grade.earned, grade.grade, grade.date) == (True, "G", dt.date(2025, 2, 18))


def test_single_module_course_has_no_course_grade() -> None:
    assert run(all_passed(), course(GU1)).course_grade is None
    single = ModuleConfig("2225", "Projekt", 7.5, "AF", (10,), grade_from=(10,), final=True)
    assert run(all_passed(), course(single)).course_grade is None


# --- 2.3 retakes across Canvas courses (rooms) sharing a Ladok code --------------------

LAST_TERM = 110  # the room the student took the course in before


def retake(subs: dict[int, SubmissionState], crs: CourseConfig | None = None,
           **exported: ExportedResult) -> StudentOutcome:
    """This room's outcome given results exported (not withdrawn) by code."""
    codes = {k.removeprefix("c"): v for k, v in exported.items()}
    return evaluate_student(crs or course(), infos({10: 100}),
                            {100 + m: s for m, s in subs.items()}, codes)


def from_last_term(grade: str, date: dt.date, when: dt.datetime | None = None) -> ExportedResult:
    return ExportedResult(LAST_TERM, grade, date, ("Old Teacher <old@example.edu>",), when)


def from_here(grade: str, date: dt.date, when: dt.datetime) -> ExportedResult:
    return ExportedResult(565, grade, date, ("Teacher",), when)


def this_term(*moments: int) -> dict[int, SubmissionState]:
    return {m: s for m, s in all_passed().items() if m in moments}


RETAKES = [
    # id, moments passed here, exported from last term, course grade (grade, date) or reason
    ("module 1 last term, modules 2-3 here", this_term(4, 5, 6, 10),
     {"c2205": from_last_term("G", D(2024, 11, 4))},
     ("B", D(2025, 3, 20), "grade B from final module 2225; module 2205 exported from "
      "Canvas course 110")),
    ("final module last term, modules 1-2 here", this_term(1, 2, 3, 4, 5, 6),
     {"c2225": from_last_term("A", D(2024, 12, 1))},
     ("A", D(2025, 2, 18), "grade A from final module 2225; module 2225 exported from "
      "Canvas course 110")),
    ("exported result counts, not this room's own", all_passed(),
     {"c2225": from_last_term("C", D(2025, 1, 20))},
     ("C", D(2025, 2, 18), "grade C from final module 2225; module 2225 exported from "
      "Canvas course 110")),
    ("a later date earned earlier here does not decide", this_term(1, 2, 3, 4, 5, 6),
     {"c2205": from_here("G", D(2025, 2, 9), at(2, 10)),
      "c2215": from_here("G", D(2025, 2, 18), at(2, 19)),
      "c2225": from_last_term("A", D(2025, 1, 20), at(3, 1))},
     "decided in Canvas course 110 (same Ladok course), where the last module (2225) was "
     "earned"),
    ("a module earned here and not exported yet is the last", this_term(1, 2, 3, 4, 5, 6),
     {"c2225": from_last_term("A", D(2025, 5, 1), at(5, 2))},
     ("A", D(2025, 5, 1), "grade A from final module 2225; module 2225 exported from "
      "Canvas course 110")),
    ("a module neither here nor exported", this_term(4, 5, 6, 10),
     {}, "waiting for kmom01, kmom02, kmom03"),
]


@pytest.mark.parametrize(("subs", "exported", "expected"), [c[1:] for c in RETAKES],
                         ids=[c[0] for c in RETAKES])
def test_course_grade_of_a_retake_counts_modules_exported_from_another_room(
        subs, exported, expected) -> None:
    grade = retake(subs, **exported).course_grade
    if isinstance(expected, str):
        assert (grade.earned, grade.grade, grade.reason) == (False, None, expected)
    else:
        assert (grade.earned, grade.grade, grade.date, grade.reason) == (True, *expected)


def test_retake_course_grade_takes_the_final_modules_graders_from_where_it_was_earned() -> None:
    grade = retake(this_term(1, 2, 3, 4, 5, 6),
                   c2225=from_last_term("A", D(2024, 12, 1))).course_grade
    assert (grade.grader_ids, grade.grader_names) == ((), ("Old Teacher <old@example.edu>",))
    here = retake(this_term(4, 5, 6, 10), c2205=from_last_term("G", D(2024, 11, 4)))
    assert (here.course_grade.grader_ids, here.course_grade.grader_names) == ((7,), ())


def test_the_room_that_exported_the_course_grade_keeps_deciding_it() -> None:
    subs = this_term(1, 2, 3, 4, 5, 6)
    later = from_last_term("A", D(2025, 5, 1))
    owned = ExportedResult(565, "B", D(2025, 3, 20))
    grade = retake(subs, c2225=later, cDV1531=owned).course_grade
    assert (grade.earned, grade.grade, grade.date) == (True, "A", D(2025, 5, 1))


def test_a_room_no_longer_configured_decides_nothing_its_modules_still_count() -> None:
    exported = {"c2205": from_here("G", D(2025, 2, 9), at(2, 10)),
                "c2225": from_here("B", D(2025, 3, 20), at(3, 21)),
                "c2215": from_last_term("G", D(2025, 6, 2), at(6, 3))}
    configured = course(rooms=(565, LAST_TERM))
    decided_there = retake(this_term(1, 2, 3, 10), configured, **exported).course_grade
    assert decided_there.reason == ("decided in Canvas course 110 (same Ladok course), where "
                                    "the last module (2215) was earned")
    removed = course(rooms=(565,))
    grade = retake(this_term(1, 2, 3, 10), removed, **exported).course_grade
    assert (grade.earned, grade.grade, grade.date) == (True, "B", D(2025, 6, 2))
    assert grade.reason == ("grade B from final module 2225; module 2215 exported from Canvas "
                            "course 110")


def test_a_course_grade_its_removed_room_exported_is_listed_when_it_changes() -> None:
    removed = course(rooms=(565,))
    exported = {"c2225": from_last_term("A", D(2025, 5, 1), at(5, 2)),
                "cDV1531": from_last_term("A", D(2025, 5, 1), at(5, 20))}
    same = retake(this_term(1, 2, 3, 4, 5, 6), removed, **exported)
    assert same.course_grade.reason == ("decided in Canvas course 110 (same Ladok course), "
                                        "which exported it") and same.manual == ()
    exported["cDV1531"] = from_last_term("B", D(2025, 5, 1), at(5, 20))
    changed = retake(this_term(1, 2, 3, 4, 5, 6), removed, **exported)
    assert not changed.course_grade.earned
    assert changed.manual == (
        "course grade: decided in Canvas course 110 (same Ladok course), which exported it; "
        "that room is no longer configured, and the course grade is now A (2025-05-01): "
        "change it in Ladok by hand",)


# --- 2.3 examination dates and graders ---------------------------------------------------


def test_late_night_grading_across_midnight_utc_is_next_day_in_stockholm() -> None:
    outcome = run({1: graded("G", at(3, 3, 23, 30))})
    assert moment(outcome, 1).date == dt.date(2025, 3, 4)
    submitted = run({1: graded("G", at(3, 5), submitted=(at(3, 3, 23, 30),))})
    assert moment(submitted, 1).date == dt.date(2025, 3, 4)


def test_date_uses_the_course_timezone() -> None:
    crs = course(timezone="America/New_York")
    assert moment(run({1: graded("G", at(3, 4, 3, 0))}, crs), 1).date == dt.date(2025, 3, 3)


def test_moment_date_is_latest_submission_not_after_the_grade() -> None:
    state = graded("G", at(2, 10), submitted=(at(2, 1), at(2, 5), at(2, 12)))
    assert moment(run({1: state}), 1).date == dt.date(2025, 2, 5)


def test_moment_date_without_submission_is_date_the_grade_was_recorded() -> None:
    assert moment(run({1: graded("G", at(2, 10))}), 1).date == dt.date(2025, 2, 10)


def test_grade_without_known_recording_time_needs_manual_handling() -> None:
    state = SubmissionState(grade="G", posted=True, submitted_times=(at(2, 1),))
    outcome = run({1: state})
    assert moment(outcome, 1).needs_manual and not moment(outcome, 1).passed
    assert outcome.manual == ("kmom01 (assignment 101): time of grading unknown",)


def obs(kind: str, when: dt.datetime, tag: str, **fields) -> Observation:
    return Observation(kind=kind, time=when, tiebreak=tag, **fields)


def test_event_leaving_grade_unchanged_never_moves_date() -> None:
    state = fold([
        obs("event", at(2, 1), "s1", submitted_at=at(2, 1)),
        obs("grade_change", at(2, 3), "g1", grade="G", score=1.0, posted=True, grader_id=7),
        obs("event", at(2, 20), "s2", submitted_at=at(2, 20)),  # resubmission after grading
        obs("grade_change", at(2, 21), "g2", grade="g", score=1.0, posted=True, grader_id=8),
    ])
    assert moment(run({1: state}), 1).date == dt.date(2025, 2, 1)


def graded_then(*changes: tuple[str, dt.datetime, dict]) -> SubmissionState:
    """Handed in 1 February, then each (grade, time, extra fields) posted in turn."""
    observations = [obs("event", at(2, 1), "s1", submitted_at=at(2, 1))]
    for n, (grade, when, extra) in enumerate(changes):
        fields = {"grade": grade, "posted": True, "grader_id": 7, **extra}
        observations.append(obs("grade_change", when, f"g{n}", **fields))
        observations.append(obs("event", when + dt.timedelta(hours=1), f"s{n + 2}",
                                submitted_at=when + dt.timedelta(hours=1)))
    return fold(observations)


def test_same_grade_re_saved_with_another_score_keeps_its_first_posted_time() -> None:
    state = graded_then(("G", at(2, 3), {"score": 10.0}), ("G", at(2, 20), {"score": 9.0}))
    assert state.grade_since == at(2, 3) and state.posted_grades == ((at(2, 3), "G"),)
    assert moment(run({1: state}), 1).date == dt.date(2025, 2, 1)


def test_same_grade_re_saved_without_a_score_or_by_another_grader_keeps_its_time() -> None:
    state = graded_then(("G", at(2, 3), {"score": 10.0}),
                        ("g", at(2, 20), {"score": None, "grader_id": 8}),
                        ("G", at(2, 22), {}))
    assert (state.grade_since, state.score, state.grader_id) == (at(2, 3), None, 7)
    assert moment(run({1: state}), 1).date == dt.date(2025, 2, 1)


def test_a_changed_grade_starts_a_new_first_posted_time() -> None:
    state = graded_then(("G", at(2, 3), {}), ("U", at(2, 10), {}), ("G", at(2, 20), {}))
    assert state.grade_since == at(2, 20)
    assert state.posted_grades == ((at(2, 3), "G"), (at(2, 10), "U"), (at(2, 20), "G"))
    assert moment(run({1: state}), 1).date == dt.date(2025, 2, 10)  # the hand-in after the U


def test_a_hidden_grade_posted_again_keeps_its_first_posted_time() -> None:
    state = graded_then(("G", at(2, 3), {}), ("G", at(2, 10), {"posted": False}),
                        ("G", at(2, 20), {}))
    assert state.grade_since == at(2, 3) and state.posted_grades == ((at(2, 3), "G"),)
    assert moment(run({1: state}), 1).date == dt.date(2025, 2, 1)


def test_a_grade_changed_while_hidden_starts_a_new_first_posted_time_when_shown() -> None:
    state = graded_then(("G", at(2, 3), {}), ("U", at(2, 10), {"posted": False}),
                        ("U", at(2, 20), {}), ("G", at(2, 25), {}))
    assert state.posted_grades == ((at(2, 3), "G"), (at(2, 20), "U"), (at(2, 25), "G"))
    assert moment(run({1: state}), 1).date == dt.date(2025, 2, 20)


def test_a_removed_grade_set_again_is_a_new_grade() -> None:
    state = graded_then(("G", at(2, 3), {}), (None, at(2, 10), {}), ("G", at(2, 20), {}))
    assert state.posted_grades == ((at(2, 20), "G"),)
    excused = graded_then(("G", at(2, 3), {}), ("G", at(2, 10), {"excused": True}),
                          ("G", at(2, 20), {"excused": False}))
    assert excused.grade_since == at(2, 20)


def test_a_numeric_grade_keeps_its_date_while_its_letter_stays() -> None:
    crs = course(GU1, ModuleConfig("2225", "Projekt", 1.5, "AF", (10,), grade_from=(10,),
                                   final=True))
    same_letter = graded_then(("72", at(2, 3), {}), ("78", at(2, 20), {}))
    outcome = run({10: same_letter}, crs, points={10: 100})
    assert (moment(outcome, 10).date, module(outcome, "2225").grade) == (
        dt.date(2025, 2, 1), "C")
    new_letter = graded_then(("72", at(2, 3), {}), ("78", at(2, 20), {}), ("85", at(3, 1), {}))
    outcome = run({10: new_letter}, crs, points={10: 100})
    assert (moment(outcome, 10).date, module(outcome, "2225").grade) == (
        dt.date(2025, 2, 20), "B")


def test_a_numeric_grade_on_a_gu_module_keeps_its_date_while_it_passes() -> None:
    passing = graded_then(("4", at(2, 3), {}), ("6", at(2, 10), {}), ("8", at(2, 20), {}))
    assert moment(run({1: passing}, points={1: 10}), 1).date == dt.date(2025, 2, 3)


def test_module_date_is_latest_moment_date() -> None:
    subs = {1: graded("G", at(2, 20)), 2: graded("G", at(2, 3)), 3: graded("G", at(2, 11))}
    assert module(run(subs), "2205").date == dt.date(2025, 2, 20)


def test_course_grade_date_is_latest_module_date() -> None:
    outcome = run(all_passed(graded("B", at(2, 1))))  # project graded before kmom06
    assert module(outcome, "2225").date == dt.date(2025, 2, 1)
    assert outcome.course_grade.date == dt.date(2025, 2, 18)


def test_date_clamped_to_course_start() -> None:
    outcome = run(all_passed(k1=graded("G", at(1, 2), submitted=(dt.datetime(2024, 12, 20),))))
    assert moment(outcome, 1).date == START
    early = {m: graded("G", at(1, 5)) for m in MOMENTS[:-1]} | {10: graded("A", at(1, 6))}
    outcome = run(early)
    assert {m.date for m in outcome.modules} == {START} == {outcome.course_grade.date}


def test_graders_exclude_autograder_and_are_deduplicated_in_order() -> None:
    subs = {1: graded("G", at(2, 3), grader=8), 2: graded("G", at(2, 4), grader=None),
            3: graded("G", at(2, 5), grader=-1)}
    assert module(run(subs), "2205").grader_ids == (8,)
    subs |= {2: graded("G", at(2, 4), grader=5), 3: graded("G", at(2, 5), grader=8)}
    assert module(run(subs), "2205").grader_ids == (8, 5)


# --- dbwebb-style students through evaluate_student --------------------------------------


def u_raised_to_g() -> SubmissionState:
    return fold([
        obs("event", at(2, 2), "s1", submitted_at=at(2, 2)),
        obs("grade_change", at(2, 4), "g1", grade="U", score=0.0, posted=True, grader_id=7),
        obs("event", at(2, 14), "s2", submitted_at=at(2, 14)),
        obs("grade_change", at(2, 16), "g2", grade="G", score=1.0, posted=True, grader_id=8),
    ])


def resubmitted_after_grading() -> SubmissionState:
    return fold([
        obs("event", at(3, 10), "s1", submitted_at=at(3, 10)),
        obs("grade_change", at(3, 20), "g1", grade="C", posted=True, grader_id=9),
        obs("event", at(4, 2), "s2", submitted_at=at(4, 2)),
        obs("event", at(4, 3), "u1", workflow_state="graded"),
    ])


STUDENTS = [
    # id, submissions by moment, (module 1, module 2, project) as (grade, date) or None, course
    ("in order", all_passed(), ("G", D(2025, 2, 9)), ("G", D(2025, 2, 18)),
     ("B", D(2025, 3, 20)), ("B", D(2025, 3, 20))),
    ("out of order",
     {1: graded("G", at(3, 1)), 2: graded("G", at(2, 3)), 3: graded("G", at(2, 4)),
      4: graded("G", at(2, 20)), 5: graded("G", at(2, 10)), 6: graded("G", at(2, 9)),
      10: graded("A", at(2, 25))},
     ("G", D(2025, 3, 1)), ("G", D(2025, 2, 20)), ("A", D(2025, 2, 25)), ("A", D(2025, 3, 1))),
    ("PG on kmom02", all_passed(k2=graded("PG", at(2, 6), grader=-1)),
     None, ("G", D(2025, 2, 18)), ("B", D(2025, 3, 20)), None),
    ("U later raised to G", all_passed(k1=u_raised_to_g()),
     ("G", D(2025, 2, 14)), ("G", D(2025, 2, 18)), ("B", D(2025, 3, 20)),
     ("B", D(2025, 3, 20))),
    ("project in points", all_passed(graded("58", at(3, 20), score=58, points=100)),
     ("G", D(2025, 2, 9)), ("G", D(2025, 2, 18)), ("E", D(2025, 3, 20)), ("E", D(2025, 3, 20))),
    ("project FX in points", all_passed(graded("53", at(3, 20), score=53, points=100)),
     ("G", D(2025, 2, 9)), ("G", D(2025, 2, 18)), None, None),
    ("hidden kmom05", all_passed(k5=graded("G", at(2, 15), posted=False)),
     ("G", D(2025, 2, 9)), None, ("B", D(2025, 3, 20)), None),
    ("excused kmom03", all_passed(k3=graded(None, at(2, 9), excused=True)),
     None, ("G", D(2025, 2, 18)), ("B", D(2025, 3, 20)), None),
    ("late night across midnight UTC",
     all_passed(graded("C", at(3, 4, 8), submitted=(at(3, 3, 23, 30),))),
     ("G", D(2025, 2, 9)), ("G", D(2025, 2, 18)), ("C", D(2025, 3, 4)), ("C", D(2025, 3, 4))),
    ("resubmission after grading", all_passed(resubmitted_after_grading()),
     ("G", D(2025, 2, 9)), ("G", D(2025, 2, 18)), ("C", D(2025, 3, 10)),
     ("C", D(2025, 3, 10))),
    ("nothing graded yet", {}, None, None, None, None),
]


@pytest.mark.parametrize(
    ("subs", "first", "second", "project", "final"),
    [case[1:] for case in STUDENTS], ids=[case[0] for case in STUDENTS],
)
def test_dbwebb_students(subs, first, second, project, final) -> None:
    outcome = run(subs, points={10: 100})
    for code, expected in (("2205", first), ("2215", second), ("2225", project)):
        result = module(outcome, code)
        got = (result.grade, result.date) if exportable(result) else None
        assert got == expected, (code, result.reason)
    grade = outcome.course_grade
    assert ((grade.grade, grade.date) if exportable(grade) else None) == final, grade.reason


def test_dbwebb_student_reasons_and_manual_list() -> None:
    outcome = run(all_passed(k5=graded("G", at(2, 15), posted=False)))
    assert module(outcome, "2215").reason == "kmom05: no posted grade (hidden)"
    assert outcome.course_grade.reason == "waiting for kmom05"
    assert outcome.manual == ("kmom05 (assignment 105): no posted grade (hidden)",)
    assert outcome.unmapped_assignments == ()


STUDENTS_IN_POINTS = [
    ("all in points", points_subs(8, 9, 10, 60), "B"),
    ("weak kmoms, strong project", points_subs(7, 7, 7, 70), "A"),  # 91/100
    ("just above E", points_subs(6, 6, 6, 39), "E"),  # 57/100
    ("project below its own pass", points_subs(10, 10, 10, 38), None),  # 54 %: FX alone
]


@pytest.mark.parametrize(
    ("subs", "expected"), [c[1:] for c in STUDENTS_IN_POINTS],
    ids=[c[0] for c in STUDENTS_IN_POINTS],
)
def test_dbwebb_students_graded_from_summed_points(subs, expected) -> None:
    outcome = run(subs, course(GU1, POINTS), points=VARIANT_POINTS)
    result = module(outcome, "2235")
    assert (result.grade if exportable(result) else None) == expected, result.reason
    grade = outcome.course_grade
    assert (grade.grade if exportable(grade) else None) == expected
    if expected:
        assert grade.date == result.date == dt.date(2025, 3, 20)


# --- properties --------------------------------------------------------------------------

GRADES = ["G", "g", "PG", "U", "Ux", "complete", "incomplete", "A", "b", "C", "E", "FX", "F",
          "85", "40", "3", "54%", None]
times = st.datetimes(
    min_value=dt.datetime(2024, 12, 1), max_value=dt.datetime(2025, 6, 30), timezones=st.just(UTC)
)


@st.composite
def submission_states(draw) -> SubmissionState:
    grade = draw(st.sampled_from(GRADES))
    return graded(
        grade, draw(times),
        submitted=tuple(draw(st.lists(times, max_size=3))),
        score=draw(st.none() | st.floats(0, 100)),
        points=draw(st.sampled_from([None, 10.0, 100.0])),
        grader=draw(st.sampled_from([None, -1, 7, 8])),
        posted=draw(st.booleans()),
        excused=draw(st.booleans()),
    )


# A single-module course has no course-grade line: one draw in seven is plenty for it.
courses = st.sampled_from([course(), course(GU1, POINTS), course(GU1, GU2)] * 2 + [course(GU1)])


def assignments_for(subs: dict[int, SubmissionState]) -> dict[int, AssignmentInfo]:
    extra = {i: AssignmentInfo(i, f"Kmom {i - 200} igen") for i in subs if i >= 200 and i < 900}
    return infos(VARIANT_POINTS) | extra | {900: AssignmentInfo(900, "Bonus")}


@st.composite
def passing_states(draw, module: ModuleConfig, moment_number: int) -> SubmissionState:
    """A posted grade that passes `moment_number` on `module` (as often letters as points)."""
    points = VARIANT_POINTS.get(moment_number, 10)
    summed = module.grade_from_is_list and moment_number in module.grade_from
    letters = ["A", "b", "C", "d", "E"] if module.scale == "AF" else ["G", "g", "complete"]
    if summed or draw(st.booleans()):
        least = math.ceil(points * (0.55 if module.scale == "AF" else 0.5))
        score = float(draw(st.integers(least, points)))
        grade = f"{score:g}"
    else:
        grade, score = draw(st.sampled_from(letters)), None
    return graded(grade, draw(times), submitted=tuple(draw(st.lists(times, max_size=3))),
                  score=score, points=float(points),
                  grader=draw(st.sampled_from([None, -1, 7, 8])))


@st.composite
def course_and_student(draw) -> tuple[CourseConfig, dict[int, SubmissionState]]:
    """A course and a student who passes most moments (19 in 20), the rest anything at all."""
    crs = draw(courses)
    subs: dict[int, SubmissionState] = {}
    for module_config in crs.modules:
        for number in module_config.moments:
            if draw(st.integers(0, 19)) < 19:
                subs[100 + number] = draw(passing_states(module_config, number))
            elif draw(st.booleans()):
                subs[100 + number] = draw(submission_states())
    extra = st.sampled_from([200 + m for m in MOMENTS] + [900])
    subs |= draw(st.dictionaries(extra, submission_states(), max_size=1))
    return crs, subs


def count_earned(outcome: StudentOutcome) -> None:
    """Label the example for `--hypothesis-show-statistics`: how far the student got."""
    earned = sum(m.earned for m in outcome.modules)
    event(f"modules earned: {'some' if earned else 'none'}")
    grade = outcome.course_grade
    event("course grade: " + ("no line" if grade is None else
                              "earned" if grade.earned else "not earned"))


@settings(max_examples=300, deadline=None)
@given(case=course_and_student())
def test_property_course_grade_is_never_a_fail(case) -> None:
    crs, subs = case
    outcome = evaluate_student(crs, assignments_for(subs), subs)
    count_earned(outcome)
    results = outcome.modules + ((outcome.course_grade,) if outcome.course_grade else ())
    for result in results:
        if result.earned:
            assert exportable(result) and result.grade not in ("F", "FX", "U")
    if outcome.course_grade is not None:
        assert outcome.course_grade.grade in (None, "A", "B", "C", "D", "E", "G")


@settings(max_examples=300, deadline=None)
@given(case=course_and_student())
def test_property_dates_never_before_course_start(case) -> None:
    crs, subs = case
    outcome = evaluate_student(crs, assignments_for(subs), subs)
    count_earned(outcome)
    results = outcome.modules + ((outcome.course_grade,) if outcome.course_grade else ())
    dates = [m.date for m in outcome.moments] + [r.date for r in results]
    assert all(d >= crs.start for d in dates if d is not None)
    assert all(r.date is not None for r in results if r.earned)


@settings(max_examples=200, deadline=None)
@given(case=course_and_student(), seed=st.integers())
def test_property_shuffling_assignment_order_changes_nothing(case, seed) -> None:
    crs, subs = case
    assignments = assignments_for(subs)
    expected = evaluate_student(crs, assignments, subs)
    rng = random.Random(seed)
    keys, ids = list(subs), list(assignments)
    rng.shuffle(keys)
    rng.shuffle(ids)
    shuffled = evaluate_student(
        crs, {i: assignments[i] for i in ids}, {k: subs[k] for k in keys}
    )
    assert shuffled == expected
