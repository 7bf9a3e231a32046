"""The one Canvas REST client: canvasapi over a polite, retrying session that hides the token.

Faults: 429, and 403 whose body says "Rate Limit Exceeded", wait as
Canvas asks (`Retry-After`, else doubling waits) and are retried; a low `X-Rate-Limit-Remaining`
slows the next request down; 5xx answers, timeouts and connection errors are retried with the
bounded exponential backoff of a urllib3 `Retry`. The session drives that `Retry` itself (the
adapter does no retries of its own) so every wait goes through one injectable `sleep`. Whatever
fails reaches the caller as a `CanvasError` with a clear message that never holds the token.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import requests
from canvasapi import Canvas
from canvasapi.course import Course
from canvasapi.exceptions import CanvasException
from canvasapi.paginated_list import PaginatedList
from urllib3.exceptions import InvalidHeader, MaxRetryError
from urllib3.util.retry import Retry

from plugin.canvas.events import canonical_json, parse_grader, parse_id, parse_time
from plugin.settings import Settings

log = logging.getLogger(__name__)

TIMEOUT = (10.0, 10.0)  # connect, read (seconds)
PROMPT_TIMEOUT = (3.0, 10.0)  # while a person waits for a page
RATE_LIMIT_WAITS = 8  # rate-limited answers waited out before giving up
MAX_WAIT = 60.0  # longest single wait, whatever Retry-After says
LOW_REMAINING = 100.0  # X-Rate-Limit-Remaining below this slows requests down
MAX_PACE = 2.0  # the pause before a request when the remaining quota is nearly zero
REDACTED = "[REDACTED]"
STATUS_MESSAGES = {
    401: "Canvas refused the token (401)",
    403: "Canvas denied access to {what} (403)",
    404: "{what} not found in Canvas (404)",
}
PageInfo = tuple[int, dt.datetime]  # response number, HTTP Date
# A roster lookup asks for this many students at once: one request (one page) each.
ROSTER_PAGE = 100
# Every enrollment state, so students whose enrollment ended are found too.
ROSTER_STATES = ("active", "invited", "completed", "inactive", "rejected")
SUBMISSION_KEYS = ("assignment_id", "grade", "score", "posted_at", "excused", "submitted_at",
                   "workflow_state", "graded_at", "grader_id", "points_possible")


class CanvasError(Exception):
    """Canvas could not give what was asked; the message is safe to log and to show."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class CanvasNotConfigured(CanvasError):
    """canvas.url or the API token is missing: nothing was asked."""


class TokenFilter(logging.Filter):
    """Masks every registered secret in a log record's message."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def mask(self, text: str) -> str:
        """`text` with every secret replaced."""
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            masked = self.mask(message)
            if masked != message:
                record.msg, record.args = masked, ()
        return True


TOKEN_FILTER = TokenFilter()
# Called with the (safe) message whenever Canvas answers 401: the token expired or was revoked.
UNAUTHORIZED_LISTENERS: list[Callable[[str], Any]] = []


def on_unauthorized(listener: Callable[[str], Any]) -> None:
    """Call `listener(message)` in this process whenever Canvas refuses the token (401)."""
    UNAUTHORIZED_LISTENERS.append(listener)


def refused_token(exc: BaseException) -> bool:
    """True when `exc` is Canvas refusing the token (401): its listeners have been told."""
    return isinstance(exc, CanvasError) and exc.status == 401

# Loggers that see requests; a filter on a logger applies to the records it creates.
REQUEST_LOGGERS = ("canvasapi", "canvasapi.requester", "urllib3", "urllib3.connectionpool",
                   "urllib3.util.retry", "requests", __name__)


def protect_token(token: str) -> None:
    """Mask `token` in every record of the loggers that see Canvas requests."""
    if token:
        TOKEN_FILTER.secrets.add(token)
    for name in REQUEST_LOGGERS:
        logger = logging.getLogger(name)
        if TOKEN_FILTER not in logger.filters:
            logger.addFilter(TOKEN_FILTER)


def default_retry() -> Retry:
    """Four retries of 5xx, timeouts and connection errors, waiting 0.5, 1, 2, 4 s."""
    return Retry(total=4, backoff_factor=0.5, backoff_max=8.0,
                 status_forcelist=frozenset(range(500, 600)), raise_on_status=False)


def is_rate_limited(response: requests.Response) -> bool:
    """True for 429, and for a 403 whose body says the rate limit was exceeded."""
    if response.status_code == 429:
        return True
    return response.status_code == 403 and "rate limit exceeded" in response.text.lower()


def http_date(response: requests.Response | None) -> dt.datetime:
    """The response's `Date` as an aware time; now when it has none."""
    text = response.headers.get("Date") if response is not None else None
    with contextlib.suppress(TypeError, ValueError):
        if text:
            return email.utils.parsedate_to_datetime(text).astimezone(dt.UTC)
    return dt.datetime.now(dt.UTC)


