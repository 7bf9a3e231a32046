"""A submission's current state, folded from its observations, newest event winning.

When a grade was first posted decides the examination date, so only a change of the grade
itself starts a new first-posted time: the same grade re-saved with another score, without a
score, by another grader or after a resubmission keeps the time it was first posted, and so does
a grade hidden and posted again (hiding is not a new grade). Each distinct posted grade in a row
is kept with its time (`posted_grades`), across hiding, so the rules can tell whether a grade
written another way ("B" then 85 of 100) changed what it means (which needs the course's
thresholds, unknown here). A removed or excused grade ends that history: a grade set after it
is new.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from plugin.rules.grades import same_grade

UNSET = object()

# Equal times: grade_change first, then other events, and a REST read last (it wins a tie).
KIND_RANK = {"grade_change": 0, "event": 1, "rest": 2}


@dataclass(frozen=True)
class Observation:
    """One event or REST read about a submission; fields it does not carry are UNSET."""

    kind: str  # "grade_change" | "event" | "rest"
    time: dt.datetime  # aware; event_time, or the HTTP Date of a REST response
    tiebreak: str  # content hash
    grade: object = UNSET  # str | None (None: removed or excused)
    score: object = UNSET
    points_possible: object = UNSET
    grader_id: object = UNSET
    posted: object = UNSET  # bool
    excused: object = UNSET  # bool
    submitted_at: object = UNSET  # datetime | None
    workflow_state: object = UNSET
    graded_at: object = UNSET

    def order_key(self) -> tuple:
        """Sort key: oldest first, so the last one applied is the newest."""
        return (self.time, KIND_RANK.get(self.kind, 1), self.tiebreak)


@dataclass(frozen=True)
class SubmissionState:
    """What the store keeps per (course, assignment, student)."""

    grade: str | None = None
    score: float | None = None
    points_possible: float | None = None
    grader_id: int | None = None
    posted: bool = False
    excused: bool = False
    workflow_state: str | None = None
    graded_at: dt.datetime | None = None
    submitted_times: tuple[dt.datetime, ...] = ()
    # When the current grade was first recorded as posted (None while no posted grade).
    grade_since: dt.datetime | None = None
    # The posted grades since the grade was last removed or excused: (first posted, grade),
    # oldest first; hiding keeps them.
    posted_grades: tuple[tuple[dt.datetime, str], ...] = ()
    updated: dt.datetime | None = field(default=None, compare=False)

    @classmethod
    def stored(cls, **fields: Any) -> SubmissionState:
        """A state read back from the store, every field given: built without the frozen
        dataclass's per-field checks (an export reads one per student and assignment)."""
        state = object.__new__(cls)
        state.__dict__.update(fields)
        return state

    @property
    def has_posted_grade(self) -> bool:
        """True when a grade is set, posted and not excused."""
        return self.grade is not None and self.posted and not self.excused


GRADE_FIELDS = ("grade", "score", "points_possible", "grader_id", "posted", "excused")
OTHER_FIELDS = ("workflow_state", "graded_at")


def merge_observation(state: SubmissionState, obs: Observation) -> SubmissionState:
    """The state after one observation (newer than everything applied before)."""
    changes: dict = {"updated": obs.time}
    for name in GRADE_FIELDS + OTHER_FIELDS:
        value = getattr(obs, name)
        if value is not UNSET:
            changes[name] = value
    if obs.submitted_at is not UNSET and obs.submitted_at is not None:
        if obs.submitted_at not in state.submitted_times:
            changes["submitted_times"] = tuple(sorted(state.submitted_times + (obs.submitted_at,)))
    new = replace(state, **changes)
    history = _posted_grades(state, new, obs.time)
    since = history[-1][0] if history and new.has_posted_grade else None
    return replace(new, grade_since=since, posted_grades=history)


def _posted_grades(old: SubmissionState, new: SubmissionState, when: dt.datetime):
    """The posted-grade history after `new`: a grade posted unlike the last one is appended.

    The grade itself, not its score, grader or submissions, makes another grade; a hidden grade
    changes nothing (posted again, it is the grade it was); a removed or excused one clears it.
    """
    if new.excused or not (new.grade or "").strip():
        return ()
    kept = old.posted_grades
    if not new.posted or (kept and same_grade(kept[-1][1], new.grade)):
        return kept
    return kept + ((when, new.grade),)


def fold(observations: Iterable[Observation]) -> SubmissionState:
    """The state after all observations, whatever order they arrived in."""
    state = SubmissionState()
    for obs in sorted(observations, key=Observation.order_key):
        state = merge_observation(state, obs)
    return state
