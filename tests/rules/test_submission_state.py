"""A submission state read back from the store is the same value as one built field by field."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from plugin.rules.submission import SubmissionState


def test_a_state_read_back_equals_one_built_field_by_field():
    hand_in = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
    built = SubmissionState(grade="G", score=1.0, points_possible=1.0, grader_id=7, posted=True,
                            workflow_state="graded", submitted_times=(hand_in,),
                            posted_grades=((hand_in, "G"),))
    stored = SubmissionState.stored(**dataclasses.asdict(built))
    assert stored == built and hash(stored) == hash(built) and repr(stored) == repr(built)
    assert dataclasses.replace(stored, grade="U") == dataclasses.replace(built, grade="U")
    with pytest.raises(dataclasses.FrozenInstanceError):
        stored.grade = "U"
