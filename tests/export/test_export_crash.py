"""A crash at any point of an export leaves a complete run or none.

`python -m plugin export` is killed with SIGKILL at several moments of a run over a thousand
students (thousands of results). After each kill: every visible run folder is complete and
matches its run's ledger rows; `materialise_missing` (what the next start runs) gives every
committed run its folder; and in the end every earned result is in exactly one file.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import pytest
from sqlalchemy import func, select, text

from plugin.export.publish import FilesNotWritten, materialise_missing
from plugin.export.run import run_export
from plugin.export.writers import CSV_NAME, HEADERS, XLSX_NAME, RunFilesWriter
from plugin.jobs.scheduler import recover
from plugin.settings import Settings
from plugin.store.db import EXPORT_LOCK_KEY, Store
from plugin.store.models import CourseState, ExportRun, LedgerEntry
from tests.export.test_export_concurrency import (
    COURSE_A,
    PROJECT,
    TSV_NAMES,
    assert_each_result_exported_once,
    cli_env,
    config_text,
    latest_grades,
    regrade_project,
    seed_students,
    wanted_grades,
)

pytestmark = pytest.mark.slow

STUDENTS = 1000
POLL_SECONDS = 0.005
RUN_TIMEOUT = 120.0
SHEET_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
MARKER = "Exporting"  # the CLI's progress label, shown just before the run starts


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    """One course whose course grade goes out with its modules (no attestation delay)."""
    path = tmp_path / "canvas-ladok.toml"
    path.write_text(config_text((COURSE_A,)))
    return path


Trigger = Callable[["ExportProcess"], bool]


@dataclass
class ExportProcess:
    """A `python -m plugin export` process whose output goes to files."""

    process: subprocess.Popen[bytes]
    started: float
    stderr: Path
    marker_seen: bool = False

    @classmethod
    def start(cls, env: dict[str, str], logs: Path) -> ExportProcess:
        logs.mkdir(parents=True, exist_ok=True)
        stderr = logs / f"stderr-{time.monotonic_ns()}"
        with open(stderr, "wb") as err, open(logs / "stdout", "ab") as out:
            process = subprocess.Popen([sys.executable, "-m", "plugin", "export"], cwd=PROJECT,
                                       env=env, stdout=out, stderr=err)
        return cls(process, time.monotonic(), stderr)

    def run_started(self) -> bool:
        """True once the run itself started (its progress label appeared)."""
        if not self.marker_seen:
            self.marker_seen = MARKER in self.stderr.read_text(errors="replace")
        return self.marker_seen

    def kill_when(self, trigger: Trigger) -> bool:
        """SIGKILL the process once `trigger` holds; False when it ended by itself first."""
        deadline = self.started + RUN_TIMEOUT
        while self.process.poll() is None:
            if trigger(self):
                self.process.kill()
                self.process.wait()
                return True
            assert time.monotonic() < deadline, "export process did not finish in time"
            time.sleep(POLL_SECONDS)
        assert self.process.returncode == 0, self.stderr.read_text(errors="replace")
        return False


def at_once() -> Trigger:
    """Kill the process as soon as it runs (starting up: imports, settings, migrations)."""
    return lambda p: True


def inside_run_transaction(store: Store) -> Trigger:
    """Kill once the run has started and holds the run's write lock (its transaction is open)."""
    return lambda p: p.run_started() and run_lock_held(store)


