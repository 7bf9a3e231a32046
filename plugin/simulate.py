"""Build Canvas Live Events in Canvas's own format, for the demo, tests and benchmarks."""

from __future__ import annotations

import datetime as dt
import itertools

SHARD = 2107
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
                when: dt.datetime, *, grader_id: int | None = 900, score: float | None = None,
                points_possible: float = 10, muted: bool = False,
                sis_id: str | None = None, assignment_name: str | None = None) -> dict:
    """A grade_change event."""
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


DEMO_MOMENTS = (1, 2, 3, 4, 5, 6, 10)
DEMO_MODULES_TOML = """
  [[courses.modules]]
  code = "2205"
  name = "Inlämningsuppgift 1"
  credits = 2.5
  scale = "GU"
  moments = ["kmom01", "kmom02", "kmom03"]

  [[courses.modules]]
  code = "2215"
  name = "Inlämningsuppgift 2"
  credits = 2.5
  scale = "GU"
  moments = ["kmom04", "kmom05", "kmom06"]

  [[courses.modules]]
  code = "2225"
  name = "Projekt"
  credits = 2.5
  scale = "AF"
  moments = ["kmom10"]
  grade_from = "kmom10"
  final = true
"""


def demo_course_toml(canvas_id: int = 565, ladok_code: str = "DV1531",
                     start: str = "2025-09-01", extra: str = "") -> str:
    """A [[courses]] table of the demo course (as in config/canvas-ladok.toml)."""
    return (f'\n[[courses]]\ncanvas_id = {canvas_id}\nladok_code = "{ladok_code}"\n'
            f"start = {start}\n{extra}\n{DEMO_MODULES_TOML}")


def demo_term(course_id: int = 565, students: int = 5,
              start: dt.datetime = dt.datetime(2025, 9, 8, 9, 0, tzinfo=dt.UTC)) -> list[dict]:
    """A term of the demo course: assignments, enrollments, hand-ins and grades."""
    events = [assignment_event(course_id, 300 + m, f"Kmom{m:02d}", start) for m in DEMO_MOMENTS]
    events.append(enrollment_event(course_id, 900, "Demo Teacher", start,
                                   kind="TeacherEnrollment"))
    for n in range(1, students + 1):
        user = 1000 + n
        events.append(enrollment_event(course_id, user, f"Student {n}", start))
        for week, moment in enumerate(DEMO_MOMENTS):
            handed_in = start + dt.timedelta(weeks=week + 1, hours=n)
            graded = handed_in + dt.timedelta(days=2)
            events.append(submission_event(course_id, 300 + moment, user, handed_in))
            grade = "G" if moment != 10 else "ABCDE"[n % 5]
            if n == students and moment == 3:
                grade = "PG"  # the autograder's preliminary pass is not a pass
            events.append(grade_event(course_id, 300 + moment, user, grade, graded,
                                      sis_id=f"19900101-{1000 + n:04d}"))
    return events


def post_demo_term(url: str, token: str, students: int) -> dict[str, int]:
    """POST the demo term to a running service's webhook; counts answers by status."""
    import requests

    counts: dict[str, int] = {}
    with requests.Session() as session:
        for event in demo_term(students=students):
            response = session.post(f"{url.rstrip('/')}/webhooks/canvas",
                                    params={"token": token}, json=event, timeout=10)
            key = response.json().get("status", f"http {response.status_code}")
            counts[key] = counts.get(key, 0) + 1
    return counts


def main(argv: list[str] | None = None) -> None:
    """Command line: post a simulated term of the demo course through the real webhook."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--token", required=True, help="the service's webhook URL token")
    parser.add_argument("--students", type=int, default=5)
    args = parser.parse_args(argv)
    print(post_demo_term(args.url, args.token, args.students))


if __name__ == "__main__":
    main()
