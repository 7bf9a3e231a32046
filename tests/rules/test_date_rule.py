"""The examination date follows the outcome (what the rules make of a grade), not its spelling.

Property tests build random histories of one submission: hand-ins, and grades posted one after
the other, each written in any of the spellings that give its outcome ("B", "b", 85 of 100,
"85%"; "G", "complete", 7 of 10), some hidden and posted again, some re-saved with another
score or by another grader. A small model says what the date must be: the run of postings at
the end with the current outcome began at time T; the date is the day of the last hand-in not
after T, else of T, in the course's time zone, never before the course start.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from plugin.rules.course_config import CourseConfig, ModuleConfig
from plugin.rules.results import AssignmentInfo, evaluate_student
from plugin.rules.submission import Observation, fold

ZONE = "Europe/Stockholm"
START = dt.date(2025, 1, 13)
BASE = dt.datetime(2025, 1, 20, 8, 0, tzinfo=dt.UTC)
GU = ModuleConfig("2205", "Inlämningar", 3.0, "GU", (1, 2))
PROJECT = ModuleConfig("2225", "Projekt", 1.5, "AF", (10,), grade_from=(10,), final=True)
COURSE = CourseConfig(565, "DV1531", START, timezone=ZONE, modules=(GU, PROJECT))
KMOM01, KMOM10 = 101, 110
ASSIGNMENTS = {KMOM01: AssignmentInfo(KMOM01, "Kmom01", 10.0),
               102: AssignmentInfo(102, "Kmom02", 10.0),
               KMOM10: AssignmentInfo(KMOM10, "Kmom10", 100.0)}
# Points of 100 that give each letter by the default thresholds.
BANDS = {"A": (90, 100), "B": (80, 89), "C": (70, 79), "D": (60, 69), "E": (55, 59),
         "FX": (51, 54), "F": (0, 50)}


def cased(text: str) -> st.SearchStrategy[str]:
    return st.sampled_from([text, text.lower(), text.upper(), f" {text} "])


def af_spelling(letter: str) -> st.SearchStrategy[str]:
    """Ways a teacher may write `letter` on the project (100 points)."""
    low, high = BANDS[letter]
    number = st.integers(low, high)
    return st.one_of(cased(letter), number.map(str), number.map(lambda n: f"{n}%"))


def gu_spelling(passed: bool) -> st.SearchStrategy[str]:
    """Ways a teacher may write a pass or a fail on kmom01 (10 points)."""
    if passed:
        return st.one_of(st.sampled_from(["G", "g", "complete", "Complete", "pass"]),
                         st.integers(5, 10).map(str))
    return st.one_of(st.sampled_from(["U", "Ux", "incomplete", "PG"]),
                     st.integers(0, 4).map(str))


@st.composite
def histories(draw, scale: str):
    """(outcomes, posting times, hand-in times, observations) of one submission."""
    count = draw(st.integers(1, 5))
    outcomes = draw(st.lists(st.sampled_from(list(BANDS)) if scale == "AF" else st.booleans(),
                             min_size=count, max_size=count))
    gaps = draw(st.lists(st.integers(60, 20 * 24 * 60), min_size=count, max_size=count))
    times, now = [], BASE
    for gap in gaps:
        now += dt.timedelta(minutes=gap)
        times.append(now)
    hand_ins = draw(st.lists(st.integers(-3 * 24 * 60, 110 * 24 * 60).map(
        lambda m: BASE + dt.timedelta(minutes=m)), max_size=4))
    observations = [Observation("event", t, f"s{n}", submitted_at=t)
                    for n, t in enumerate(hand_ins)]
    for n, (outcome, when) in enumerate(zip(outcomes, times, strict=True)):
        spelling = af_spelling(outcome) if scale == "AF" else gu_spelling(outcome)
        text = draw(spelling)
        observations.append(_posted(f"g{n}", when, text, draw(st.integers(1, 9))))
        for step, kind in enumerate(draw(st.lists(st.sampled_from(
                ["hide", "resave", "respell"]), max_size=3)), start=1):
            later = when + dt.timedelta(minutes=step)
            if kind == "hide":  # hidden, and posted again a minute later with the same text
                observations.append(_posted(f"h{n}{step}", later, text, 7, posted=False))
                later += dt.timedelta(seconds=30)
            else:
                text = draw(spelling) if kind == "respell" else text
            observations.append(_posted(f"r{n}{step}", later, text, draw(st.integers(1, 9))))
    return outcomes, times, hand_ins, observations


def _posted(tag: str, when: dt.datetime, grade: str, grader: int,
            posted: bool = True) -> Observation:
    number = grade.strip().rstrip("%")
    score = float(number) if number.isdigit() else None
    return Observation("grade_change", when, tag, grade=grade, score=score, posted=posted,
                       grader_id=grader)


def expected_date(outcomes: list, times: list[dt.datetime],
                  hand_ins: list[dt.datetime]) -> dt.date:
    """The model: the last run of equal outcomes began at T; the last hand-in not after T."""
    first = len(outcomes) - 1
    while first > 0 and outcomes[first - 1] == outcomes[-1]:
        first -= 1
    began = times[first]
    performed = max((t for t in hand_ins if t <= began), default=began)
    return max(performed.astimezone(ZoneInfo(ZONE)).date(), START)


def moment_of(assignment: int, observations: list[Observation]):
    outcome = evaluate_student(COURSE, ASSIGNMENTS, {assignment: fold(observations)})
    return next(m for m in outcome.moments if m.moment == assignment - 100)


@settings(max_examples=300, deadline=None)
@given(histories("AF"))
def test_property_a_project_date_runs_from_the_first_posting_of_its_letter(history) -> None:
    outcomes, times, hand_ins, observations = history
    found = moment_of(KMOM10, observations)
    assert found.passed == (outcomes[-1] in "ABCDE")
    if found.passed:
        assert found.date == expected_date(outcomes, times, hand_ins)


@settings(max_examples=300, deadline=None)
@given(histories("GU"))
def test_property_a_gu_date_runs_from_the_first_posting_of_its_pass(history) -> None:
    outcomes, times, hand_ins, observations = history
    found = moment_of(KMOM01, observations)
    assert found.passed == outcomes[-1]
    if found.passed:
        assert found.date == expected_date(outcomes, times, hand_ins)


@settings(max_examples=200, deadline=None)
@given(histories("AF"), st.data())
def test_property_the_order_events_arrive_in_changes_nothing(history, data) -> None:
    *_, observations = history
    shuffled = data.draw(st.permutations(observations))
    assert fold(shuffled) == fold(observations)


def test_b_re_saved_as_85_of_100_keeps_the_date() -> None:
    handed_in = Observation("event", BASE, "s", submitted_at=BASE)
    first = _posted("g1", BASE + dt.timedelta(days=2), "B", 7)
    late_hand_in = Observation("event", BASE + dt.timedelta(days=9), "s2",
                               submitted_at=BASE + dt.timedelta(days=9))
    again = _posted("g2", BASE + dt.timedelta(days=10), "85", 8)
    found = moment_of(KMOM10, [handed_in, first, late_hand_in, again])
    assert (found.passed, found.date) == (True, BASE.date())
    letter = _posted("g3", BASE + dt.timedelta(days=12), "91", 8)
    assert moment_of(KMOM10, [handed_in, first, late_hand_in, again, letter]).date == (
        late_hand_in.time.date())


def test_g_re_saved_as_complete_keeps_the_date() -> None:
    handed_in = Observation("event", BASE, "s", submitted_at=BASE)
    later = Observation("event", BASE + dt.timedelta(days=5), "s2",
                        submitted_at=BASE + dt.timedelta(days=5))
    observations = [handed_in, _posted("g1", BASE + dt.timedelta(days=1), "G", 7), later,
                    _posted("g2", BASE + dt.timedelta(days=6), "complete", 7)]
    assert moment_of(KMOM01, observations).date == BASE.date()


def test_a_hidden_g_posted_again_keeps_the_date_of_the_first_posting() -> None:
    handed_in = Observation("event", BASE, "s", submitted_at=BASE)
    graded = _posted("g1", BASE + dt.timedelta(days=1), "G", 7)
    hidden = _posted("h", BASE + dt.timedelta(days=3), "G", 7, posted=False)
    resubmitted = Observation("event", BASE + dt.timedelta(days=4), "s2",
                              submitted_at=BASE + dt.timedelta(days=4))
    shown = _posted("g2", BASE + dt.timedelta(days=8), "G", 7)
    assert moment_of(KMOM01, [handed_in, graded, hidden]).passed is False
    assert moment_of(KMOM01, [handed_in, graded, hidden, resubmitted, shown]).date == (
        BASE.date())
