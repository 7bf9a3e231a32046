"""A fake Canvas REST API on `responses` or on loopback: the pages, headers and faults the client
meets."""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import threading
from http import HTTPStatus
from types import SimpleNamespace
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit, urlunsplit

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
    every assignment unless `grade()` says otherwise. The course's users (`search_users`) are
    its teachers, or, asked by `user_ids[]` (a roster lookup), those of `users`. Each answer
    carries `Date: now`, then `now` moves on by `step`. `fail(path, *answers)` answers the
    next requests to a path with (status, headers, body), by raising an exception, or
    normally (None), in that order.
    """

    def __init__(self, rsps, course_id: int = 565, students: int = 3,
                 assignments: int = 2, *, now: dt.datetime = NOW,
                 step: dt.timedelta = dt.timedelta(0), base: str = BASE):
        self.course_id, self.now, self.step, self.base = course_id, now, step, base
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
        course = f"{base}/api/v1/courses/{course_id}"
        for path, items, render in (("/students/submissions", self.students, self._group),
                                    ("/assignments", self.assignments, None)):
            rsps.add_callback(responses.GET, course + path,
                              callback=self._lister(path, items, render))
        rsps.add_callback(responses.GET, course + "/search_users", callback=self._course_users)
        self.roster_asked: list[list[int]] = []  # the user ids of each roster request

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
               "preview_url": f"{self.base}/courses/{self.course_id}/assignments/{assignment_id}"
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

    def _course_users(self, request):
        """The course's teachers (`enrollment_type[]`), or its users among `user_ids[]`
        (a roster lookup; `users` holds everyone ever enrolled)."""
        query = parse_qs(urlsplit(request.url).query)
        if "user_ids[]" not in query:
            return self._lister("/search_users", self.graders, None)(request)
        if fault := self._fault("/roster"):
            return fault
        asked = [int(u) for u in query["user_ids[]"]]
        self.roster_asked.append(asked)
        found = [self.users[u] for u in asked if u in self.users]
        return self._lister("/roster (page)", found, None)(request)

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


class LoopbackCanvas:
    """A Canvas REST API on 127.0.0.1 for servers and commands in other processes: it answers
    what the FakeCanvas objects built on it (`FakeCanvas(loopback, base=loopback.base)`)
    register, as `responses` would in-process. `asked` holds each request's path and query."""

    def __init__(self) -> None:
        from werkzeug.serving import make_server

        self.routes: list[tuple[str, str, object]] = []
        self.asked: list[str] = []
        self.server = make_server("127.0.0.1", 0, self._answer, threaded=True)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def add_callback(self, method: str, url: str, callback) -> None:
        """Answer `method` requests to `url` (query aside) with `callback(request)`."""
        self.routes.append((method, url, callback))

    def _answer(self, environ, start_response):
        from werkzeug.wrappers import Request

        request = Request(environ)
        url = f"{self.base}{request.full_path.rstrip('?')}"
        self.asked.append(request.full_path)
        for method, route, callback in self.routes:
            if method == request.method and url.split("?")[0] == route:
                status, headers, body = callback(SimpleNamespace(url=url))
                break
        else:
            status, headers, body = 404, {}, json.dumps({"errors": [{"message": "no route"}]})
        start_response(f"{status} {HTTPStatus(status).phrase}",
                       [("Content-Type", "application/json"), *headers.items()])
        return [body.encode()]

    def close(self) -> None:
        self.server.shutdown()
        self.thread.join(10)
