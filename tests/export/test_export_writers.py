"""Tests for plugin.export.writers: the files of one export run."""

from __future__ import annotations

import csv
import datetime
import logging
import os
import sys
from dataclasses import replace
from pathlib import Path

import ladok3.cli
import ladok3.report
import openpyxl
import pytest

from plugin.export import writers as export_writers
from plugin.export.writers import (
    CORRECTIONS_TSV,
    CSV_NAME,
    HEADERS,
    REPORT_TSV,
    XLSX_NAME,
    ExportLine,
    RunFilesWriter,
    format_report_line,
)

COURSE_START = datetime.date(2025, 9, 1)


def make_line(**changes: object) -> ExportLine:
    """Return a typical module result, with `changes` applied."""
    line = ExportLine(
        course_code="DV1531",
        component_code="2205",
        student_id="0012345",
        canvas_user_id=565,
        student_name="Alex Example",
        component_name="Inlämningsuppgift 1",
        credits=2.5,
        grade="G",
        exam_date=datetime.date(2025, 10, 3),
        graders=("Robin Teacher <robin@example.edu>",),
        status="new",
    )
    return replace(line, **changes)


SAMPLE_LINES = [
    make_line(),
    make_line(
        student_id="19900101-1234",
        canvas_user_id=21070000000000566,
        student_name="Kim Åström",
        component_code="2225",
        component_name="Projekt",
        grade="B",
        exam_date=datetime.date(2026, 1, 14),
        graders=("Robin Teacher <robin@example.edu>", "Sam Assistant <sam@example.edu>"),
    ),
    make_line(
        student_id="d5a6f1c2-1b2c-11ee-9f3a-0123456789ab",
        canvas_user_id=567,
        component_code="DV1531",
        component_name="Slutbetyg",
        credits=7.5,
        grade="A",
        exam_date=datetime.date(2026, 1, 20),
        graders=('"JD" Doe <jd@example.edu>', "Åsa Öberg <asa@example.se>"),
    ),
    make_line(student_id="0099", canvas_user_id=568, graders=()),
]


def write_run(export_dir: Path, lines: list[ExportLine], run_id: str | int = 7) -> list[str]:
    """Write `lines` as run `run_id` and return the published names."""
    with RunFilesWriter(export_dir, run_id) as writer:
        for line in lines:
            writer.add(line)
        return writer.publish()


def read_csv(path: Path) -> list[list[str]]:
    """Return the rows of a published rapporteringsunderlag.csv."""
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle, delimiter=";"))


def hidden_entries(export_dir: Path) -> list[str]:
    """Return the names of hidden (temporary or set-aside) entries in the export folder."""
    return [name for name in os.listdir(export_dir) if name.startswith(".")]


# --- ladok-report.tsv / corrections.tsv -----------------------------------------------------


def test_report_tsv_holds_exactly_the_added_lines_in_order(tmp_path: Path) -> None:
    write_run(tmp_path, SAMPLE_LINES)
    text = (tmp_path / "7" / REPORT_TSV).read_text(encoding="utf-8")
    assert text == "".join(format_report_line(line) + "\n" for line in SAMPLE_LINES)
    assert text.splitlines()[0] == (
        "DV1531\t2205\t0012345\tG\t2025-10-03\tRobin Teacher <robin@example.edu>"
    )


def test_report_line_has_one_field_per_grader_and_none_without_graders() -> None:
    two = format_report_line(SAMPLE_LINES[1]).split("\t")
    assert two[5:] == ["Robin Teacher <robin@example.edu>", "Sam Assistant <sam@example.edu>"]
    assert format_report_line(SAMPLE_LINES[3]) == "DV1531\t2205\t0099\tG\t2025-10-03"


