"""Parse Canvas Live Events into plain facts; no I/O."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

from plugin.rules.submission import UNSET, Observation
from plugin.store.models import MAX_ID

SHARD_FACTOR = 10**13
MAX_INT_DIGITS = 4300  # Python's own limit on converting decimal text to int
GRADE_EVENTS = {"grade_change", "submission_created", "submission_updated"}
ASSIGNMENT_EVENTS = {"assignment_created", "assignment_updated"}
ENROLLMENT_PREFIX = "enrollment_"
ENROLLMENT_EVENTS = {"enrollment_created", "enrollment_updated"}
CALIPER = "caliper"  # the name a Caliper envelope is known by (not supported)
# Every event name the parser tells apart; the metrics count any other as "other".
EVENT_NAMES = frozenset(GRADE_EVENTS | ASSIGNMENT_EVENTS | ENROLLMENT_EVENTS | {CALIPER})


class MalformedEvent(ValueError):
    """The request is neither a Canvas event nor a Caliper envelope (answer 400)."""


@dataclass
class ParsedEvent:
    """What one event says, with ids made local; `ignore` is a reason when unusable."""

    name: str
    content_hash: str
    canonical: str
    event_time: dt.datetime | None = None
    course_id: int | None = None
    assignment_id: int | None = None
    user_id: int | None = None
    ignore: str | None = None
    observation: Observation | None = None
    assignment: dict[str, Any] = field(default_factory=dict)
    user: dict[str, Any] = field(default_factory=dict)
    enrollment_state: str | None = None


# One encoder and one decoder for every event: json.dumps and json.loads with options build
# new ones on each call.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def canonical_json(obj: Any) -> str:
    """Canonical text of a JSON value: keys sorted, no insignificant space, ASCII only.

    ASCII escapes keep any string (even a lone surrogate or NUL) storable and hashable.
    """
    return _CANONICAL.encode(obj)


def clean_text(value: Any, limit: int) -> str | None:
    """A string fit for a text column: no NUL, no lone surrogate, at most `limit` chars."""
    if not isinstance(value, str):
        return None
    text = value.replace("\x00", "")[:limit]
    return text.encode("utf-8", "replace").decode("utf-8")


def _integer(digits: str) -> int | str:
    """A JSON integer; one too long for Python to convert (over 4300 digits) stays text, so
    the event is still stored (such an id is out of range and the event ignored)."""
    return int(digits) if len(digits) <= MAX_INT_DIGITS else digits


_DECODER = json.JSONDecoder(parse_int=_integer)


def decode(raw: bytes) -> dict:
    """The JSON object of a request body, or MalformedEvent naming what is wrong."""
    try:
        # As json.loads reads bytes: UTF-8, -16 or -32, told apart by their first bytes.
        obj = _DECODER.decode(raw.decode(json.detect_encoding(raw), "surrogatepass"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedEvent(f"body is not JSON: {exc}") from None
    except RecursionError:
        raise MalformedEvent("body is nested too deeply") from None
    if is_canvas_event(obj) or (isinstance(obj, dict) and isinstance(obj.get("data"), list)):
        return obj
    if not isinstance(obj, dict):
        raise MalformedEvent("body must be a JSON object")
    metadata, body = obj.get("metadata"), obj.get("body")
    if not isinstance(metadata, dict):
        raise MalformedEvent("missing metadata object")
    if not isinstance(metadata.get("event_name"), str) or not metadata["event_name"]:
        raise MalformedEvent("metadata.event_name missing")
    if not isinstance(body, dict):
        raise MalformedEvent("missing body object")
    return obj


def parse_time(value: Any) -> dt.datetime | None:
    """An ISO 8601 time as an aware datetime (no offset means UTC), or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        return parsed.astimezone(dt.UTC)
    except (ValueError, OverflowError):  # not a time, or outside years 1..9999 in UTC
        return None


_MAX_ID_DIGITS = len(str(MAX_ID))


