"""SQLAlchemy models: the event inbox, current Canvas state, jobs, and the export ledger."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from plugin.status import IGNORED, QUEUED

MAX_ID = 2**63 - 1  # the largest BIGINT: every Canvas id is kept in such a column


class UTCDateTime(TypeDecorator):
    """Aware datetimes stored as UTC on every backend."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=dt.UTC)


class Base(DeclarativeBase):
    pass


PENDING_EVENTS = text("applied = false")  # SQLite reads `false` as 0
IGNORED_EVENTS = text(f"status = '{IGNORED}'")


class Event(Base):
    """Every event received (the inbox), whatever became of it."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    webhook_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    event_name: Mapped[str] = mapped_column(String(100))
    event_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    receive_count: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(20))  # accepted | ignored
    reason: Mapped[str | None] = mapped_column(Text)
    course_id: Mapped[int | None] = mapped_column(BigInteger)
    assignment_id: Mapped[int | None] = mapped_column(BigInteger)
    user_id: Mapped[int | None] = mapped_column(BigInteger)
    payload: Mapped[str] = mapped_column(Text)
    # Accepted events are applied to the current state after the 202, in batches.
    applied: Mapped[bool] = mapped_column(Boolean, default=False, server_default=true())

    # Partial indexes: an accepted event enters only the small pending one and leaves it once
    # applied, so the webhook's insert touches few pages. Queries use the same predicates.
    __table_args__ = (
        Index("ix_events_pending", "id", sqlite_where=PENDING_EVENTS,
              postgresql_where=PENDING_EVENTS),
        Index("ix_events_ignored", "course_id", sqlite_where=IGNORED_EVENTS,
              postgresql_where=IGNORED_EVENTS),
    )


class ObservationRow(Base):
    """What one event or REST read said about one submission (the fold's input)."""

    __tablename__ = "observations"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    course_id: Mapped[int] = mapped_column(BigInteger)
    assignment_id: Mapped[int] = mapped_column(BigInteger)
    user_id: Mapped[int] = mapped_column(BigInteger)
    source_hash: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(20))
    time: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    fields: Mapped[str] = mapped_column(Text)  # JSON of the fields it carries

    __table_args__ = (
        UniqueConstraint("course_id", "assignment_id", "user_id", "source_hash"),
    )


class Submission(Base):
    """The current folded state per (course, assignment, student)."""

    __tablename__ = "submissions"
    course_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    assignment_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    grade: Mapped[str | None] = mapped_column(String(100))
    score: Mapped[float | None] = mapped_column(Float)
    points_possible: Mapped[float | None] = mapped_column(Float)
    grader_id: Mapped[int | None] = mapped_column(BigInteger)
    posted: Mapped[bool] = mapped_column(Boolean, default=False)
    excused: Mapped[bool] = mapped_column(Boolean, default=False)
    workflow_state: Mapped[str | None] = mapped_column(String(50))
    graded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    submitted_times: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of ISO times
    grade_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    updated: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # JSON [[ISO time, grade], ...]: each posted grade in a row since the grade was last unposted.
    posted_grades: Mapped[str | None] = mapped_column(Text)


class Assignment(Base):
    __tablename__ = "assignments"
    course_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    assignment_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str | None] = mapped_column(Text)
    points_possible: Mapped[float | None] = mapped_column(Float)
    updated: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class NameMapping(Base):
    """An assignment mapped to a moment by its name when a result using it was exported.

    Such a mapping outlives a rename that no longer matches the course's moment pattern.
    """

    __tablename__ = "name_mappings"
    course_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    assignment_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    moment: Mapped[int] = mapped_column(Integer)
    name: Mapped[str | None] = mapped_column(Text)  # the name it had then
    run_id: Mapped[int] = mapped_column(ForeignKey("export_runs.id"))


class User(Base):
    """A Canvas user: student identity and name, or a grader's name and email."""

    __tablename__ = "users"
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str | None] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(Text)
    sis_user_id: Mapped[str | None] = mapped_column(String(255))
    integration_id: Mapped[str | None] = mapped_column(String(255))
    login_id: Mapped[str | None] = mapped_column(String(255))
    looked_up_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Enrollment(Base):
    __tablename__ = "enrollments"
    course_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    state: Mapped[str | None] = mapped_column(String(50))
    updated: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Dirty(Base):
    """Students whose results must be recomputed by the next export (a change counter)."""

    __tablename__ = "dirty"
    course_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class CourseState(Base):
    """Per-course bookkeeping: the config fingerprint used last, sync watermarks, a change count."""

    __tablename__ = "course_state"
    course_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    fingerprint: Mapped[str | None] = mapped_column(Text)
    last_sync_started: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_full_sync_started: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Bumped by every write to the course's applied state: the pages' cached view reads it.
    changes: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))


class Job(Base):
    __tablename__ = "jobs"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # resync | export
    course_id: Mapped[int | None] = mapped_column(BigInteger)
    params: Mapped[str] = mapped_column(Text, default="{}")
    state: Mapped[str] = mapped_column(String(20), default=QUEUED)
    progress: Mapped[str] = mapped_column(Text, default="{}")
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    worker: Mapped[str | None] = mapped_column(String(255))
    # Set while queued or running: at most one active job per (kind, course).
    active_key: Mapped[str | None] = mapped_column(String(100), unique=True)


