"""`canvas-ladok demo` fills the demo course once: on a database that already holds the course
it says so and changes nothing, and `--reset` starts the course over, leaving other courses as
they were."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import func, select

from plugin.cli import main
from plugin.demo.live_events import grade_event
from plugin.store.models import Event, ExportRun, LedgerEntry
from tests.conftest import post_event

OTHER_COURSE = 1279362  # the test configuration's second course


def count(store, *where) -> int:
    with store.read() as session:
        return session.scalar(select(func.count()).select_from(where[0]).where(*where[1:]))


def ledger_lines(store) -> list[tuple]:
    with store.read() as session:
        return sorted(session.execute(select(
            LedgerEntry.course_id, LedgerEntry.user_id, LedgerEntry.component_code,
            LedgerEntry.status, LedgerEntry.grade)).all())


def test_demo_twice_stops_and_reset_starts_the_course_over(runner, client, store, settings):
    import datetime as dt

    other = grade_event(OTHER_COURSE, 77, 4242, "B", dt.datetime(2025, 9, 9, tzinfo=dt.UTC),
                        sis_id="19800101-4242")
    assert post_event(client, other).status_code == 202
    first = CliRunner().invoke(main, ["demo"])
    assert first.exit_code == 0, first.output
    lines, runs = ledger_lines(store), count(store, ExportRun)
    events = count(store, Event, Event.course_id == 565)
    assert lines and events

    again = CliRunner().invoke(main, ["demo"])
    assert again.exit_code == 1
    assert (f"Error: the database already holds course 565 ({events} events, 1 export run): "
            "the demo would add another term and export it. Run `canvas-ladok demo --reset`"
            in again.output), again.output
    assert "Traceback" not in again.output
    assert ledger_lines(store) == lines and count(store, ExportRun) == runs  # nothing exported
    assert count(store, Event, Event.course_id == 565) == events

    folder = Path(settings.export_dir) / "1"
    (folder / "left-over").write_text("from the first demo")
    reset = CliRunner().invoke(main, ["demo", "--reset"])
    assert reset.exit_code == 0, reset.output
    assert reset.output.startswith("removed course 565: ")
    assert ledger_lines(store) == lines  # the same term, exported once again from scratch
    assert count(store, Event, Event.course_id == 565) == events
    assert count(store, Event, Event.course_id == OTHER_COURSE) == 1
    assert not (folder / "left-over").exists()