class CanvasSession(requests.Session):
    """A Session with a default timeout, retries, rate-limit waits and request counts."""

    def __init__(self, sleep: Callable[[float], Any] = time.sleep,
                 timeout: tuple[float, float] = TIMEOUT, retry: Retry | None = None):
        super().__init__()
        self.sleep, self.timeout, self.retry = sleep, timeout, retry or default_retry()
        self.requests = 0  # HTTP requests sent, retries included
        self.answers = 0  # responses handed on (one per page)
        self.last_response: requests.Response | None = None

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        """Send until Canvas answers something other than a retryable fault."""
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        retry, waits = self.retry, 0
        while True:
            self.requests += 1
            try:
                response = super().request(method, url, *args, **kwargs)
            except (requests.Timeout, requests.ConnectionError) as exc:
                retry = self._back_off(retry, method, url, error=exc)
                continue
            if is_rate_limited(response):
                waits = self._wait_for_quota(response, waits)
            elif retry.is_retry(method, response.status_code):
                retry = self._back_off(retry, method, url, response=response)
            else:
                self._pace(response)
                self.answers += 1
                self.last_response = response
                return response

    def _back_off(self, retry: Retry, method: str, url: str,
                  response: requests.Response | None = None,
                  error: Exception | None = None) -> Retry:
        status = response.status_code if response is not None else None
        fault = f"HTTP {status}" if status is not None else type(error).__name__
        try:
            raw = response.raw if response is not None else None
            retry = retry.increment(method, url, response=raw, error=error)
        except MaxRetryError:
            attempts = len(retry.history) + 1
            raise CanvasError(f"Canvas kept failing ({fault}) after {attempts} attempts",
                              status) from None
        delay = min(MAX_WAIT, max(retry.get_backoff_time(), retry.backoff_factor,
                                  self._retry_after(response) or 0.0))
        log.warning("Canvas fault (%s); retrying in %.1f s", fault, delay)
        self.sleep(delay)
        return retry

    def _wait_for_quota(self, response: requests.Response, waits: int) -> int:
        if waits >= RATE_LIMIT_WAITS:
            raise CanvasError(f"Canvas rate limit still exceeded after {waits} waits "
                              f"({response.status_code})", response.status_code)
        delay = self._retry_after(response)
        delay = min(MAX_WAIT, delay if delay is not None else 2.0 ** waits)
        log.warning("Canvas rate limit exceeded (%s); waiting %.1f s", response.status_code, delay)
        self.sleep(delay)
        return waits + 1

    def _retry_after(self, response: requests.Response | None) -> float | None:
        value = response.headers.get("Retry-After") if response is not None else None
        if not value:
            return None
        try:
            return self.retry.parse_retry_after(value)
        except InvalidHeader:  # an unreadable header is no instruction
            return None

    def _pace(self, response: requests.Response) -> None:
        try:
            remaining = float(response.headers.get("X-Rate-Limit-Remaining", "inf"))
        except ValueError:
            return
        if remaining < LOW_REMAINING:
            self.sleep(MAX_PACE * (1 - max(remaining, 0.0) / LOW_REMAINING))


@dataclass(frozen=True)
class CanvasUser:
    """Who a Canvas user is: the ids Ladok may use, name and email."""

    id: int
    name: str | None = None
    email: str | None = None
    sis_user_id: str | None = None
    integration_id: str | None = None
    login_id: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CanvasUser:
        """The user in a Canvas User object (or a grouped submission's student)."""
        return cls(_id(data.get("id", data.get("user_id"))), _text(data.get("name")),
                   _text(data.get("email")), _text(data.get("sis_user_id")),
                   _text(data.get("integration_id")), _text(data.get("login_id")))

    def facts(self) -> dict[str, str | None]:
        """The stored columns (everything but the id)."""
        return {"name": self.name, "email": self.email, "sis_user_id": self.sis_user_id,
                "integration_id": self.integration_id, "login_id": self.login_id}