class ExportRun(Base):
    __tablename__ = "export_runs"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    course_id: Mapped[int | None] = mapped_column(BigInteger)
    trigger: Mapped[str] = mapped_column(String(20))  # schedule | manual | cli
    schedule_date: Mapped[str | None] = mapped_column(String(10), unique=True)
    files: Mapped[str] = mapped_column(Text, default="[]")
    counts: Mapped[str] = mapped_column(Text, default="{}")
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"))


class LedgerEntry(Base):
    """One exported (or withdrawn) result version; (user, ladok code, component) goes out once."""

    __tablename__ = "ledger"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger)
    ladok_code: Mapped[str] = mapped_column(String(50))
    component_code: Mapped[str] = mapped_column(String(50))
    version: Mapped[int] = mapped_column(Integer)
    course_id: Mapped[int] = mapped_column(BigInteger)
    run_id: Mapped[int] = mapped_column(ForeignKey("export_runs.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))  # new | correction | withdrawn
    file: Mapped[str | None] = mapped_column(String(100))
    student_id: Mapped[str] = mapped_column(String(255))
    student_name: Mapped[str | None] = mapped_column(Text)
    component_name: Mapped[str | None] = mapped_column(Text)
    credits: Mapped[float | None] = mapped_column(Float)
    grade: Mapped[str | None] = mapped_column(String(20))
    exam_date: Mapped[str | None] = mapped_column(String(10))  # YYYY-MM-DD
    graders: Mapped[str] = mapped_column(Text, default="[]")
    exported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("user_id", "ladok_code", "component_code", "version"),
        Index("ix_ledger_key", "ladok_code", "user_id", "component_code"),
    )


class LadokDraft(Base):
    """What Ladok holds for one ledger key: the version it confirmed (none yet: not yet in
    Ladok), its result UID and state as of the last run, and the last problem, for people."""

    __tablename__ = "ladok_drafts"
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    ladok_code: Mapped[str] = mapped_column(String(50), primary_key=True)
    component_code: Mapped[str] = mapped_column(String(50), primary_key=True)
    version: Mapped[int | None] = mapped_column(Integer)  # the ledger version Ladok confirmed
    result_uid: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str | None] = mapped_column(String(20))  # utkast | klarmarkerad | attesterad
    grade: Mapped[str | None] = mapped_column(String(20))  # as Ladok shows it
    exam_date: Mapped[str | None] = mapped_column(String(10))
    attested_on: Mapped[str | None] = mapped_column(String(10))
    problem: Mapped[str | None] = mapped_column(Text)  # Ladok's words, or what to do by hand
    problem_version: Mapped[int | None] = mapped_column(Integer)
    run_id: Mapped[int | None] = mapped_column(BigInteger)
    checked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Marker(Base):
    """Small facts the processes share by key: the scheduler's heartbeat, the health probe."""

    __tablename__ = "kv"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str | None] = mapped_column(Text)


class MailReceipt(Base):
    """An export run's e-mail receipt to one course's `notify` list: recorded with the run,
    sent once by whichever scheduler claims it first."""

    __tablename__ = "mail_receipts"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("export_runs.id"))
    course_id: Mapped[int] = mapped_column(BigInteger)
    recipients: Mapped[str] = mapped_column(Text)  # JSON list of addresses
    held_back: Mapped[str] = mapped_column(Text, default="[]")  # JSON: the run's held-back list
    state: Mapped[str] = mapped_column(String(20), default="pending")  # pending | sent | failed
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    answer: Mapped[str | None] = mapped_column(Text)  # the server's last answer or error

    __table_args__ = (
        UniqueConstraint("run_id", "course_id"),
        Index("ix_mail_receipts_state", "state", "next_attempt_at"),
    )


class MailAlert(Base):
    """One alert kind: the pending request (latest message, how many) and when it was last
    sent, so each kind goes out at most once an hour whatever process raised it."""

    __tablename__ = "mail_alerts"
    kind: Mapped[str] = mapped_column(String(50), primary_key=True)
    message: Mapped[str | None] = mapped_column(Text)
    pending_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # null: none pending
    requested_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    previous_sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    answer: Mapped[str | None] = mapped_column(Text)


class SignInFailure(Base):
    """A page sign-in attempt, counted per address by the rate limit (a right token's attempt
    is removed again, so what stays are the failures)."""

    __tablename__ = "sign_in_failures"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    address: Mapped[str] = mapped_column(String(100))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_sign_in_failures_address_at", "address", "at"),)


class LtiState(Base):
    """LTI launch state every web process shares: OIDC states and nonces, launch data."""

    __tablename__ = "lti_state"
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(Text)  # JSON
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


class WebSession(Base):
    """A signed-in web session: its cookie holds a random key whose hash names this row."""

    __tablename__ = "web_sessions"
    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    scope: Mapped[str] = mapped_column(Text)  # JSON: {"kind": ..., "course": ..., "user": ...}
    who: Mapped[str] = mapped_column(Text)
    # An administrator session's token, as an HMAC under the session secret (never the token).
    token_digest: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
