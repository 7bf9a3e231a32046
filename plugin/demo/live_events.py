"""Canvas Live Events built in Canvas's own format (`{"metadata": ..., "body": ...}`).

What Canvas would send when teachers publish assignments, students enrol and hand in, and
grades are set: the demo (`python -m plugin.demo.simulate`) posts these to the webhook, and tests
and benchmarks build their events with them. Ids are global ids on one shard, as Canvas sends.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Sequence

SHARD = 2107
TEACHER = 900
_counter = itertools.count(1)


def global_id(local: int, shard: int = SHARD) -> str:
    """A Canvas global id string on `shard`."""
    return str(shard * 10**13 + local)


def _metadata(name: str, course_id: int, when: dt.datetime) -> dict:
    return {
        "event_name": name,
        "event_time": when.astimezone(dt.UTC).isoformat(timespec="milliseconds")
        .replace("+00:00", "Z"),
        "context_id": global_id(course_id),
        "context_type": "Course",
        "root_account_id": global_id(1),
        "producer": "canvas",
        "request_id": f"sim-{next(_counter)}",
    }


def assignment_event(course_id: int, assignment_id: int, title: str, when: dt.datetime,
                     points_possible: float = 10) -> dict:
    """An assignment_updated event naming an assignment."""
    return {
        "metadata": _metadata("assignment_updated", course_id, when),
        "body": {
            "assignment_id": global_id(assignment_id), "context_id": global_id(course_id),
            "context_type": "Course", "title": title, "points_possible": points_possible,
            "workflow_state": "published",
        },
    }


def submission_event(course_id: int, assignment_id: int, user_id: int,
                     when: dt.datetime) -> dict:
    """A submission_created event: the student handed in at `when`."""
    stamp = when.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    return {
        "metadata": _metadata("submission_created", course_id, when),
        "body": {
            "assignment_id": global_id(assignment_id), "user_id": global_id(user_id),
            "submission_id": global_id(assignment_id * 100_000 + user_id),
            "submitted_at": stamp, "workflow_state": "submitted", "attempt": 1,
        },
    }


def grade_event(course_id: int, assignment_id: int, user_id: int, grade: str | None,
                when: dt.datetime, *, grader_id: int | None = TEACHER,
                score: float | None = None, points_possible: float = 10, muted: bool = False,
                sis_id: str | None = None, assignment_name: str | None = None) -> dict:
    """A grade_change event (`muted` means the grade is hidden from the student)."""
    body = {
        "assignment_id": global_id(assignment_id), "student_id": global_id(user_id),
        "user_id": global_id(user_id),
        "submission_id": global_id(assignment_id * 100_000 + user_id),
        "grade": grade, "score": score, "points_possible": points_possible,
        "grader_id": global_id(grader_id) if grader_id and grader_id > 0 else grader_id,
        "muted": muted, "grading_complete": grade is not None,
    }
    if sis_id:
        body["student_sis_id"] = sis_id
    if assignment_name:
        body["assignment_name"] = assignment_name
    return {"metadata": _metadata("grade_change", course_id, when), "body": body}


def enrollment_event(course_id: int, user_id: int, name: str, when: dt.datetime,
                     state: str = "active", kind: str = "StudentEnrollment") -> dict:
    """An enrollment_created event carrying the user's name."""
    return {
        "metadata": _metadata("enrollment_created", course_id, when),
        "body": {
            "course_id": global_id(course_id), "user_id": global_id(user_id),
            "user_name": name, "workflow_state": state, "type": kind,
        },
    }


def course_term(course_id: int, students: int, moments: Sequence[int],
                grade: Callable[[int, int], str | None], start: dt.datetime) -> list[dict]:
    """A term of a dbwebb-style course, in the order Canvas would send it.

    Assignment "KmomNN" (id 300 + NN) per moment; the teacher (900) and students 1001… enrol;
    in week w student n hands in the w-th moment (n hours after `start` + w weeks) and is
    graded two days later with `grade(n, moment)`. Student n's Ladok identity is
    19900101-(1000 + n).
    """
    events = [assignment_event(course_id, 300 + m, f"Kmom{m:02d}", start) for m in moments]
    events.append(enrollment_event(course_id, TEACHER, "Demo Teacher", start,
                                   kind="TeacherEnrollment"))
    for n in range(1, students + 1):
        user = 1000 + n
        events.append(enrollment_event(course_id, user, f"Student {n}", start))
        for week, moment in enumerate(moments):
            handed_in = start + dt.timedelta(weeks=week + 1, hours=n)
            events.append(submission_event(course_id, 300 + moment, user, handed_in))
            events.append(grade_event(course_id, 300 + moment, user, grade(n, moment),
                                      handed_in + dt.timedelta(days=2),
                                      sis_id=f"19900101-{user:04d}"))
    return events
