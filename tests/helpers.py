"""Test data the tests share: the test course's configuration and its term of events.

The tests keep their own copy of the course rather than the demo's, so the demo may change
what it shows without changing what the tests pin.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import event

from plugin.demo.live_events import course_term

MOMENTS = (1, 2, 3, 4, 5, 6, 10)
TERM_START = dt.datetime(2025, 9, 8, 9, 0, tzinfo=dt.UTC)
MODULES_TOML = (Path(__file__).parent / "fixtures" / "course-modules.toml").read_text(
    encoding="utf-8")


def hold_sqlite_write_lock(app) -> sqlite3.Connection | None:
    """Another connection's open write transaction (SQLite only; None on PostgreSQL)."""
    store = app.extensions["canvas_ladok"].store
    if not store.sqlite:
        return None
    blocker = sqlite3.connect(store.sqlite_file, isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN IMMEDIATE")
    return blocker


# Statements that write or take a lock: reads must send none.
WRITES = re.compile(r"^\s*(INSERT|UPDATE|DELETE)\b|pg_advisory|\bFOR UPDATE\b|BEGIN IMMEDIATE",
                    re.IGNORECASE)


def statements_during(app, action: Callable[[], Any]) -> tuple[list[str], Any]:
    """The SQL statements the app's database got while `action()` ran, and what it returned."""
    sent: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        sent.append(statement)

    engine = app.extensions["canvas_ladok"].store.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        return sent, action()
    finally:
        event.remove(engine, "before_cursor_execute", record)


def course_toml(canvas_id: int = 565, ladok_code: str = "DV1531", start: str = "2025-09-01",
                extra: str = "") -> str:
    """A [[courses]] table of the test course: two G/U modules and the project (A–F, final)."""
    return (f'\n[[courses]]\ncanvas_id = {canvas_id}\nladok_code = "{ladok_code}"\n'
            f"start = {start}\n{extra}\n{MODULES_TOML}")


def term(students: int, course_id: int = 565) -> list[dict]:
    """A term of the test course: every moment G, the project "ABCDE"[n % 5], and the last
    student's kmom03 PG (the autograder's preliminary pass, which is not a pass)."""

    def grade(n: int, moment: int) -> str:
        if n == students and moment == 3:
            return "PG"
        return "G" if moment != 10 else "ABCDE"[n % 5]

    return course_term(course_id, students, MOMENTS, grade, TERM_START)
