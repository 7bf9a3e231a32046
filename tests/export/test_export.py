"""Export runs: results exported once, corrections, withdrawals, held-back students, files."""

from __future__ import annotations

import datetime as dt
import json

from plugin.demo.live_events import grade_event
from plugin.export.run import run_export
from tests.conftest import post_event
from tests.helpers import term

LATER = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def read_tsv(settings, run_id, name="ladok-report.tsv"):
    path = f"{settings.export_dir}/{run_id}/{name}"
    with open(path, encoding="utf-8") as fh:
        return [line.rstrip("\n").split("\t") for line in fh]


def test_demo_term_exports_each_result_once(post_all, client, store, settings):
    post_all(term(5))
    first = run_export(store, settings, now=LATER)
    assert first.counts["new"] > 0
    lines = read_tsv(settings, first.run_id)
    assert all(line[0] == "DV1531" for line in lines)
    second = run_export(store, settings, now=LATER + dt.timedelta(days=8))
    assert {l_[1] for l_ in read_tsv(settings, second.run_id)} == {"DV1531"}
    third = run_export(store, settings, now=LATER + dt.timedelta(days=9))
    assert third.nothing_new and third.files == []


def test_pg_blocks_the_module(post_all, client, store, settings):
    post_all(term(5))
    run = run_export(store, settings, now=LATER)
    student5 = [line for line in read_tsv(settings, run.run_id) if line[2].endswith("1005")]
    assert {line[1] for line in student5} == {"2215", "2225"}


def test_changed_grade_after_export_is_a_correction(post_all, client, store, settings):
    post_all(term(1))
    run_export(store, settings, now=LATER)
    post_event(client, grade_event(565, 310, 1001, "A", LATER, sis_id="19900101-1001"))
    run = run_export(store, settings, now=LATER + dt.timedelta(hours=1))
    assert run.counts.get("correction") == 1
    lines = read_tsv(settings, run.run_id, "corrections.tsv")
    assert [(line[1], line[3]) for line in lines] == [("2225", "A")]


def test_dry_run_records_nothing(post_all, client, store, settings):
    post_all(term(2))
    dry = run_export(store, settings, dry_run=True, now=LATER)
    real = run_export(store, settings, now=LATER)
    assert dry.run_id is None and dry.counts == real.counts
    assert sorted(json.dumps(line.component_code) for line in dry.lines)


def test_course_added_later_replays_its_ignored_events(config_file, environ, store, tmp_path):
    from plugin import create_app
    from plugin.settings import load_settings

    text = config_file.read_text()
    without = tmp_path / "without.toml"
    without.write_text(text.replace("canvas_id = 565", "canvas_id = 566"))
    early = load_settings(without, environ)
    client = create_app({"SETTINGS": early}).test_client()
    statuses = {post_event(client, e).json["status"] for e in term(2)}
    assert statuses == {"ignored"}
    late = load_settings(config_file, environ)
    run = run_export(store, late, now=LATER)
    assert run.counts["new"] == 5  # student 2 has PG on kmom03: two modules only


def test_student_without_identity_is_held_back_and_exported_once_known(
        post_all, client, store, settings, canvas_users_unknown):
    from plugin.store.models import User

    post_all(term(2))
    with store.write() as session:
        session.get(User, 1001).sis_user_id = None
    held = run_export(store, settings, now=LATER)
    assert held.counts["new"] == 2 and held.held_back[0]["user_id"] == 1001
    with store.write() as session:
        session.get(User, 1001).sis_user_id = "19900101-1001"
    assert run_export(store, settings, now=LATER).counts["new"] == 3


def test_result_no_longer_earned_is_withdrawn_never_in_a_tsv(post_all, client, store, settings):
    post_all(term(2))
    run_export(store, settings, now=LATER)
    post_event(client, grade_event(565, 301, 1001, "U", LATER, sis_id="19900101-1001"))
    run = run_export(store, settings, now=LATER + dt.timedelta(hours=1))
    assert run.counts == {"withdrawn": 1}
    assert run.files == ["rapporteringsunderlag.csv", "rapporteringsunderlag.xlsx"]
    with open(f"{settings.export_dir}/{run.run_id}/rapporteringsunderlag.csv",
              encoding="utf-8-sig") as fh:
        assert "withdrawn — handle in Ladok" in fh.read()


def test_course_grade_waits_for_module_attestation_then_goes_out(post_all, client, store, settings):
    post_all(term(2))
    first = run_export(store, settings, now=LATER)
    assert [w["user_id"] for w in first.waiting] == [1001] and first.counts["new"] == 5
    early = run_export(store, settings, now=LATER + dt.timedelta(days=6))
    assert early.nothing_new
    due = run_export(store, settings, now=LATER + dt.timedelta(days=7, minutes=1))
    assert [line[1] for line in read_tsv(settings, due.run_id)] == ["DV1531"]
