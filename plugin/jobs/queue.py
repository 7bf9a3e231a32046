"""A job queue in the database: enqueue, claim with a lease, report progress, finish.

Any process may enqueue; the scheduler process claims and runs. A worker renews its lease
while it runs; a job whose lease lapsed (its worker died) is claimed again by another.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from plugin.clock import iso, utcnow
from plugin.status import FAILED, QUEUED, RESYNC, RUNNING, SUCCEEDED
from plugin.store.db import Store
from plugin.store.models import Job

LEASE = dt.timedelta(seconds=60)


def active_key(kind: str, course_id: int | None) -> str | None:
    """Re-syncs of one course run one at a time: they share this key while active."""
    return f"{kind}:{course_id}" if kind == RESYNC else None


def enqueue(store: Store, kind: str, course_id: int | None,
            params: dict[str, Any] | None = None) -> tuple[int, bool]:
    """Queue a job; returns (job id, created). An active job with the same key is reused."""
    key = active_key(kind, course_id)
    try:
        with store.write() as session:
            if key and (existing := session.scalar(select(Job.id).where(Job.active_key == key))):
                return existing, False
            job = Job(kind=kind, course_id=course_id, params=json.dumps(params or {}),
                      state=QUEUED, created_at=utcnow(), active_key=key, progress="{}")
            session.add(job)
            session.flush()
            return job.id, True
    except IntegrityError:  # another process queued the same key at the same instant
        with store.read() as session:
            return session.scalar(select(Job.id).where(Job.active_key == key)), False


def claim(store: Store, worker: str) -> Job | None:
    """Take the oldest queued job, or a running one whose lease lapsed; None when idle."""
    now = utcnow()
    claimable = or_(Job.state == QUEUED, (Job.state == RUNNING) & (Job.lease_until < now))
    with store.write() as session:
        job = session.scalars(select(Job).where(claimable).order_by(Job.id).limit(1)).first()
        if job is None:
            return None
        taken = session.execute(
            update(Job).where(Job.id == job.id, claimable)
            .values(state=RUNNING, worker=worker, lease_until=now + LEASE,
                    started_at=job.started_at or now)
        ).rowcount
        if not taken:
            return None
        session.refresh(job)
        return job


def renew(store: Store, job_id: int, worker: str) -> bool:
    """Extend the lease; False when another worker has taken the job over."""
    with store.write() as session:
        return bool(session.execute(
            update(Job).where(Job.id == job_id, Job.worker == worker, Job.state == RUNNING)
            .values(lease_until=utcnow() + LEASE)
        ).rowcount)


def report(store: Store, job_id: int, progress: dict[str, Any]) -> None:
    """Store the job's progress counts."""
    with store.write() as session:
        session.execute(update(Job).where(Job.id == job_id)
                        .values(progress=json.dumps(progress, default=str)))


def finish(store: Store, job_id: int, error: str | None = None,
           progress: dict[str, Any] | None = None) -> None:
    """Mark the job succeeded (or failed with a message) and free its key."""
    values: dict[str, Any] = {"state": FAILED if error else SUCCEEDED, "error": error,
                              "finished_at": utcnow(), "active_key": None, "lease_until": None}
    if progress is not None:
        values["progress"] = json.dumps(progress, default=str)
    with store.write() as session:
        session.execute(update(Job).where(Job.id == job_id).values(**values))


def as_dict(job: Job) -> dict[str, Any]:
    """The job as the API shows it."""
    return {
        "id": job.id, "kind": job.kind, "course": job.course_id, "state": job.state,
        "progress": json.loads(job.progress or "{}"), "error": job.error,
        "started_at": iso(job.started_at), "finished_at": iso(job.finished_at),
        "created_at": iso(job.created_at),
    }
