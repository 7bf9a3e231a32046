"""A line the report cannot hold is refused, whichever line with the same fields came first."""

from __future__ import annotations

import dataclasses
import datetime as dt

from plugin.export.run import _unwritable_line
from plugin.export.writers import ExportLine


def _line(**changes) -> ExportLine:
    line = ExportLine(course_code="DV1531", component_code="0010", student_id="19900101-1001",
                      canvas_user_id=1001, student_name="Ada", component_name="Kmom",
                      credits=7.5, grade="G", exam_date=dt.date(2025, 10, 1),
                      graders=("Demo Teacher",), status="new")
    return dataclasses.replace(line, **changes)


def test_a_blank_grader_is_refused_for_every_student_with_it():
    first = _unwritable_line(_line(graders=(" ",), component_code="0020"))
    second = _unwritable_line(_line(graders=(" ",), component_code="0020",
                                    student_id="19900101-1002", canvas_user_id=1002))
    assert first == second == (
        "0020: cannot be written to the report: ValueError: graders is empty")


def test_a_line_without_a_date_is_refused_after_a_dated_one_with_the_same_fields():
    assert _unwritable_line(_line(component_code="0030")) is None
    refused = _unwritable_line(_line(component_code="0030",
                                     exam_date=dt.datetime(2025, 10, 1, tzinfo=dt.UTC)))
    assert refused is not None and "exam_date" in refused
