"""Write one export run's files: the `ladok report` input and the lists for people.

A run's files are streamed into a hidden temporary folder inside the export directory and
published by renaming that folder to ``export_dir/<run id>/``, so a reader never sees a
half-written file or folder under the final name.
"""

from __future__ import annotations

import contextlib
import csv
import datetime
import os
import secrets
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TextIO

from plugin.export.sheet import Cell, ResultSheet
from plugin.rules.text import has_control, shown
from plugin.status import CORRECTION, NEW, WITHDRAWN

REPORT_TSV = "ladok-report.tsv"
CORRECTIONS_TSV = "corrections.tsv"
CSV_NAME = "rapporteringsunderlag.csv"
XLSX_NAME = "rapporteringsunderlag.xlsx"

# Which .tsv a status goes to; WITHDRAWN is deliberately absent (never written to a .tsv).
TSV_FOR_STATUS = {NEW: REPORT_TSV, CORRECTION: CORRECTIONS_TSV}


def run_file_names(statuses: Iterable[str]) -> list[str]:
    """The files of a run whose lines have these statuses, in the order they are listed: a
    .tsv per status that has one, then the CSV and the spreadsheet of every line."""
    present = set(statuses)
    names = [name for status, name in TSV_FOR_STATUS.items() if status in present]
    return [*names, CSV_NAME, XLSX_NAME] if present & {NEW, CORRECTION, WITHDRAWN} else names
STATUS_LABELS = {
    NEW: "new",
    CORRECTION: "correction",
    WITHDRAWN: "withdrawn — handle in Ladok",
}
HEADERS = (
    "Student-id",
    "Namn",
    "Kurskod",
    "Modulkod",
    "Modulnamn",
    "Högskolepoäng",
    "Betyg",
    "Examinationsdatum",
    "Bedömare",
    "Status",
    "Canvas-användar-id",
)
# The files hold names and personnummer: owner-only, whatever the umask (which only removes).
OWNER_DIR, OWNER_FILE = 0o700, 0o600
_COLUMN_WIDTHS = (16, 30, 10, 12, 30, 14, 8, 18, 40, 28, 20)
_TEXT_COLUMNS = (0, 10)  # Student-id and Canvas-användar-id: ids, never numbers
_SHEET_TITLE = "Resultat"

# Spreadsheet formula injection: a cell starting with one of these may be run as a formula
# when the CSV is opened in a spreadsheet, so such text gets a leading single quote.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class ExportLine:
    """One result (or withdrawal) of an export run."""

    course_code: str
    component_code: str
    student_id: str
    canvas_user_id: int
    student_name: str
    component_name: str
    credits: float | None
    grade: str
    exam_date: datetime.date
    graders: tuple[str, ...]
    status: str


_REPORT_FIELDS = ("course_code", "component_code", "student_id", "grade")


def check_report_line(line: ExportLine) -> None:
    """Refuse (ValueError/TypeError, naming the field) a line `ladok report` cannot read."""
    fields = (line.course_code, line.component_code, line.student_id, line.grade,
              *line.graders)
    if (all(type(f) is str and f.strip() for f in fields)
            and not has_control("".join(fields)) and type(line.exam_date) is datetime.date):
        return  # the usual line, in one scan; a refusal below names its field
    for name in _REPORT_FIELDS:
        _check_field(name, getattr(line, name))
    for grader in line.graders:
        _check_field("graders", grader)
    _iso_date(line.exam_date)


def format_report_line(line: ExportLine) -> str:
    """Return the `ladok report` input line for `line`, without line terminator."""
    check_report_line(line)
    fields = [line.course_code, line.component_code, line.student_id, line.grade,
              line.exam_date.isoformat(), *line.graders]
    return "\t".join(_quote_for_csv_reader(field) for field in fields)