def test_statuses_route_new_to_report_correction_to_corrections_withdrawn_to_neither(
    tmp_path: Path,
) -> None:
    new = make_line(student_id="1")
    corrected = make_line(student_id="2", status="correction", grade="G")
    withdrawn = make_line(student_id="3", status="withdrawn")
    names = write_run(tmp_path, [new, corrected, withdrawn])
    run = tmp_path / "7"
    assert names == [REPORT_TSV, CORRECTIONS_TSV, CSV_NAME, XLSX_NAME]
    assert sorted(os.listdir(run)) == sorted(names)
    assert (run / REPORT_TSV).read_text(encoding="utf-8") == format_report_line(new) + "\n"
    corrections = (run / CORRECTIONS_TSV).read_text(encoding="utf-8")
    assert corrections == format_report_line(corrected) + "\n"
    statuses = [row[HEADERS.index("Status")] for row in read_csv(run / CSV_NAME)[1:]]
    assert statuses == ["new", "correction", "withdrawn — handle in Ladok"]


def test_a_tsv_is_created_only_when_it_has_a_line(tmp_path: Path) -> None:
    names = write_run(tmp_path, [make_line(status="withdrawn")])
    assert names == [CSV_NAME, XLSX_NAME]
    assert sorted(os.listdir(tmp_path / "7")) == sorted(names)


@pytest.mark.parametrize(
    "changes",
    [
        {"student_id": "00\t12"},
        {"grade": "G\n"},
        {"component_code": "22\r05"},
        {"graders": ("Robin\nTeacher",)},
        {"course_code": "DV\u20281531"},
        {"student_id": ""},
        {"graders": ("",)},
    ],
)
def test_fields_that_would_break_a_report_line_are_rejected(changes: dict) -> None:
    with pytest.raises(ValueError):
        format_report_line(make_line(**changes))


def test_an_exam_datetime_is_refused_as_only_a_local_date_is_meaningful() -> None:
    with pytest.raises(TypeError):
        format_report_line(make_line(exam_date=datetime.datetime(2025, 10, 3, 23, 30)))


def test_a_rejected_line_leaves_no_trace_in_any_file(tmp_path: Path) -> None:
    good = make_line()
    with RunFilesWriter(tmp_path, 7) as writer:
        writer.add(good)
        with pytest.raises(ValueError):
            writer.add(make_line(student_id="1\t2", student_name="Broken Line"))
        with pytest.raises(ValueError):
            writer.add(make_line(status="pending"))
        writer.publish()
    run = tmp_path / "7"
    assert (run / REPORT_TSV).read_text(encoding="utf-8") == format_report_line(good) + "\n"
    assert len(read_csv(run / CSV_NAME)) == 2
    assert openpyxl.load_workbook(run / XLSX_NAME).active.max_row == 2


# --- the ladok3 package reads ladok-report.tsv ----------------------------------------------


class FakeComponent:
    """A course component result in the fake Ladok: not yet attested or finalized."""

    def __init__(self, calls: list[tuple], key: tuple[str, str, str]) -> None:
        self.calls, self.key = calls, key
        self.component = key[1]
        self.attested = self.finalized = self.fully_credit_transferred = False
        self.grade: str | None = None
        self.date: datetime.date | None = None

    def set_grade(self, grade: str, date: datetime.date) -> None:
        self.calls.append(("set_grade", *self.key, grade, date))
        self.grade, self.date = grade, date

    def finalize(self, graders: list[str]) -> None:
        self.calls.append(("finalize", *self.key, tuple(graders)))


class FakeCourse:
    """A course round of one student in the fake Ladok."""

    start = COURSE_START

    def __init__(self, calls: list[tuple], student_id: str, code: str) -> None:
        self.calls, self.student_id, self.code = calls, student_id, code

    def results(self, component: str) -> list[FakeComponent]:
        return [FakeComponent(self.calls, (self.code, component, self.student_id))]


class FakeStudent:
    """A student in the fake Ladok, registered on every course asked for."""

    def __init__(self, calls: list[tuple], student_id: str) -> None:
        self.calls, self.student_id = calls, student_id

    def courses(self, code: str) -> list[FakeCourse]:
        return [FakeCourse(self.calls, self.student_id, code)]

    def __str__(self) -> str:
        return self.student_id