@dataclass(frozen=True)
class CanvasSubmission:
    """One submission as REST reads it; `content_hash` is the sha256 of its canonical JSON."""

    assignment_id: int
    grade: str | None
    score: float | None
    posted_at: dt.datetime | None
    excused: bool
    submitted_at: dt.datetime | None
    workflow_state: str | None
    graded_at: dt.datetime | None
    grader_id: int | None
    points_possible: float | None
    content_hash: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CanvasSubmission:
        """The facts of a Canvas Submission object."""
        raw = {key: data.get(key) for key in SUBMISSION_KEYS}
        raw["user_id"] = data.get("user_id")
        return cls(
            _id(raw["assignment_id"]), _text(raw["grade"]), _float(raw["score"]),
            parse_time(raw["posted_at"]), bool(raw["excused"]), parse_time(raw["submitted_at"]),
            _text(raw["workflow_state"]), parse_time(raw["graded_at"]),
            parse_grader(raw["grader_id"], None), _float(raw["points_possible"]),
            hashlib.sha256(canonical_json(raw).encode()).hexdigest(),
        )


@dataclass(frozen=True)
class StudentSubmissions:
    """A student and their submissions, from the page answered at `date` (page `page`);
    `user_read` when Canvas sent the student's whole user object (every id it has)."""

    user: CanvasUser
    submissions: tuple[CanvasSubmission, ...]
    date: dt.datetime
    page: int
    user_read: bool = True


@dataclass(frozen=True)
class CanvasAssignment:
    """An assignment's name and points, as read at `date`."""

    id: int
    name: str | None
    points_possible: float | None
    date: dt.datetime


def _id(value: Any) -> int:
    number = parse_id(value)
    if number is None:
        raise CanvasError(f"Canvas sent an object without a usable id ({value!r})")
    return number


