"""Grade comparison and pass/fail judgement of one posted grade."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from plugin.rules.course_config import AF_GRADES, DEFAULT_PASS_GRADES, DEFAULT_THRESHOLDS
from plugin.rules.reasons import Reason

PASSING_LETTERS = ("A", "B", "C", "D", "E")
# Never a pass, whatever `pass_grades` says: PG is only "preliminärt godkänt" (autograder).
NEVER_PASS = frozenset({"pg", "u", "ux", "incomplete", "f", "fx"})
EXPORTABLE_GRADES = frozenset(PASSING_LETTERS + ("G",))
_NUMBER = re.compile(r"^([+-]?\d+(?:[.,]\d+)?|[+-]?[.,]\d+)\s*(%?)$")


def normalize(grade: str | None) -> str:
    """The comparable form of a grade: trimmed and case-folded ("" for None)."""
    return (grade or "").strip().casefold()


def same_grade(a: str | None, b: str | None) -> bool:
    """True when two grades are equal ignoring case and surrounding space ("Fx" = "FX")."""
    return normalize(a) == normalize(b)


def grade_in(grade: str | None, grades: Iterable[str]) -> bool:
    """True when `grade` equals one of `grades`, case-insensitively."""
    return normalize(grade) in _normalized(tuple(grades))


@lru_cache(maxsize=64)
def _normalized(grades: tuple[str, ...]) -> frozenset[str]:
    return frozenset(normalize(g) for g in grades)


def is_exportable_grade(grade: str | None) -> bool:
    """True for the grades that may go to Ladok: G and A–E (never FX, F, U)."""
    return grade_in(grade, EXPORTABLE_GRADES)


def parse_number(grade: str | None) -> tuple[float, bool] | None:
    """A numeric grade as (value, is_percent), e.g. "8,5" -> (8.5, False), "85%" -> (85, True)."""
    match = _NUMBER.match((grade or "").strip())
    if not match:
        return None
    return float(match.group(1).replace(",", ".")), match.group(2) == "%"


def percent_of(value: float, points_possible: float | None) -> float | None:
    """`value` as a percentage of `points_possible`, or None without positive points."""
    if points_possible is None or points_possible <= 0:
        return None
    return round(value / points_possible * 100, 9)  # 55.00000000000001 is 55


def letter_for_percent(
    percent: float, thresholds: Mapping[str, float] = DEFAULT_THRESHOLDS
) -> str:
    """The A–F grade for a percentage: the best grade whose threshold it reaches, else F."""
    def rank(item: tuple[str, float]) -> tuple[float, int]:
        grade = item[0].upper()
        return (-item[1], AF_GRADES.index(grade) if grade in AF_GRADES else len(AF_GRADES))

    for grade, limit in sorted(thresholds.items(), key=rank):
        if percent >= limit:
            return grade.upper()
    return "F"


@dataclass(frozen=True)
class Verdict:
    """The judgement of one grade: passed, its A–F letter if any, and why."""

    passed: bool
    reason: Reason
    letter: str | None = None  # A–F: the letter grade, or a numeric grade mapped by thresholds
    percent: float | None = None  # a numeric grade as a percentage of points_possible
    manual: bool = False  # cannot be judged without a person


def judge(
    grade: str | None,
    scale: str = "GU",
    points_possible: float | None = None,
    *,
    pass_grades: Iterable[str] = DEFAULT_PASS_GRADES,
    pass_percent: float = 50.0,
    thresholds: Mapping[str, float] = DEFAULT_THRESHOLDS,
) -> Verdict:
    """Judge one posted grade on a module of `scale` ("GU" or "AF").

    In order: PG, U, Ux, incomplete, F and FX never pass (even if listed in `pass_grades`);
    on an AF module a letter A–E passes; a grade in `pass_grades` passes; a numeric grade is a
    percentage of `points_possible` ("85%" is taken as is) that passes at `pass_percent` on a GU
    module and maps by `thresholds` on an AF module (passing at A–E); anything else (such as a
    letter on a GU module) is not a pass. A numeric grade without points possible is manual.
    """
    text = (grade or "").strip()
    key = normalize(grade)
    letter = text.upper() if text.upper() in AF_GRADES and scale == "AF" else None
    if not key:
        return Verdict(False, Reason("grade.none"))
    if key in NEVER_PASS:
        return Verdict(False, Reason("grade.not_pass", grade=text), letter)
    if letter is not None:
        return Verdict(True, Reason("grade.passed", grade=letter), letter)
    if grade_in(text, pass_grades):
        return Verdict(True, Reason("grade.passed", grade=text))
    number = parse_number(text)
    if number is None:
        code = "grade.not_pass_af" if scale == "AF" else "grade.not_pass_gu"
        return Verdict(False, Reason(code, grade=text))
    return _judge_number(text, number, scale, points_possible, pass_percent, thresholds)


def _judge_number(
    text: str,
    number: tuple[float, bool],
    scale: str,
    points_possible: float | None,
    pass_percent: float,
    thresholds: Mapping[str, float],
) -> Verdict:
    value, is_percent = number
    percent = value if is_percent else percent_of(value, points_possible)
    if percent is None:
        return Verdict(False, Reason("grade.no_points_possible", grade=text), manual=True)
    shown = {"grade": text} if is_percent else {
        "grade": text, "possible": float(points_possible), "percent": float(percent)}
    points = "" if is_percent else "_points"
    if scale == "AF":
        letter = letter_for_percent(percent, thresholds)
        passed = letter in PASSING_LETTERS
        code = f"grade.{'passed' if passed else 'not_pass'}{points}_letter"
        return Verdict(passed, Reason(code, **shown, letter=letter), letter, percent)
    if percent >= pass_percent:
        code = "grade.passed_points" if points else "grade.passed"
        return Verdict(True, Reason(code, **shown), None, percent)
    return Verdict(False, Reason(f"grade.below{points}", **shown, limit=float(pass_percent)),
                   None, percent)

