"""The short road of the rules for the common student agrees with the full rules."""

from __future__ import annotations

import dataclasses
import datetime as dt

from hypothesis import event, given, settings
from hypothesis import strategies as st

from plugin.rules.common_case import CommonCase
from plugin.rules.results import StudentOutcome, evaluate_student
from plugin.rules.submission import SubmissionState
from tests.rules.test_rules import (
    GU1,
    GU2,
    MOMENTS,
    POINTS,
    PROJECT,
    all_passed,
    assignments_for,
    at,
    course,
    course_and_student,
    graded,
    infos,
    passing_states,
    submission_states,
)


def without_reasons(outcome: StudentOutcome) -> StudentOutcome:
    """The outcome with its words for people blanked (the short road leaves them empty)."""
    blank = {"reason": ""}
    return dataclasses.replace(
        outcome,
        moments=tuple(dataclasses.replace(m, **blank, date_reason="") for m in outcome.moments),
        modules=tuple(dataclasses.replace(m, **blank) for m in outcome.modules),
        course_grade=outcome.course_grade and dataclasses.replace(outcome.course_grade, **blank),
    )


def by_assignment(subs: dict[int, SubmissionState]) -> dict[int, SubmissionState]:
    return {100 + m: s for m, s in subs.items()}


@st.composite
def with_history(draw, state: SubmissionState) -> SubmissionState:
    """`state` with a posted-grade history: none, the grade itself (maybe posted earlier), or
    another grade before it."""
    if state.grade_since is None or draw(st.integers(0, 2)) > 0:
        return state
    earlier = state.grade_since - dt.timedelta(days=draw(st.integers(0, 20)))
    first = draw(st.sampled_from([state.grade, "G", "A", "7", "U"]))
    history = ((earlier, first),) if first == state.grade else (
        (earlier, first), (state.grade_since, state.grade))
    return dataclasses.replace(state, posted_grades=history)


@st.composite
def common_students(draw):
    """Mostly the common student (every moment passed), now and then anything else: another
    grade, a second assignment on a moment, an unmapped one, a posted-grade history."""
    crs = draw(st.sampled_from([course(), course(GU1, GU2), course(GU1), course(GU1, POINTS)]))
    subs = {}
    for module_config in crs.modules:
        for number in module_config.moments:
            if draw(st.integers(0, 29)) < 29:
                subs[100 + number] = draw(passing_states(module_config, number))
            elif draw(st.booleans()):
                subs[100 + number] = draw(submission_states())
    if draw(st.integers(0, 3)) == 0:
        again = draw(st.sampled_from([200 + m for m in MOMENTS] + [900]))
        module_config = next((m for m in crs.modules if again - 200 in m.moments), GU1)
        subs[again] = draw(passing_states(module_config, again - 200) | submission_states())
    return crs, subs


@st.composite
def students(draw):
    crs, subs = draw(course_and_student() | common_students())
    return crs, {a: draw(with_history(s)) for a, s in subs.items()}


@settings(max_examples=500, deadline=None)
@given(case=students(), forget=st.integers(0, 3))
def test_property_the_short_road_agrees_with_the_full_rules(case, forget) -> None:
    crs, subs = case
    assignments = assignments_for(subs)
    if forget == 0 and subs:  # a grade for an assignment the store has no facts about
        assignments = {a: info for a, info in assignments.items() if a != max(subs)}
    short = CommonCase(crs, assignments).evaluate(subs)
    event("short road taken" if short is not None else "full rules needed")
    if short is not None:
        full = evaluate_student(crs, assignments, subs, explain_dates=False)
        assert short == without_reasons(full)


def test_the_common_student_takes_the_short_road() -> None:
    crs, subs = course(), by_assignment(all_passed())
    short = CommonCase(crs, infos()).evaluate(subs)
    assert short is not None
    assert short == without_reasons(evaluate_student(crs, infos(), subs))
    assert [(m.grade, m.date) for m in short.modules] == [
        ("G", dt.date(2025, 2, 9)), ("G", dt.date(2025, 2, 18)), ("B", dt.date(2025, 3, 20))]


def test_a_grade_first_posted_earlier_keeps_its_first_date() -> None:
    crs = course(GU1, GU2, PROJECT)
    history = {10: dataclasses.replace(graded("B", at(3, 20)),
                                       posted_grades=((at(3, 1), "B"),))}
    subs = by_assignment(all_passed(**{f"k{m}": s for m, s in history.items()}))
    short = CommonCase(crs, infos()).evaluate(subs)
    assert short is not None and short.course_grade.date == dt.date(2025, 3, 1)
    assert short == without_reasons(evaluate_student(crs, infos(), subs))


def test_anything_but_plain_passes_takes_the_full_rules() -> None:
    crs = course()
    hidden = by_assignment(all_passed(k5=graded("G", at(2, 15), posted=False)))
    failed = by_assignment(all_passed(project=graded("F", at(3, 20))))
    missing = {a: s for a, s in by_assignment(all_passed()).items() if a != 100 + MOMENTS[0]}
    two = by_assignment(all_passed()) | {201: graded("G", at(2, 4))}
    infos_two = infos() | {201: infos()[101].__class__(201, "kmom01 igen")}
    common = CommonCase(crs, infos())
    assert [common.evaluate(s) for s in (hidden, failed, missing)] == [None, None, None]
    assert CommonCase(crs, infos_two).evaluate(two) is None
