"""Publishing a committed run: its files rendered from the ledger rows it recorded.

The files are written after the run's transaction commits, and published atomically; a crash
in between leaves a committed run without its folder, which `materialise` renders again.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.export.writers import ExportLine, RunFilesWriter
from plugin.settings import Settings
from plugin.store.db import Store
from plugin.store.models import ExportRun, LedgerEntry

log = logging.getLogger(__name__)


class FilesNotWritten(Exception):
    """A committed run whose files could not be rendered (they are retried later)."""

    def __init__(self, run_id: int, exc: BaseException):
        super().__init__(f"run {run_id} is recorded but its files could not be written "
                         f"({reason(exc)}); they are written again at the next attempt")
        self.run_id = run_id


def reason(exc: BaseException) -> str:
    """An error's type and message up to its first colon: the field, never its value."""
    return f"{type(exc).__name__}: {str(exc).split(':')[0]}"


LINE_COLUMNS = (
    LedgerEntry.ladok_code, LedgerEntry.component_code, LedgerEntry.student_id,
    LedgerEntry.user_id, LedgerEntry.student_name, LedgerEntry.component_name,
    LedgerEntry.credits, LedgerEntry.grade, LedgerEntry.exam_date, LedgerEntry.graders,
    LedgerEntry.status,
)


def ledger_lines(session: Session, run_id: int,
                 course_id: int | None = None) -> Iterator[ExportLine]:
    """The run's ledger rows (of one Canvas course, when given) as export lines, streamed in
    a stable order."""
    query = select(*LINE_COLUMNS).where(LedgerEntry.run_id == run_id)
    if course_id is not None:
        query = query.where(LedgerEntry.course_id == course_id)
    rows = session.execute(
        query.order_by(LedgerEntry.ladok_code, LedgerEntry.student_id, LedgerEntry.component_code)
        .execution_options(yield_per=1000)
    )
    for (code, component, student_id, user_id, name, component_name, credits, grade,
         exam_date, graders, status) in rows:
        yield ExportLine(
            course_code=code, component_code=component, student_id=student_id,
            canvas_user_id=user_id, student_name=name or "", component_name=component_name or "",
            credits=credits, grade=grade or "", exam_date=dt.date.fromisoformat(exam_date),
            graders=tuple(json.loads(graders)), status=status,
        )


def run_folder(settings: Settings, run_id: int) -> Path:
    """Where a run's files live on this instance."""
    return Path(settings.export_dir) / str(run_id)


def materialise(store: Store, settings: Settings, run_id: int, force: bool = False) -> list[str]:
    """Write a committed run's files from the ledger unless this instance has them already."""
    with store.read() as session:
        run = session.get(ExportRun, run_id)
        names = json.loads(run.files) if run else []
        folder = run_folder(settings, run_id)
        if not names or (folder.is_dir() and not force):
            return names
        with RunFilesWriter(Path(settings.export_dir), run_id) as writer:
            for line in ledger_lines(session, run_id):
                writer.add(line)
            return writer.publish()


def materialise_missing(store: Store, settings: Settings) -> list[int]:
    """Complete every committed run whose files are missing here (after a crash)."""
    with store.read() as session:
        ids = session.scalars(select(ExportRun.id).where(ExportRun.files != "[]")).all()
    done = []
    for run_id in ids:
        if run_folder(settings, run_id).is_dir():
            continue
        try:
            materialise(store, settings, run_id)
        except Exception as exc:  # one run's files must not stop the others or the caller
            log.error("export run %s: files not written: %s", run_id, reason(exc))
            continue
        done.append(run_id)
    return done