def parse_id(value: Any) -> int | None:
    """A Canvas id from a string or integer; None when absent or not an id."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        digits = value.strip()
        if not (digits.isascii() and digits.isdigit()):
            return None
        if len(digits.lstrip("0")) > _MAX_ID_DIGITS:
            return None  # out of range, and too long to convert cheaply (or at all)
        value = int(digits)
    if isinstance(value, int):
        return value if 0 <= value <= MAX_ID else None
    return None


def local_id(value: Any, home_shard: int | None) -> int | None:
    """A global id on the home shard made local; ids from other shards are kept whole."""
    number = parse_id(value)
    if number is None or number < SHARD_FACTOR:
        return number
    shard, local = divmod(number, SHARD_FACTOR)
    return local if home_shard is not None and shard == home_shard else number


def home_shard(metadata: dict) -> int | None:
    """The shard of root_account_id, else of context_id."""
    for key in ("root_account_id", "context_id"):
        number = parse_id(metadata.get(key))
        if number is not None and number >= SHARD_FACTOR:
            return number // SHARD_FACTOR
    return None


def parse(obj: dict, details: bool = True) -> ParsedEvent:
    """Parse a decoded request into a ParsedEvent (MalformedEvent if it cannot be stored).

    Without `details` only what the inbox stores is parsed (name, hash, canonical text, time,
    ids, ignore reason), not what applying the event changes: the webhook stores the event,
    and applying it later parses the stored text again."""
    try:
        return _parse(obj, details)
    except RecursionError:  # decodable, yet too deep to encode again
        raise MalformedEvent("body is nested too deeply") from None


def is_canvas_event(obj: Any) -> bool:
    """True for {"metadata": {"event_name": ...}, "body": {...}}."""
    return (isinstance(obj, dict) and isinstance(obj.get("metadata"), dict)
            and isinstance(obj["metadata"].get("event_name"), str)
            and bool(obj["metadata"]["event_name"]) and isinstance(obj.get("body"), dict))


def _parse(obj: dict, details: bool) -> ParsedEvent:
    if not is_canvas_event(obj):  # a Caliper envelope
        canonical = canonical_json(obj)
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        return ParsedEvent(CALIPER, digest, canonical, ignore="Caliper format is not supported")
    metadata, body = obj["metadata"], obj["body"]
    # Only the event itself counts: a JWT's own claims (iat, exp) differ on each delivery.
    canonical = canonical_json({"metadata": metadata, "body": body})
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    event = ParsedEvent(clean_text(metadata["event_name"], 100), digest, canonical)
    event.event_time = parse_time(metadata.get("event_time"))
    shard = home_shard(metadata)
    if event.event_time is None:
        event.ignore = "metadata.event_time missing or not a time"
    elif event.name in GRADE_EVENTS:
        _parse_grade_event(event, metadata, body, shard, details)
    elif event.name in ASSIGNMENT_EVENTS:
        _parse_assignment_event(event, body, shard, details)
    elif event.name.startswith(ENROLLMENT_PREFIX):
        _parse_enrollment_event(event, body, shard, details)
    else:
        event.ignore = f"event type {event.name!r} is not used"
    return event


def _course_of(metadata: dict, body: dict, shard: int | None) -> int | None:
    for source in (metadata, body):
        if source.get("context_type", "Course") == "Course" and source.get("context_id"):
            return local_id(source.get("context_id"), shard)
    return None


def _parse_grade_event(event: ParsedEvent, metadata: dict, body: dict, shard: int | None,
                       details: bool) -> None:
    event.course_id = _course_of(metadata, body, shard)
    event.assignment_id = local_id(body.get("assignment_id"), shard)
    event.user_id = local_id(body.get("student_id") or body.get("user_id"), shard)
    missing = [
        name for name, value in (
            ("submission_id", body.get("submission_id")),
            ("assignment_id", event.assignment_id),
            ("student_id", event.user_id),
        ) if value in (None, "")
    ]
    if missing:
        event.ignore = f"grade event without {', '.join(missing)}"
        return
    if not details:
        return
    fields = _grade_fields(event.name, body, shard)
    kind = "grade_change" if event.name == "grade_change" else "event"
    event.observation = Observation(kind=kind, time=event.event_time, tiebreak=event.content_hash,
                                    **fields)
    if isinstance(body.get("assignment_name"), str):
        event.assignment["name"] = clean_text(body["assignment_name"], 1000)
    sis = clean_text(body.get("student_sis_id"), 255)
    if sis:
        event.user["sis_user_id"] = sis


def _number(value: Any) -> float | None | object:
    if value is None:
        return None
    try:
        number = float(value) if isinstance(value, (int, float, str)) else None
    except (ValueError, OverflowError):
        return UNSET
    if isinstance(value, bool) or number is None or not math.isfinite(number):
        return UNSET
    return number


def _grade_value(value: Any) -> str | None | object:
    if value is None:
        return None
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return clean_text(str(value), 100)
    return UNSET


def _grade_fields(name: str, body: dict, shard: int | None) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if name == "grade_change":
        fields["grade"] = _grade_value(body.get("grade"))
        fields["score"] = _number(body.get("score"))
        fields["points_possible"] = _number(body.get("points_possible"))
        fields["grader_id"] = parse_grader(body.get("grader_id"), shard)
        if isinstance(body.get("muted"), bool):
            fields["posted"] = not body["muted"]
        if isinstance(body.get("excused"), bool):
            fields["excused"] = body["excused"]
    else:
        if "submitted_at" in body:
            fields["submitted_at"] = parse_time(body.get("submitted_at"))
        if isinstance(body.get("workflow_state"), str):
            fields["workflow_state"] = clean_text(body["workflow_state"], 50)
        if "posted_at" in body:
            fields["grade"] = _grade_value(body.get("grade"))
            if "score" in body:  # an absent score says nothing about the score
                fields["score"] = _number(body.get("score"))
            fields["posted"] = parse_time(body.get("posted_at")) is not None
            fields["graded_at"] = parse_time(body.get("graded_at"))
            if isinstance(body.get("excused"), bool):
                fields["excused"] = body["excused"]
    return {k: v for k, v in fields.items() if v is not UNSET}


def parse_grader(value: Any, shard: int | None) -> int | None:
    # Autograders show as null or negative ids: keep negatives so they can be told apart.
    if isinstance(value, str) and value.strip().startswith("-"):
        number = parse_id(value.strip()[1:])
        return -number if number is not None else None
    if isinstance(value, int) and not isinstance(value, bool) and -MAX_ID <= value < 0:
        return value
    return local_id(value, shard)


def _parse_assignment_event(event: ParsedEvent, body: dict, shard: int | None,
                            details: bool) -> None:
    event.course_id = _course_of({}, body, shard)
    event.assignment_id = local_id(body.get("assignment_id"), shard)
    if event.assignment_id is None:
        event.ignore = "assignment event without assignment_id"
        return
    if not details:
        return
    if isinstance(body.get("title"), str):
        event.assignment["name"] = clean_text(body["title"], 1000)
    points = _number(body.get("points_possible"))
    if points is not UNSET:
        event.assignment["points_possible"] = points


def _parse_enrollment_event(event: ParsedEvent, body: dict, shard: int | None,
                            details: bool) -> None:
    event.course_id = local_id(body.get("course_id"), shard)
    event.user_id = local_id(body.get("user_id"), shard)
    if event.user_id is None or event.course_id is None:
        event.ignore = "enrollment event without course_id or user_id"
        return
    if not details:
        return
    if isinstance(body.get("user_name"), str):
        event.user["name"] = clean_text(body["user_name"], 1000)
    if isinstance(body.get("workflow_state"), str):
        event.enrollment_state = clean_text(body["workflow_state"], 50)