class FakeLadokSession:
    """Stands in for ladok3.LadokSession, recording the results it is given."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def get_student(self, student_id: str) -> FakeStudent:
        self.calls.append(("get_student", student_id))
        return FakeStudent(self.calls, student_id)


def run_ladok_report(tsv: Path, monkeypatch: pytest.MonkeyPatch) -> FakeLadokSession:
    """Run `ladok report --finalize < tsv` through ladok3's own parser and reader."""
    args = ladok3.cli.make_argument_parser().parse_args(["report", "--finalize"])
    assert args.func is ladok3.report.command
    session = FakeLadokSession()
    with open(tsv, encoding="utf-8", newline="") as stdin:
        monkeypatch.setattr(sys, "stdin", stdin)
        args.func(session, args)
    return session


def expected_ladok_calls(lines: list[ExportLine]) -> list[tuple]:
    """Return the calls `ladok report --finalize` should make on the session for `lines`."""
    calls: list[tuple] = []
    for line in lines:
        key = (line.course_code, line.component_code, line.student_id)
        calls.append(("get_student", line.student_id))
        calls.append(("set_grade", *key, line.grade, line.exam_date))
        calls.append(("finalize", *key, line.graders))
    return calls


def test_ladok3_report_command_reports_every_line_of_the_report_tsv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    write_run(tmp_path, SAMPLE_LINES)
    with caplog.at_level(logging.WARNING):
        session = run_ladok_report(tmp_path / "7" / REPORT_TSV, monkeypatch)
    assert session.calls == expected_ladok_calls(SAMPLE_LINES)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_ladok3_report_command_reads_corrections_tsv_the_same_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corrections = [replace(line, status="correction") for line in SAMPLE_LINES[:2]]
    write_run(tmp_path, [make_line(status="withdrawn"), *corrections])
    session = run_ladok_report(tmp_path / "7" / CORRECTIONS_TSV, monkeypatch)
    assert session.calls == expected_ladok_calls(corrections)


# --- rapporteringsunderlag.csv / .xlsx -------------------------------------------------------


def test_csv_has_bom_semicolons_header_and_one_row_per_line(tmp_path: Path) -> None:
    lines = [*SAMPLE_LINES, make_line(student_id="5", status="withdrawn")]
    write_run(tmp_path, lines)
    path = tmp_path / "7" / CSV_NAME
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert raw[3:].split(b"\r\n", 1)[0].decode("utf-8") == ";".join(HEADERS)
    rows = read_csv(path)
    assert rows[0] == list(HEADERS)
    assert [row[0] for row in rows[1:]] == [line.student_id for line in lines]
    assert rows[2] == [
        "19900101-1234",
        "Kim Åström",
        "DV1531",
        "2225",
        "Projekt",
        "2,5",
        "B",
        "2026-01-14",
        "Robin Teacher <robin@example.edu>, Sam Assistant <sam@example.edu>",
        "new",
        "21070000000000566",
    ]


@pytest.mark.parametrize("name", ['=HYPERLINK("http://x")', "+1", "-1+2", "@SUM(A1)"])
def test_csv_defuses_formulas_in_names(tmp_path: Path, name: str) -> None:
    write_run(tmp_path, [make_line(student_name=name, component_name=name)])
    row = read_csv(tmp_path / "7" / CSV_NAME)[1]
    assert row[HEADERS.index("Namn")] == "'" + name
    assert row[HEADERS.index("Modulnamn")] == "'" + name