def run_lock_held(store: Store) -> bool:
    """True while another process holds the lock an export run's transaction takes."""
    if store.sqlite:  # the run's transaction holds SQLite's single write lock
        probe = sqlite3.connect(store.engine.url.database, timeout=0)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.rollback()
            return False
        except sqlite3.OperationalError:
            return True
        finally:
            probe.close()
    with store.engine.connect() as conn:  # PostgreSQL: the run's advisory lock
        return bool(conn.scalar(text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND classid = 0 AND objid = :key"), {"key": EXPORT_LOCK_KEY}))


def while_files_are_written(export_dir: Path) -> Trigger:
    """Kill while a run's files are being written (after the commit, before publishing)."""
    before = set(hidden_folders(export_dir))
    return lambda p: bool(set(hidden_folders(export_dir)) - before)


def once_committed(store: Store) -> Trigger:
    """Kill as soon as a new run is committed."""
    before = run_count(store)
    return lambda p: run_count(store) > before


def hidden_folders(export_dir: Path) -> list[str]:
    if not export_dir.is_dir():
        return []
    return [p.name for p in export_dir.iterdir() if p.name.startswith(".")]


def run_count(store: Store) -> int:
    with store.read() as session:
        return session.scalar(select(func.count()).select_from(ExportRun)) or 0


def committed_runs_with_rows(store: Store) -> set[int]:
    with store.read() as session:
        return set(session.scalars(select(LedgerEntry.run_id).distinct()))


def visible_folders(export_dir: Path) -> dict[int, Path]:
    if not export_dir.is_dir():
        return {}
    return {int(p.name): p for p in export_dir.iterdir() if not p.name.startswith(".")}


def assert_folder_complete(store: Store, run_id: int, folder: Path) -> None:
    """Every file of a run folder parses to its end and holds exactly the run's ledger rows."""
    with store.read() as session:
        run = session.get(ExportRun, run_id)
        assert run is not None, f"folder {folder} belongs to no committed run"
        rows = list(session.scalars(select(LedgerEntry).where(LedgerEntry.run_id == run_id)))
    assert sorted(os.listdir(folder)) == sorted(json.loads(run.files))
    assert rows, f"run {run_id} has a folder but no ledger rows"

    for name in TSV_NAMES:
        wanted = Counter((r.ladok_code, r.component_code, r.student_id, r.grade, r.exam_date)
                         for r in rows if r.file == name)
        path = folder / name
        if not wanted:
            assert not path.exists()
            continue
        text = path.read_text(encoding="utf-8")
        assert text.endswith("\n"), f"{path} ends mid-line"
        lines = [line.split("\t") for line in text.splitlines()]
        assert all(len(fields) >= 6 for fields in lines), f"{path} has a short line"
        assert Counter(tuple(fields[:5]) for fields in lines) == wanted

    everything = Counter((r.student_id, r.component_code, r.grade, r.exam_date) for r in rows)
    with open(folder / CSV_NAME, encoding="utf-8-sig", newline="") as fh:
        table = list(csv.reader(fh, delimiter=";"))
    assert tuple(table[0]) == HEADERS
    assert Counter((r[0], r[3], r[6], r[7]) for r in table[1:]) == everything

    sheet = xlsx_rows(folder / XLSX_NAME)
    assert tuple(sheet[0][column] for column in "ABCDEFGHIJK") == HEADERS
    assert Counter((r["A"], r["D"], r["G"]) for r in sheet[1:]) == Counter(
        (r.student_id, r.component_code, r.grade) for r in rows)


def xlsx_rows(path: Path) -> list[dict[str, str | None]]:
    """Column letter -> text, per row of the workbook's only sheet (the whole file must parse)."""
    with zipfile.ZipFile(path) as book:
        assert book.testzip() is None, f"{path} is damaged"
        sheet = ElementTree.fromstring(book.read("xl/worksheets/sheet1.xml"))
    rows = []
    for row in sheet.iter(f"{{{SHEET_NS}}}row"):
        cells: dict[str, str | None] = {}
        for cell in row.iter(f"{{{SHEET_NS}}}c"):
            text = cell.find(f"{{{SHEET_NS}}}is/{{{SHEET_NS}}}t")
            value = cell.find(f"{{{SHEET_NS}}}v")
            column = cell.get("r", "").rstrip("0123456789")
            cells[column] = (text.text if text is not None else
                             value.text if value is not None else None)
        rows.append(cells)
    return rows


@dataclass
class Checker:
    """Checks the state a kill left, and what the next start makes of it."""

    store: Store
    settings: Settings
    verified: set[int]

    @property
    def export_dir(self) -> Path:
        return Path(self.settings.export_dir)

    def visible_folders_are_complete(self) -> None:
        for run_id, folder in visible_folders(self.export_dir).items():
            if run_id not in self.verified:
                assert_folder_complete(self.store, run_id, folder)
                self.verified.add(run_id)

    def check_and_recover(self) -> list[int]:
        """Check, run what the next start runs, check again; returns the runs it completed."""
        self.visible_folders_are_complete()
        missing = committed_runs_with_rows(self.store) - set(visible_folders(self.export_dir))
        written = materialise_missing(self.store, self.settings)
        assert set(written) == missing
        assert committed_runs_with_rows(self.store) <= set(visible_folders(self.export_dir))
        self.visible_folders_are_complete()
        return written


def test_an_export_killed_at_any_moment_leaves_complete_runs_or_none(
        store, settings, config_file, environ, tmp_path):
    export_dir = Path(settings.export_dir)
    env = cli_env(config_file, environ)
    check = Checker(store, settings, set())
    first = range(10_000, 10_000 + STUDENTS)
    regraded = {u: "B" for u in first[::20]}
    newcomers, latecomers = range(20_000, 20_250), range(30_000, 30_250)
    seed_students(store, COURSE_A, first)
    with store.write() as session:  # the course's rules are known: no recomputation of all
        session.add(CourseState(course_id=COURSE_A,
                                fingerprint=settings.course(COURSE_A).fingerprint()))
    completed_by_next_start: list[int] = []
    killed_before_commit = 0

    def kill_export(make_trigger: Callable[[], Trigger]) -> None:
        nonlocal killed_before_commit
        runs_before = run_count(store)
        trigger = make_trigger()
        if ExportProcess.start(env, tmp_path / "logs").kill_when(trigger):
            killed_before_commit += run_count(store) == runs_before
            completed_by_next_start.extend(check.check_and_recover())

    kill_export(at_once)  # starting up
    kill_export(lambda: inside_run_transaction(store))  # inside the run's transaction
    kill_export(lambda: while_files_are_written(export_dir))  # committed, files half-written
    regrade_project(store, COURSE_A, regraded)
    seed_students(store, COURSE_A, newcomers)
    kill_export(lambda: once_committed(store))  # committed (corrections too), no files yet

    assert killed_before_commit >= 2  # at once, and inside the run's transaction
    assert completed_by_next_start, "no kill fell between a run's commit and its files"
    seed_students(store, COURSE_A, latecomers)
    final = run_export(store, settings)
    check.check_and_recover()
    assert final.counts.get("new")
    rows = assert_each_result_exported_once(store, settings)
    students: dict[int, str | None] = {u: None for u in [*first, *newcomers, *latecomers]}
    students.update(regraded)
    assert latest_grades(rows) == wanted_grades(students)
    assert sum(r.status == "correction" for r in rows) == len(regraded) * 2
    assert run_export(store, settings).nothing_new


def test_a_run_committed_but_not_published_is_written_by_materialise_missing(
        store, settings, monkeypatch):
    seed_students(store, COURSE_A, range(1000, 1060))

    def crash(self: RunFilesWriter) -> list[str]:
        raise OSError("the process died before publishing")

    with monkeypatch.context() as patch, pytest.raises(FilesNotWritten) as failed:
        patch.setattr(RunFilesWriter, "publish", crash)
        run_export(store, settings)
    assert isinstance(failed.value.__cause__, OSError)

    export_dir = Path(settings.export_dir)
    (run_id,) = committed_runs_with_rows(store)
    assert visible_folders(export_dir) == {}
    assert hidden_folders(export_dir) == []
    assert materialise_missing(store, settings) == [run_id]
    assert_folder_complete(store, run_id, export_dir / str(run_id))
    rows = assert_each_result_exported_once(store, settings)
    assert len(rows) == 60 * 4
    assert run_export(store, settings).nothing_new
    assert materialise_missing(store, settings) == []


def test_a_lost_run_folder_is_written_again_from_the_ledger(store, settings):
    seed_students(store, COURSE_A, range(1000, 1030))
    run = run_export(store, settings)
    folder = Path(settings.export_dir) / str(run.run_id)
    before = {name: (folder / name).read_bytes() for name in ("ladok-report.tsv", CSV_NAME)}
    shutil.rmtree(folder)

    assert materialise_missing(store, settings) == [run.run_id]
    assert {name: (folder / name).read_bytes() for name in before} == before
    assert_folder_complete(store, run.run_id, folder)


def test_recovery_removes_only_stale_temporary_folders(store, settings):
    seed_students(store, COURSE_A, range(1000, 1010))
    run = run_export(store, settings)
    export_dir = Path(settings.export_dir)
    stale, fresh = export_dir / f".{run.run_id}.tmp-dead", export_dir / ".99.tmp-busy"
    for path in (stale, fresh):
        path.mkdir()
        (path / "ladok-report.tsv").write_text("DV1531\t2205\t")
    old = time.time() - dt.timedelta(hours=7).total_seconds()
    os.utime(stale, (old, old))
    shutil.rmtree(export_dir / str(run.run_id))

    recover(store, settings)

    assert not stale.exists() and fresh.exists()
    assert_folder_complete(store, run.run_id, export_dir / str(run.run_id))

