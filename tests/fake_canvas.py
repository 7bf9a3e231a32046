"""A fake Canvas REST API on `responses`: the pages, headers and faults the client meets."""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import responses

BASE = "https://canvas.example.edu"
API = f"{BASE}/api/v1"
TOKEN = "canvas-secret-token"  # the token the conftest environment sets
NOW = dt.datetime(2025, 10, 1, 12, 0, tzinfo=dt.UTC)
RATE_LIMITED = (403, {}, "403 Forbidden (Rate Limit Exceeded)")


def iso(when: dt.datetime | None) -> str | None:
    """A time as Canvas writes it."""
    return None if when is None else when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeCanvas:
    """One Canvas course served through `responses`, paged by `Link` headers like Canvas.

    Students 1001…, assignments 301… ("Kmom01"…), grader 900; every student has a posted G on
    every assignment unless `grade()` says otherwise. Each answer carries `Date: now`, then
    `now` moves on by `step`. `fail(path, *answers)` answers the next requests to a path with
    (status, headers, body), by raising an exception, or normally (None), in that order.
    """

    def __init__(self, rsps: responses.RequestsMock, course_id: int = 565, students: int = 3,
                 assignments: int = 2, *, now: dt.datetime = NOW,
                 step: dt.timedelta = dt.timedelta(0)):
        self.course_id, self.now, self.step = course_id, now, step
        self.graded = now - dt.timedelta(days=2)  # when the default grades were set
        self.students = [1000 + n for n in range(1, students + 1)]
        self.assignments = [{"id": 300 + a, "name": f"Kmom{a:02d}", "points_possible": 10.0,
                             "description": "<p>Do it.</p>", "due_at": "2025-09-30T21:59:59Z"}
                            for a in range(1, assignments + 1)]
        self.graders = [{"id": 900, "name": "Tea Cher", "sortable_name": "Cher, Tea",
                         "login_id": "tea@example.edu", "email": "tea@example.edu"}]
        self.users = {u: self.user_json(u) for u in self.students}
        self.grades: dict[tuple[int, int], dict] = {}
        self.faults: dict[str, list] = {}
        course = f"{API}/courses/{course_id}"
        for path, items, render in (("/students/submissions", self.students, self._group),
                                    ("/assignments", self.assignments, None),
                                    ("/search_users", self.graders, None)):
            rsps.add_callback(responses.GET, course + path,
                              callback=self._lister(path, items, render))
        rsps.add_callback(responses.GET, re.compile(rf"{re.escape(API)}/users/\d+"),
                          callback=self._user_answer)

    def user_json(self, user_id: int) -> dict:
        """A Canvas User object for `user_id` (students are 1001…)."""
        n = user_id - 1000
        return {"id": user_id, "name": f"Student {n}", "sortable_name": f"{n}, Student",
                "sis_user_id": f"19900101-{n:04d}", "integration_id": None,
                "login_id": f"s{n}@student.example.edu"}

    def grade(self, user_id: int, assignment_id: int, grade: str | None, *,
              posted: bool = True, graded_at: dt.datetime | None = None, **fields) -> None:
        """Set one submission's grade (None: no grade) and any other submission fields."""
        graded_at = graded_at or self.graded + dt.timedelta(days=1)
        self.grades[(user_id, assignment_id)] = {
            "grade": grade, "score": None, "graded_at": iso(graded_at if grade else None),
            "posted_at": iso(graded_at) if posted and grade else None,
            "workflow_state": "graded" if grade else "unsubmitted", **fields}

    def fail(self, path: str, *answers) -> None:
        """Answer the next requests whose path ends with `path` with these faults, in order."""
        self.faults.setdefault(path, []).extend(answers)

    def submission(self, user_id: int, assignment_id: int) -> dict:
        """The submission JSON Canvas would send (with the `user` include)."""
        graded = self.graded
        out = {"id": assignment_id * 100_000 + user_id, "assignment_id": assignment_id,
               "user_id": user_id, "grade": "G", "score": None, "attempt": 1,
               "submitted_at": iso(graded - dt.timedelta(days=1)), "graded_at": iso(graded),
               "posted_at": iso(graded), "grader_id": 900, "excused": False, "late": False,
               "missing": False, "seconds_late": 0, "workflow_state": "graded",
               "preview_url": f"{BASE}/courses/{self.course_id}/assignments/{assignment_id}"
                              f"/submissions/{user_id}?preview=1&version=1",
               "user": self.users[user_id]}
        out.update(self.grades.get((user_id, assignment_id), {}))
        return out

    def _group(self, user_id: int, query: dict) -> dict:
        subs = [self.submission(user_id, a["id"]) for a in self.assignments]
        if query.get("graded_since"):
            subs = [s for s in subs if _graded_since(s, query["graded_since"])]
        user = self.users[user_id]
        return {"user_id": user_id, "section_id": 1, "sis_user_id": user["sis_user_id"],
                "integration_id": user["integration_id"], "submissions": subs}

    def _lister(self, path: str, items: list, render):
        def answer(request):
            if fault := self._fault(path):
                return fault
            query = dict(parse_qsl(urlsplit(request.url).query))
            page, per_page = int(query.get("page", 1)), int(query.get("per_page", 10))
            headers = self._headers()
            if page * per_page < len(items):
                headers["Link"] = f'<{_with_page(request.url, page + 1)}>; rel="next"'
            shown = items[(page - 1) * per_page:page * per_page]
            if render:
                shown = [render(item, query) for item in shown]
            return 200, headers, json.dumps(shown)
        return answer

    def _user_answer(self, request):
        if fault := self._fault("/users"):
            return fault
        user_id = int(urlsplit(request.url).path.rsplit("/", 1)[1])
        if user_id not in self.users:
            return 404, self._headers(), json.dumps({"errors": [{"message": "not found"}]})
        return 200, self._headers(), json.dumps(self.users[user_id])

    def _fault(self, path: str):
        answer = self.faults[path].pop(0) if self.faults.get(path) else None
        if isinstance(answer, Exception):
            raise answer
        return answer

    def _headers(self) -> dict:
        date = email.utils.format_datetime(self.now, usegmt=True)
        self.now += self.step
        return {"Date": date, "X-Rate-Limit-Remaining": "700.0"}


def _graded_since(submission: dict, since: str) -> bool:
    graded = submission["graded_at"]
    return graded is not None and (
        dt.datetime.fromisoformat(graded) >= dt.datetime.fromisoformat(since))


def _with_page(url: str, page: int) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "page"]
    return urlunsplit(parts._replace(query=urlencode(query + [("page", str(page))])))
