"""The demo: a simulated term of the demo course, posted through a running service's webhook.

    python -m plugin.demo.simulate --token <webhook token> [--url URL] [--students N]

The demo course is the one in config/canvas-ladok.toml (Canvas course 565, Ladok DV1531):
kmom01–03 and kmom04–06 make two G/U modules and the project kmom10 an A–F module that gives
the course grade. The events are built by `plugin.demo.live_events`.
"""

from __future__ import annotations

import datetime as dt

from plugin.demo.live_events import course_term

DEMO_COURSE = 565
DEMO_MOMENTS = (1, 2, 3, 4, 5, 6, 10)
DEMO_START = dt.datetime(2025, 9, 8, 9, 0, tzinfo=dt.UTC)


def demo_term(course_id: int = DEMO_COURSE, students: int = 5,
              start: dt.datetime = DEMO_START) -> list[dict]:
    """A term of the demo course: assignments, enrollments, hand-ins and grades."""

    def grade(n: int, moment: int) -> str:
        if n == students and moment == 3:
            return "PG"  # the autograder's preliminary pass is not a pass
        return "G" if moment != 10 else "ABCDE"[n % 5]

    return course_term(course_id, students, DEMO_MOMENTS, grade, start)


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
