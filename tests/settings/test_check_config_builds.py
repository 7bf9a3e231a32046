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