def test_xlsx_reads_back_with_text_ids_real_dates_and_numeric_credits(tmp_path: Path) -> None:
    formula_name = "=1+1"
    lines = [*SAMPLE_LINES, make_line(student_name=formula_name, status="withdrawn")]
    write_run(tmp_path, lines)
    sheet = openpyxl.load_workbook(tmp_path / "7" / XLSX_NAME).active
    rows = list(sheet.iter_rows())
    assert [cell.value for cell in rows[0]] == list(HEADERS)
    assert len(rows) == len(lines) + 1
    first = {header: cell for header, cell in zip(HEADERS, rows[1], strict=True)}
    assert first["Student-id"].value == "0012345"
    assert first["Student-id"].data_type == "s"
    assert first["Student-id"].number_format == "@"
    assert first["Examinationsdatum"].is_date
    assert first["Examinationsdatum"].value.date() == datetime.date(2025, 10, 3)
    assert first["Högskolepoäng"].value == 2.5
    assert first["Högskolepoäng"].data_type == "n"
    assert rows[2][HEADERS.index("Canvas-användar-id")].value == "21070000000000566"
    last = {header: cell.value for header, cell in zip(HEADERS, rows[-1], strict=True)}
    assert last["Namn"] == formula_name
    assert last["Status"] == "withdrawn — handle in Ladok"
    assert [row[HEADERS.index("Student-id")].value for row in rows[1:]] == [
        line.student_id for line in lines
    ]


# --- folders: nothing, failure, re-materialisation -------------------------------------------


def test_nothing_added_publishes_no_files_and_no_folder(tmp_path: Path) -> None:
    export_dir = tmp_path / "exports"
    assert write_run(export_dir, []) == []
    assert not export_dir.exists() or os.listdir(export_dir) == []


def test_an_exception_inside_with_leaves_no_final_and_no_temp_folder(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="boom"), RunFilesWriter(tmp_path, 7) as writer:
        writer.add(make_line())
        assert len(hidden_entries(tmp_path)) == 1
        raise RuntimeError("boom")
    assert os.listdir(tmp_path) == []


def test_files_are_invisible_under_the_final_name_until_published(tmp_path: Path) -> None:
    with RunFilesWriter(tmp_path, 7) as writer:
        writer.add(make_line())
        assert not (tmp_path / "7").exists()
        names = writer.publish()
    assert sorted(os.listdir(tmp_path / "7")) == sorted(names)
    assert hidden_entries(tmp_path) == []


def test_leaving_with_without_publish_discards_the_run(tmp_path: Path) -> None:
    with RunFilesWriter(tmp_path, 7) as writer:
        writer.add(make_line())
    assert os.listdir(tmp_path) == []


def test_publish_replaces_an_existing_run_folder(tmp_path: Path) -> None:
    old = tmp_path / "7"
    old.mkdir()
    (old / "stale.txt").write_text("from the first materialisation")
    (old / REPORT_TSV).write_text("old\n")
    names = write_run(tmp_path, [make_line()])
    assert sorted(os.listdir(old)) == sorted(names)
    assert (old / REPORT_TSV).read_text(encoding="utf-8") == format_report_line(make_line()) + "\n"
    assert hidden_entries(tmp_path) == []


def test_a_failed_replacement_keeps_the_existing_run_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = tmp_path / "7"
    old.mkdir()
    (old / REPORT_TSV).write_text("old\n")
    real_rename = os.rename

    def rename_failing_into_place(src: object, dst: object) -> None:
        if Path(dst) == old and ".tmp-" in str(src):
            raise OSError("disk trouble")
        real_rename(src, dst)

    monkeypatch.setattr(export_writers.os, "rename", rename_failing_into_place)
    with pytest.raises(OSError, match="disk trouble"):
        write_run(tmp_path, [make_line()])
    assert os.listdir(old) == [REPORT_TSV]
    assert (old / REPORT_TSV).read_text() == "old\n"
    assert hidden_entries(tmp_path) == []


def test_writer_is_single_use(tmp_path: Path) -> None:
    with RunFilesWriter(tmp_path, 7) as writer:
        writer.add(make_line())
        writer.publish()
        with pytest.raises(RuntimeError):
            writer.add(make_line())
        with pytest.raises(RuntimeError):
            writer.publish()


@pytest.mark.parametrize("run_id", ["", ".7", "..", "a/b", "../7"])
def test_run_ids_that_are_not_a_plain_folder_name_are_refused(tmp_path: Path, run_id: str) -> None:
    with pytest.raises(ValueError):
        RunFilesWriter(tmp_path, run_id)