def _text(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _float(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _raw_json(_requester: Any, attributes: dict[str, Any]) -> dict[str, Any]:
    return attributes


class CanvasClient:
    """Reads one Canvas instance through canvasapi; every method raises only CanvasError."""

    def __init__(self, url: str, token: str, *, sleep: Callable[[float], Any] = time.sleep,
                 timeout: tuple[float, float] = TIMEOUT, retry: Retry | None = None):
        if not url:
            raise CanvasNotConfigured("canvas.url is not configured")
        if not token.strip():
            raise CanvasNotConfigured("CANVAS_LADOK_CANVAS_TOKEN is not set")
        protect_token(token.strip())
        self.session = CanvasSession(sleep, timeout, retry)
        self.canvas = Canvas(url, token)
        # canvasapi offers no way to pass a session: replace the one its requester made.
        self._requester = self.canvas._Canvas__requester
        self._requester._session.close()
        self._requester._session = self.session
        self._page_date: PageInfo = (-1, dt.datetime.now(dt.UTC))

    @property
    def requests(self) -> int:
        """HTTP requests sent so far, retries included."""
        return self.session.requests

    def course_students_submissions(self, course_id: int, graded_since: dt.datetime | None = None
                                    ) -> Iterator[StudentSubmissions]:
        """Every student of the course with their submissions: one request per 100 students."""
        params: dict[str, Any] = {"student_ids": ["all"], "grouped": True, "include": ["user"]}
        if graded_since is not None:
            params["graded_since"] = graded_since.astimezone(dt.UTC)
        groups = self._course(course_id).get_multiple_submissions(**params)
        for group, (page, date) in self._paged(groups, f"course {course_id}"):
            yield _student_submissions(group, page, date)

    def course_assignments(self, course_id: int) -> list[CanvasAssignment]:
        """The course's assignments: id, name and points."""
        found = self._course(course_id).get_assignments()
        return [CanvasAssignment(_id(a.get("id")), _text(a.get("name")),
                                 _float(a.get("points_possible")), date)
                for a, (_page, date) in self._paged(found, f"course {course_id}")]

    def course_graders(self, course_id: int) -> list[CanvasUser]:
        """The course's teachers and TAs, with email where Canvas shows it."""
        found = self._course(course_id).get_users(enrollment_type=["teacher", "ta"],
                                                  include=["email"])
        return [CanvasUser.from_json(u) for u, _ in self._paged(found, f"course {course_id}")]

    def course_roster(self, course_id: int, user_ids: Iterable[int]
                      ) -> Iterator[tuple[list[int], list[CanvasUser]]]:
        """The course's users among `user_ids`, whatever their enrollment state, as (the ids
        asked, the users Canvas knows of them): one request per ROSTER_PAGE students."""
        ids = list(user_ids)
        for start in range(0, len(ids), ROSTER_PAGE):
            asked = ids[start:start + ROSTER_PAGE]
            found = self._course(course_id).get_users(
                user_ids=asked, enrollment_state=list(ROSTER_STATES), per_page=ROSTER_PAGE)
            yield asked, [CanvasUser.from_json(u)
                          for u, _ in self._paged(found, f"course {course_id} roster")]

    def _course(self, course_id: int) -> Course:
        # A Course needs only its id to list things: no request to fetch the course itself.
        return Course(self._requester, {"id": course_id})

    def _paged(self, items: PaginatedList, what: str) -> Iterator[tuple[dict, PageInfo]]:
        """Each item's JSON with the number and HTTP Date of the page (response) it came in."""
        # canvasapi turns every item into an object, trying each value as a date on the way
        # (about 0.5 ms a value); the raw JSON is all that is needed here. PaginatedList asks
        # for per_page=100 unless told otherwise.
        items._content_class = _raw_json
        with self._asking(what):
            for item in items:
                yield item, self._page()

    def _page(self) -> PageInfo:
        if self._page_date[0] != self.session.answers:
            self._page_date = (self.session.answers, http_date(self.session.last_response))
        return self._page_date

    @contextlib.contextmanager
    def _asking(self, what: str) -> Iterator[None]:
        """Turn whatever goes wrong while asking Canvas about `what` into a CanvasError."""
        try:
            yield
        except CanvasError as exc:
            raise CanvasError(TOKEN_FILTER.mask(f"{what}: {exc}"), exc.status) from None
        except (CanvasException, requests.RequestException) as exc:
            raise self._error(what, exc) from None

    def _error(self, what: str, exc: Exception) -> CanvasError:
        response = self.session.last_response
        status = response.status_code if response is not None else None
        if status in STATUS_MESSAGES:
            message = STATUS_MESSAGES[status].format(what=what)
        elif status is not None and status >= 400:
            message = f"{what}: Canvas answered HTTP {status}"
        else:
            message = f"{what}: unusable answer from Canvas ({type(exc).__name__})"
        if status == 401:
            for listener in UNAUTHORIZED_LISTENERS:
                listener(TOKEN_FILTER.mask(message))
        return CanvasError(TOKEN_FILTER.mask(message), status)


def _student_submissions(group: dict, page: int, date: dt.datetime) -> StudentSubmissions:
    submissions = group.get("submissions") or ()
    read = next((s["user"] for s in submissions if isinstance(s.get("user"), dict)), None)
    user = dict(read or {})
    user.update({k: group[k] for k in ("sis_user_id", "integration_id") if group.get(k)})
    user["id"] = group.get("user_id", user.get("id"))
    return StudentSubmissions(CanvasUser.from_json(user),
                              tuple(CanvasSubmission.from_json(s) for s in submissions),
                              date, page, read is not None)


def client_from_settings(settings: Settings, **kwargs: Any) -> CanvasClient:
    """The client for the configured Canvas instance and token."""
    return CanvasClient(settings.canvas_url, settings.canvas_token, **kwargs)


def prompt_client(settings: Settings) -> CanvasClient | None:
    """A client for a person waiting on a page: one try, short timeouts (a page says what
    Canvas could not tell rather than keep them waiting); None without a Canvas API."""
    if not (settings.canvas_url and settings.canvas_token.strip()):
        return None
    return client_from_settings(settings, timeout=PROMPT_TIMEOUT, retry=Retry(total=0))
