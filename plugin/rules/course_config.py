"""A course's and its modules' configuration: the inputs the rules are given per course."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

DEFAULT_PASS_GRADES = ("G", "complete", "pass")
DEFAULT_THRESHOLDS = {"A": 90.0, "B": 80.0, "C": 70.0, "D": 60.0, "E": 55.0, "FX": 51.0}
DEFAULT_MOMENT_PATTERN = r"(?i)kmom\s*0*(\d+)"
AF_GRADES = ("A", "B", "C", "D", "E", "FX", "F")


@dataclass(frozen=True)
class ModuleConfig:
    code: str
    name: str
    credits: float
    scale: str  # "GU" or "AF"
    moments: tuple[int, ...]
    grade_from: tuple[int, ...] = ()
    grade_from_is_list: bool = False
    final: bool = False


@dataclass(frozen=True)
class CourseConfig:
    canvas_id: int
    ladok_code: str
    start: dt.date
    timezone: str = "Europe/Stockholm"
    pass_grades: tuple[str, ...] = DEFAULT_PASS_GRADES
    pass_percent: float = 50.0
    grade_thresholds: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    final_grade_delay_days: int = 7
    moment_pattern: str = DEFAULT_MOMENT_PATTERN
    assignments: Mapping[int, int] = field(default_factory=dict)  # assignment id -> moment
    modules: tuple[ModuleConfig, ...] = ()
    # Who gets the course's export receipts; not part of the fingerprint (no result depends on it).
    notify: tuple[str, ...] = field(default=(), repr=False)
    # Ladok's course rounds ("kurstillfällen") the course reports drafts for; no result depends
    # on them either.
    ladok_rounds: tuple[str, ...] = field(default=(), repr=False)
    # The configured Canvas courses (rooms) sharing the ladok_code, this one included: only
    # they decide a course grade. Empty: every room counts as configured.
    rooms: tuple[int, ...] = ()

    def configured(self, room: int) -> bool:
        """True when the Canvas course `room` shares this course's ladok_code in the config."""
        return not self.rooms or room in self.rooms or room == self.canvas_id

    def moment_of_name(self, name: str | None) -> int | None:
        """The moment an assignment name denotes by `moment_pattern`, or None."""
        return moment_number(self.moment_pattern, name)

    def fingerprint(self) -> str:
        """A stable text that changes whenever a rule affecting results changes."""
        return repr(self)


@lru_cache(maxsize=4096)
def moment_number(pattern: str, name: str | None) -> int | None:
    """Group 1 of `pattern` in `name` as an integer, or None (cached: a run asks for the same
    few assignment names once per student)."""
    if not name:
        return None
    match = re.search(pattern, name)
    if not match:
        return None
    try:
        return int(match.group(1))
    except (IndexError, ValueError, TypeError):
        return None
