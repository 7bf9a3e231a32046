"""Rows inserted at the driver's speed read back as Core would have written them."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from sqlalchemy import select

from plugin.store.bulk import insert_many
from plugin.store.models import ExportRun, LedgerEntry


def _row(user_id: int, exported_at: dt.datetime, credits: float | None) -> dict:
    return dict(user_id=user_id, ladok_code="DV1531", component_code="0010", version=1,
                course_id=565, run_id=1, status="new", file="report.tsv",
                student_id=f"id-{user_id}", student_name="Åsa \"Q\" O'Brien % 100%s",
                component_name=None, credits=credits, grade="G", exam_date="2025-10-01",
                graders='["Lärare <l@example.edu>"]', exported_at=exported_at)


def test_insert_many_writes_every_row_with_its_values_processed(store):
    stockholm = zoneinfo.ZoneInfo("Europe/Stockholm")
    first = dt.datetime(2026, 3, 1, 4, 30, tzinfo=stockholm)  # 03:30 UTC
    second = dt.datetime(2026, 3, 2, 3, 30, tzinfo=dt.UTC)
    rows = [_row(1, first, 7.5), _row(2, second, None), _row(3, first, 2.0)]
    with store.write() as session:
        session.add(ExportRun(id=1, created_at=second, trigger="cli"))
        session.flush()
        insert_many(session.connection(), LedgerEntry.__table__, rows)
    with store.read() as session:
        got = session.execute(select(LedgerEntry).order_by(LedgerEntry.user_id)).scalars().all()
    assert [(e.user_id, e.student_id, e.credits, e.student_name) for e in got] == [
        (r["user_id"], r["student_id"], r["credits"], r["student_name"]) for r in rows]
    assert [e.exported_at for e in got] == [first.astimezone(dt.UTC), second,
                                            first.astimezone(dt.UTC)]
    assert all(e.exported_at.tzinfo == dt.UTC for e in got)


def test_insert_many_of_no_rows_writes_nothing(store):
    with store.write() as session:
        insert_many(session.connection(), LedgerEntry.__table__, [])
    with store.read() as session:
        assert session.scalar(select(LedgerEntry.id)) is None
