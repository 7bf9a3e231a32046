"""The recorded export runs as pages, the API and the system strip list them."""

from __future__ import annotations

from sqlalchemy import Select, or_, select

from plugin.store.models import ExportRun

RUNS_SHOWN = 500  # a list shows this many, newest first


def runs_newest_first(course: int | None = None) -> Select:
    """Export runs, newest first; for a course, its own runs and the runs of every course."""
    query = select(ExportRun).order_by(ExportRun.id.desc())
    if course is not None:
        query = query.where(or_(ExportRun.course_id == course, ExportRun.course_id.is_(None)))
    return query
