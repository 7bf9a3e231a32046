"""check-config refuses what start-up would fail on, quoting values as the file wrote them."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from plugin import create_app
from plugin.cli import main
from plugin.settings import load_settings
from tests.conftest import COURSE_TOML, WEBHOOK_SECRET

COURSE = "[[courses]]\ncanvas_id = {cid}\nladok_code = 'X'\nstart = 2025-01-01\n"
SHARED = ("[[courses.modules]]\ncode = 'a'\ncredits = 1\nscale = 'GU'\nmoments = ['kmom01']\n"
          "[[courses.modules]]\ncode = 'b'\ncredits = 1\nscale = 'GU'\n"
          "moments = ['kmom02', 'kmom01']\n")
OUTSIDE = ("[[courses.modules]]\ncode = 'c'\ncredits = 1\nscale = 'AF'\nmoments = ['kmom02']\n"
           "grade_from = 'kmom03'\nfinal = true\n")


def check(tmp_path, monkeypatch, text: str, env: dict[str, str] | None = None):
    path = tmp_path / "c.toml"
    path.write_text(text)
    monkeypatch.setenv("CANVAS_LADOK_CONFIG", str(path))
    monkeypatch.setenv("CANVAS_LADOK_DATABASE_URL", f"sqlite:///{tmp_path / 'c.db'}")
    for key, value in (env or {}).items():
        monkeypatch.setenv(key, value)
    return CliRunner().invoke(main, ["check-config"])


@pytest.mark.parametrize("secret", ["whsec_", "whsec_!!not base64!!", "whsec_a"])
def test_an_unusable_webhook_secret_is_refused_without_echoing_it(tmp_path, monkeypatch,
                                                                   secret):
    result = check(tmp_path, monkeypatch, COURSE_TOML, {"CANVAS_LADOK_WEBHOOK_SECRET": secret})
    assert result.exit_code == 1
    assert "CANVAS_LADOK_WEBHOOK_SECRET: not a Standard Webhooks secret" in result.output
    assert secret == "whsec_" or secret not in result.output


@pytest.mark.parametrize("url", ["mysql://x", "postgresql+asyncpg://u@h/db", "nonsense",
                                 "sqlite+nodriver:///x.db"])
def test_a_database_url_that_cannot_be_built_is_refused(tmp_path, monkeypatch, url):
    result = check(tmp_path, monkeypatch, COURSE_TOML, {"CANVAS_LADOK_DATABASE_URL": url})
    assert result.exit_code == 1 and "database_url:" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("text, key", [
    (COURSE.format(cid=2**63), "courses[0].canvas_id"),
    (COURSE.format(cid=0), "courses[0].canvas_id"),
    (COURSE.format(cid=1) + "assignments = { '99999999999999999999' = 'kmom01' }\n",
     "courses[0].assignments.99999999999999999999"),
    (COURSE.format(cid=1) + "assignments = { '0' = 'kmom01' }\n", "courses[0].assignments.0"),
    (COURSE.format(cid=1) + f"assignments = {{ '{2**63}' = 'kmom01' }}\n",
     f"courses[0].assignments.{2**63}"),
    (COURSE.format(cid=1) + "final_grade_delay_days = 1000000000000\n",
     "courses[0].final_grade_delay_days"),
    (COURSE.format(cid=1) + "pass_percent = nan\n", "courses[0].pass_percent"),
    ("max_body_bytes = 100000000000000000000\n", "max_body_bytes"),
    ("max_body_bytes = 1000000000\n", "max_body_bytes"),
])
def test_ids_and_sizes_out_of_range_are_refused(tmp_path, monkeypatch, text, key):
    result = check(tmp_path, monkeypatch, text)
    assert result.exit_code == 1, result.output
    assert result.output.count(f"c.toml: {key}: ") == 1, result.output  # said once


def test_codes_with_control_characters_are_refused(tmp_path, monkeypatch):
    text = '[[courses]]\ncanvas_id = 1\nladok_code = "DV\\t1531"\nstart = 2025-01-01\n'
    result = check(tmp_path, monkeypatch, text)
    assert result.exit_code == 1 and "courses[0].ladok_code: must not contain a tab" in (
        result.output)


def test_moments_are_quoted_as_the_file_writes_them(tmp_path, monkeypatch):
    shared = check(tmp_path, monkeypatch, COURSE.format(cid=1) + SHARED)
    assert shared.exit_code == 1
    assert "'kmom01' belongs to both 'a' and 'b'" in shared.output
    outside = check(tmp_path, monkeypatch, COURSE.format(cid=1) + OUTSIDE)
    assert "'kmom03' is not one of the module's moments" in outside.output
    assert "moment 1 " not in shared.output and "moment 3 " not in outside.output


def test_a_configuration_check_config_passes_starts(tmp_path, monkeypatch):
    env = {"CANVAS_LADOK_WEBHOOK_SECRET": WEBHOOK_SECRET, "CANVAS_LADOK_MAX_BODY_BYTES": "16777216"}
    result = check(tmp_path, monkeypatch, COURSE_TOML, env)
    assert result.exit_code == 0, result.output
    app = create_app({"SETTINGS": load_settings()})
    assert app.extensions["canvas_ladok"].authenticator.configured
    app.extensions["canvas_ladok"].store.dispose()


@pytest.mark.parametrize("key", ["x", "0123456789abcdef0123456789abcde"])
def test_a_session_key_shorter_than_32_characters_is_refused_without_echoing_it(
        tmp_path, monkeypatch, key):
    result = check(tmp_path, monkeypatch, COURSE_TOML, {"CANVAS_LADOK_SECRET_KEY": key})
    assert result.exit_code == 1
    assert (f"CANVAS_LADOK_SECRET_KEY: must be at least 32 characters, it has {len(key)}"
            in result.output)
    assert f"{key}\n" not in result.output and f"'{key}'" not in result.output


def test_a_session_key_of_32_characters_passes(tmp_path, monkeypatch):
    result = check(tmp_path, monkeypatch, COURSE_TOML, {"CANVAS_LADOK_SECRET_KEY": "k" * 32})
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("text, env, key", [
    ("", {"CANVAS_LADOK_CANVAS_URL": "canvas.example.edu"}, "canvas.url"),
    ("", {"CANVAS_LADOK_CANVAS_URL": "ftp://canvas.example.edu"}, "canvas.url"),
    ("", {"CANVAS_LADOK_CANVAS_URL": "https://"}, "canvas.url"),
    ("", {"CANVAS_LADOK_CANVAS_JWKS_URL": "sso.canvaslms.com/jwks"}, "canvas.jwks_url"),
    ("public_url = 'ladok.example.edu'\n", {}, "public_url"),
    ("public_url = 'mailto:ops@example.edu'\n", {}, "public_url"),
])
def test_canvas_and_public_urls_must_be_http_urls(tmp_path, monkeypatch, text, env, key):
    result = check(tmp_path, monkeypatch, text + COURSE_TOML, env)
    assert result.exit_code == 1
    assert f"{key}: must be an http:// or https:// URL, got " in result.output, result.output


@pytest.mark.parametrize("url", ["sqlite:////proc/canvas-ladok/canvas-ladok.db",
                                 "sqlite:////proc/self/canvas-ladok.db"])
def test_an_sqlite_file_whose_folder_cannot_be_made_or_written_is_refused(
        tmp_path, monkeypatch, url):
    result = check(tmp_path, monkeypatch, COURSE_TOML, {"CANVAS_LADOK_DATABASE_URL": url})
    assert result.exit_code == 1
    assert "database_url: the folder /proc/" in result.output, result.output


def test_a_folder_in_the_way_of_the_database_is_refused(tmp_path, monkeypatch):
    (tmp_path / "plain-file").write_text("")
    url = f"sqlite:///{tmp_path / 'plain-file' / 'db' / 'c.db'}"
    result = check(tmp_path, monkeypatch, COURSE_TOML, {"CANVAS_LADOK_DATABASE_URL": url})
    assert result.exit_code == 1
    assert f"the folder {tmp_path / 'plain-file' / 'db'} cannot be created in " in result.output


def test_checking_folders_that_do_not_exist_yet_leaves_nothing_behind(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'new' / 'deeper' / 'c.db'}"
    result = check(tmp_path, monkeypatch, COURSE_TOML, {
        "CANVAS_LADOK_DATABASE_URL": url, "CANVAS_LADOK_EXPORT_DIR": str(tmp_path / "ex" / "p")})
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.toml"]


@pytest.mark.parametrize("schedule, reason", [
    ("0 0 30 2 *", "it never fires"),
    ("0 0 31 4 *", "it never fires"),
    ("0 0 29 2 *", "it does not fire in "),  # only in leap years
    ("0 0 29 2 1", "it does not fire in "),  # a Monday the 29th of February: 2044, 2072, ...
])
def test_a_schedule_that_skips_a_year_is_refused(tmp_path, monkeypatch, schedule, reason):
    result = check(tmp_path, monkeypatch, f"export_schedule = '{schedule}'\n" + COURSE_TOML)
    assert result.exit_code == 1
    assert (f"export_schedule: '{schedule}' must fire at least once a year; {reason}"
            in result.output), result.output


@pytest.mark.parametrize("schedule", ["30 3 * * *", "0 4 1 1 *", "0 4 * * 7", "0 2 13 * 5",
                                      "0 0 31 12 *"])
def test_schedules_that_fire_every_year_pass(tmp_path, monkeypatch, schedule):
    result = check(tmp_path, monkeypatch, f"export_schedule = '{schedule}'\n" + COURSE_TOML)
    assert result.exit_code == 0, result.output
