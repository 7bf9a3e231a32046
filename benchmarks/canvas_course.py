"""One Canvas course served through `responses`, as the re-sync benchmark reads it.

Students 1001… each with a posted G from teacher 900 on every assignment ("Kmom01"…, ids
301…). Lists come in pages of `per_page` with a `Link: rel="next"` header, as Canvas pages
them; every answer carries an HTTP `Date`; `graded_since` leaves out older grades. The
course's users are its teacher, or, asked by `user_ids[]` (a roster lookup), those students.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import responses

BASE = "https://canvas.example.edu"
API = f"{BASE}/api/v1"
GRADED = "2025-09-29T12:00:00Z"


def _user(user_id: int) -> dict:
    n = user_id - 1000
    return {"id": user_id, "name": f"Student {n}", "sis_user_id": f"19900101-{n:04d}",
            "integration_id": None, "login_id": f"s{n}@student.example.edu"}


def _grouped(user_id: int, assignments: list[dict], since: str | None) -> dict:
    user = _user(user_id)
    graded = since is None or dt.datetime.fromisoformat(GRADED) >= dt.datetime.fromisoformat(since)
    submissions = [{"id": a["id"] * 100_000 + user_id, "assignment_id": a["id"],
                    "user_id": user_id, "grade": "G", "score": None, "excused": False,
                    "submitted_at": "2025-09-28T12:00:00Z", "graded_at": GRADED,
                    "posted_at": GRADED, "grader_id": 900, "workflow_state": "graded",
                    "user": user} for a in assignments] if graded else []
    return {"user_id": user_id, "sis_user_id": user["sis_user_id"], "submissions": submissions}


def _headers() -> dict:
    return {"Date": email.utils.formatdate(usegmt=True), "X-Rate-Limit-Remaining": "700.0"}


def _pages(items: list, render):
    """A `responses` callback answering the page a request asks for."""
    def answer(request):
        parts = urlsplit(request.url)
        query = dict(parse_qsl(parts.query))
        page, size = int(query.pop("page", 1)), int(query.get("per_page", 10))
        headers = _headers()
        if page * size < len(items):
            kept = [(k, v) for k, v in parse_qsl(parts.query) if k != "page"]
            following = urlencode([*kept, ("page", str(page + 1))])
            headers["Link"] = f'<{parts._replace(query=following).geturl()}>; rel="next"'
        body = [render(item, query) for item in items[(page - 1) * size:page * size]]
        return 200, headers, json.dumps(body)
    return answer


def serve_course(rsps: responses.RequestsMock, course_id: int, students: int,
                 assignments: int) -> None:
    """Answer the course's submissions, assignments, teachers and users from `rsps`."""
    tasks = [{"id": 300 + a, "name": f"Kmom{a:02d}", "points_possible": 10.0}
             for a in range(1, assignments + 1)]
    teachers = [{"id": 900, "name": "Tea Cher", "email": "tea@example.edu"}]
    routes = {
        "students/submissions": (list(range(1001, 1001 + students)),
                                 lambda u, q: _grouped(u, tasks, q.get("graded_since"))),
        "assignments": (tasks, lambda item, _q: item),
    }
    for path, (items, render) in routes.items():
        rsps.add_callback(responses.GET, f"{API}/courses/{course_id}/{path}",
                          callback=_pages(items, render))
    teachers_page = _pages(teachers, lambda item, _q: item)

    def course_users(request):
        asked = parse_qs(urlsplit(request.url).query).get("user_ids[]")
        if asked is None:
            return teachers_page(request)
        found = [int(u) for u in asked if 1001 <= int(u) < 1001 + students]
        return _pages(found, lambda u, _q: _user(u))(request)

    rsps.add_callback(responses.GET, f"{API}/courses/{course_id}/search_users",
                      callback=course_users)
