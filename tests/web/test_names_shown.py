"""Names from Canvas are shown to people as they read: no bidirectional override, isolate or
control character reaches a page or the spreadsheet files."""

from __future__ import annotations

import csv
import io
import re

from openpyxl import load_workbook

from plugin.export.run import run_export
from plugin.store.models import User
from tests.helpers import term

# A right-to-left override turns the rest of the line around ("Bo Berg" would read "greB oB").
NAME = "Bo \u202eBerg\u202c\x1b[31m\u2066\u200fX\u2069\u0085\nY"
UNSHOWABLE = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\x00-\x1f\x7f-\x9f]")


def named(post_all, store):
    post_all(term(2))
    with store.write() as session:
        session.get(User, 1002).name = NAME


def test_pages_show_names_without_bidi_or_control_characters(admin_client, post_all, store,
                                                             settings):
    named(post_all, store)
    run = run_export(store, settings, course_id=565, trigger="manual")
    for path in ("/courses/565", "/courses/565/students/1002", f"/exports/{run.run_id}",
                 "/courses/565?q=Bo"):
        html = admin_client.get(path).text
        assert "Bo Berg" in html, path
        assert not UNSHOWABLE.search(html.replace("\n", "")), path


def test_the_spreadsheet_files_hold_names_without_bidi_or_control_characters(
        admin_client, post_all, store, settings):
    named(post_all, store)
    run = run_export(store, settings, course_id=565, trigger="manual")
    base = f"/exports/{run.run_id}/files"
    text = admin_client.get(f"{base}/rapporteringsunderlag.csv").data.decode("utf-8-sig")
    names = [row[1] for row in csv.reader(io.StringIO(text), delimiter=";")][1:]
    sheet = load_workbook(io.BytesIO(admin_client.get(
        f"{base}/rapporteringsunderlag.xlsx").data)).active
    names += [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)]
    tsv = admin_client.get(f"{base}/ladok-report.tsv").data.decode()
    assert any(n.startswith("Bo Berg") for n in names)
    assert not any(UNSHOWABLE.search(n) for n in names)
    assert not UNSHOWABLE.search(tsv.replace("\t", "").replace("\n", ""))
