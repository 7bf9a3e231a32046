"""What the database holds of the demo course, and removing all of it (`demo --reset`): every
row of the course in every table that has a course, its export ledger included, and the runs
left with nothing, folders and all. Meant for the demo course only: a real course's ledger is
the record of what Ladok was sent."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Table, delete, func, select
from sqlalchemy.orm import Session

from plugin.settings import Settings
from plugin.store.db import Store
from plugin.store.models import Base, Event, ExportRun, LedgerEntry


@dataclass(frozen=True)
class Held:
    events: int
    runs: int
    rows: int  # in all tables with a course

    def __bool__(self) -> bool:
        return self.rows > 0


def _course_tables() -> list[Table]:
    # Dependents first (ledger and receipts before export runs, runs before jobs).
    return [t for t in reversed(Base.metadata.sorted_tables) if "course_id" in t.c]


def held(store: Store, course: int) -> Held:
    """How much the database holds of `course`."""
    with store.read() as session:
        rows = sum(session.scalar(select(func.count()).select_from(t)
                                  .where(t.c.course_id == course)) or 0
                   for t in _course_tables())
        events = session.scalar(select(func.count()).where(Event.course_id == course)) or 0
        runs = session.scalar(select(func.count(func.distinct(LedgerEntry.run_id)))
                              .where(LedgerEntry.course_id == course)) or 0
    return Held(events, runs, rows)


def _runs_only_of(session: Session, course: int) -> list[int]:
    """Runs whose every ledger line is of `course` (all-course runs among them)."""
    ours = select(LedgerEntry.run_id).where(LedgerEntry.course_id == course).distinct()
    others = select(LedgerEntry.run_id).where(LedgerEntry.course_id != course)
    found = session.scalars(ours.where(LedgerEntry.run_id.not_in(others))).all()
    scoped = session.scalars(select(ExportRun.id).where(ExportRun.course_id == course)).all()
    return sorted({*found, *scoped})


def remove_course(store: Store, settings: Settings, course: int) -> int:
    """Delete everything stored of `course`, and its runs' folders; the rows deleted."""
    with store.write() as session:
        runs = _runs_only_of(session, course)
        removed = 0
        for table in _course_tables():
            if table.name == ExportRun.__tablename__:
                removed += session.execute(delete(table).where(table.c.id.in_(runs))).rowcount
            else:
                removed += session.execute(
                    delete(table).where(table.c.course_id == course)).rowcount
    for run in runs:
        shutil.rmtree(Path(settings.export_dir) / str(run), ignore_errors=True)
    return removed