def _check_field(name: str, value: object) -> None:
    """Refuse (ValueError/TypeError) all but non-blank text that fits in one TSV field."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be text, got {type(value).__name__}: {value!r}")
    if not value.strip():
        raise ValueError(f"{name} is empty")
    if has_control(value):
        raise ValueError(f"{name} contains a tab, newline or control character: {value!r}")


def _iso_date(value: object) -> str:
    """Return a date as YYYY-MM-DD; a datetime is refused (its local date is the caller's job)."""
    if isinstance(value, datetime.datetime) or not isinstance(value, datetime.date):
        raise TypeError(f"exam_date must be a datetime.date, got {value!r}")
    return value.isoformat()


def _quote_for_csv_reader(field: str) -> str:
    """Quote a field containing a double quote the way csv.reader (used by ladok3) reads it."""
    if '"' not in field:
        return field
    return '"' + field.replace('"', '""') + '"'


def _people_text(value: str) -> str:
    """Text as people read it: no control or bidirectional formatting character (none of
    what a spreadsheet cannot hold either)."""
    return shown(value)


def _csv_text(value: str) -> str:
    """Return text for a CSV cell, defused against spreadsheet formula injection."""
    value = _people_text(value)
    if value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _credits_text(credits: float | None) -> str:
    """Return credits with a decimal comma, as Swedish spreadsheets expect in a ;-CSV."""
    if credits is None:
        return ""
    return format(credits, "g").replace(".", ",")


def _csv_row(line: ExportLine) -> list[str]:
    """Return the CSV row for `line`, in HEADERS order."""
    return [
        _csv_text(line.student_id),
        _csv_text(line.student_name),
        _csv_text(line.course_code),
        _csv_text(line.component_code),
        _csv_text(line.component_name),
        _credits_text(line.credits),
        _csv_text(line.grade),
        line.exam_date.isoformat(),
        _csv_text(", ".join(line.graders)),
        STATUS_LABELS[line.status],
        str(line.canvas_user_id),
    ]


def _xlsx_row(line: ExportLine) -> list[Cell]:
    """Return the worksheet row for `line`, in HEADERS order (text stays text)."""
    return [
        _people_text(line.student_id),
        _people_text(line.student_name),
        _people_text(line.course_code),
        _people_text(line.component_code),
        _people_text(line.component_name),
        None if line.credits is None else float(line.credits),
        _people_text(line.grade),
        line.exam_date,
        _people_text(", ".join(line.graders)),
        STATUS_LABELS[line.status],
        # Text, not a number: global Canvas ids (shard * 10**13 + id) exceed a double's precision.
        str(line.canvas_user_id),
    ]


def _check_run_id(run_id: str | int) -> str:
    """Return the run id as a folder name, refusing anything that is not one plain name."""
    name = str(run_id)
    if not name or name.startswith(".") or any(c in name for c in "/\\\x00"):
        raise ValueError(f"run id cannot be used as a folder name: {run_id!r}")
    return name


def _owner_only(path: str, flags: int) -> int:
    """Open a new file readable by its owner alone (0600), whatever the umask."""
    return os.open(path, flags, OWNER_FILE)


def _fsync_file(path: Path) -> None:
    """Flush a closed file's data to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    """Flush a folder's entries to disk, where the platform allows opening folders."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _hidden_name(run_id: str, kind: str) -> str:
    """Return a fresh hidden sibling name for a run folder, e.g. `.42.tmp-1a2b3c4d`."""
    return f".{run_id}.{kind}-{secrets.token_hex(4)}"


class RunFilesWriter:
    """Streams one run's lines into its files; publishes them atomically."""

    def __init__(self, export_dir: Path, run_id: str | int) -> None:
        """Prepare a writer for `export_dir/<run_id>/`; nothing is created before add()."""
        self.export_dir = Path(export_dir)
        self.run_id = _check_run_id(run_id)
        self.final_dir = self.export_dir / self.run_id
        self._tmp_dir: Path | None = None
        self._files = contextlib.ExitStack()
        self._tsv: dict[str, TextIO] = {}
        self._statuses: set[str] = set()
        self._csv_file: TextIO | None = None
        self._csv_writer: Any = None
        self._sheet: ResultSheet | None = None
        self._finished = False

    def __enter__(self) -> Self:
        """Return the writer itself."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Discard whatever was not published (always so after an exception)."""
        self._finished = True
        self._discard()

    def add(self, line: ExportLine) -> None:
        """Validate `line` and write it to the run's files (ValueError/TypeError if invalid)."""
        if self._finished:
            raise RuntimeError("this run's files are already published or discarded")
        if line.status not in STATUS_LABELS:
            raise ValueError(f"unknown status {line.status!r}")
        report_line = format_report_line(line)
        csv_row = _csv_row(line)
        if self._tmp_dir is None:
            self._start()
        xlsx_row = _xlsx_row(line)
        tsv_name = TSV_FOR_STATUS.get(line.status)
        if tsv_name is not None:
            self._tsv_handle(tsv_name).write(report_line + "\n")
        self._csv_writer.writerow(csv_row)
        self._sheet.append(xlsx_row)
        self._statuses.add(line.status)

    def publish(self) -> list[str]:
        """Close the files, move them to `export_dir/<run_id>/` and return their names."""
        if self._finished:
            raise RuntimeError("this run's files are already published or discarded")
        self._finished = True
        if self._tmp_dir is None:
            return []
        try:
            names = self._finish_files()
            self._move_into_place()
        except BaseException:
            self._discard()
            raise
        self._tmp_dir = None
        return names

    def _start(self) -> None:
        """Create the temporary folder and open the CSV and XLSX files with their headers."""
        self.export_dir.mkdir(mode=OWNER_DIR, parents=True, exist_ok=True)
        self._tmp_dir = self._make_tmp_dir()
        self._csv_file = self._open(CSV_NAME, "utf-8-sig", newline="")
        self._csv_writer = csv.writer(self._csv_file, delimiter=";")
        self._csv_writer.writerow(HEADERS)
        xlsx = self._tmp_dir / XLSX_NAME
        os.close(_owner_only(str(xlsx), os.O_WRONLY | os.O_CREAT))  # saved into it later
        self._sheet = ResultSheet(xlsx, _SHEET_TITLE, HEADERS, _COLUMN_WIDTHS, _TEXT_COLUMNS)

    def _make_tmp_dir(self) -> Path:
        """Create a fresh hidden owner-only folder next to the final one."""
        while True:
            path = self.export_dir / _hidden_name(self.run_id, "tmp")
            try:
                path.mkdir(mode=OWNER_DIR)
            except FileExistsError:
                continue
            return path

    def _tsv_handle(self, name: str) -> TextIO:
        """Return the open handle of a .tsv file, creating the file on first use."""
        handle = self._tsv.get(name)
        if handle is None:
            handle = self._open(name, "utf-8", newline="\n")
            self._tsv[name] = handle
        return handle

    def _open(self, name: str, encoding: str, newline: str) -> TextIO:
        """Open a new text file in the temporary folder, closed with the writer."""
        path = self._tmp_dir / name
        return self._files.enter_context(open(path, "w", encoding=encoding, newline=newline,
                                              opener=_owner_only))

    def _finish_files(self) -> list[str]:
        """Close and fsync every file and the temporary folder; return the file names."""
        for handle in [*self._tsv.values(), self._csv_file]:
            handle.flush()
            os.fsync(handle.fileno())
        self._close_handles()
        self._sheet.save()  # into the owner-only file
        self._sheet = None
        _fsync_file(self._tmp_dir / XLSX_NAME)
        _fsync_dir(self._tmp_dir)
        return run_file_names(self._statuses)

    def _move_into_place(self) -> None:
        """Rename the temporary folder to the final name, replacing an existing folder."""
        if not os.path.lexists(self.final_dir):
            os.rename(self._tmp_dir, self.final_dir)
            _fsync_dir(self.export_dir)
            return
        aside = self.export_dir / _hidden_name(self.run_id, "old")
        os.rename(self.final_dir, aside)
        try:
            os.rename(self._tmp_dir, self.final_dir)
        except BaseException:
            os.rename(aside, self.final_dir)
            raise
        _fsync_dir(self.export_dir)
        _remove(aside)

    def _discard(self) -> None:
        """Close every handle and remove the temporary folder, if any."""
        with contextlib.suppress(OSError):
            self._close_handles()
        if self._sheet is not None:
            self._sheet.discard()
            self._sheet = None
        if self._tmp_dir is not None:
            _remove(self._tmp_dir)
            self._tmp_dir = None

    def _close_handles(self) -> None:
        """Close the open text files."""
        self._tsv.clear()
        self._csv_file = self._csv_writer = None
        self._files.close()


def _remove(path: Path) -> None:
    """Remove a folder tree (or file), ignoring what is already gone."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)
