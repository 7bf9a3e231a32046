"""check-config reports a file's every problem in one run, each once; names what an unknown key
or variable was probably meant to be; and warns of a service that would accept no webhook
delivery or serve no pages."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from plugin.settings import ConfigError, load_settings
from tests.conftest import COURSE_TOML, SECRET_KEY, WEBHOOK_TOKEN

COURSE = "[[courses]]\ncanvas_id = 1\nladok_code = 'X'\nstart = 2025-01-01\n"
GU = ("[[courses.modules]]\ncode = '{code}'\ncredits = {credits}\nscale = 'GU'\n"
      "moments = {moments}\n")

# Every kind of problem at once: unknown keys and variables, type errors, broken rules inside
# and between modules, LTI's needs, URLs and the schedule.
EVERYTHING = """\
trusted_proxy = 1
public_url = "ladok.example.edu"
export_schedule = "0 0 30 2 *"

[canvas]
url = "canvas.example.edu"
token = "abc"

[lti]
client_id = "123"

[[courses]]
canvas_id = 565
ladok_code = "DV1531"
start = 2025-09-01
moment_pattern = "kmom\\\\d+"
assignments = { "355" = "kmom01" }

  [[courses.modules]]
  code = "2205"
  credits = "2.5"
  scale = "GU"
  moments = ["kmom01", "kmom02", "kmom03"]

  [[courses.modules]]
  code = "2215"
  credits = 2.5
  scale = "GU"
  moments = ["kmom03", "kmom05"]
"""
EVERY_PROBLEM = [
    "CANVAS_LADOK_ADMIN_TOKEN: unknown environment variable; did you mean "
    "CANVAS_LADOK_ADMIN_TOKENS?",
    "trusted_proxy: unknown key; did you mean `trusted_proxies`?",
    "export_schedule: '0 0 30 2 *' must fire at least once a year; it never fires",
    "canvas.token: unknown key: secrets are not read from the file; set the environment "
    "variable CANVAS_LADOK_CANVAS_TOKEN instead",
    "canvas.url: must be an http:// or https:// URL, got 'canvas.example.edu'",
    "courses[0].moment_pattern: must have one capturing group",
    "courses[0].modules[0].credits: must be a number, got '2.5'",
    "courses[0].modules: 'kmom03' belongs to both '2205' and '2215'",
    "public_url: must be an http:// or https:// URL, got 'ladok.example.edu'",
    "CANVAS_LADOK_LTI_PRIVATE_KEY: required when lti.client_id is set",
    "CANVAS_LADOK_SECRET_KEY: required when lti.client_id is set",
    "lti.deployment_ids: required when lti.client_id is set",
]


def check_config(tmp_path: Path, text: str, env: dict[str, str] | None = None,
                 database: bool = True) -> subprocess.CompletedProcess:
    """`canvas-ladok check-config` on `text`, as an operator runs it."""
    path = tmp_path / "canvas-ladok.toml"
    path.write_text(text)
    base = {k: v for k, v in os.environ.items() if not k.startswith("CANVAS_LADOK_")}
    base["CANVAS_LADOK_CONFIG"] = str(path)
    if database:
        base["CANVAS_LADOK_DATABASE_URL"] = f"sqlite:///{tmp_path / 'db' / 'c.db'}"
        base["CANVAS_LADOK_EXPORT_DIR"] = str(tmp_path / "exports")
    return subprocess.run([sys.executable, "-m", "plugin", "check-config"],
                          env={**base, **(env or {})}, cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)


def problem_lines(result: subprocess.CompletedProcess, path: Path) -> list[str]:
    prefix = f"config error: {path}: "
    lines = result.stderr.splitlines()
    assert all(line.startswith(prefix) for line in lines), result.stderr
    return [line.removeprefix(prefix) for line in lines]


def problems(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> list[str]:
    path = tmp_path / "c.toml"
    path.write_text(text)
    environ = {"CANVAS_LADOK_DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}",
               "CANVAS_LADOK_EXPORT_DIR": str(tmp_path / "exports"), **(env or {})}
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ)
    return [p.removeprefix(f"{path}: ") for p in info.value.problems]


@pytest.mark.slow  # check-config in a process of its own
def test_every_problem_of_a_file_in_one_run_each_once(tmp_path):
    result = check_config(tmp_path, EVERYTHING,
                          {"CANVAS_LADOK_ADMIN_TOKEN": "x", "CANVAS_LADOK_WEBHOOK_TOKEN": "y"})
    assert result.returncode == 1
    assert problem_lines(result, tmp_path / "canvas-ladok.toml") == EVERY_PROBLEM


def test_a_moment_pattern_without_a_group_is_one_problem(tmp_path):
    text = (COURSE + "moment_pattern = 'lab\\d+'\nassignments = { '5' = 'lab1' }\n"
            + GU.format(code="a", credits=1, moments="['lab1', 'lab2']")
            + GU.format(code="b", credits=1, moments="['lab3', 'lab1']"))
    assert problems(tmp_path, text) == [
        "courses[0].moment_pattern: must have one capturing group",
        "courses[0].modules: 'lab1' belongs to both 'a' and 'b'",  # still compared as written
    ]


def test_a_type_error_hides_neither_the_rules_nor_adds_follow_ons(tmp_path):
    af = ("[[courses.modules]]\ncode = 'p'\ncredits = 'many'\nscale = 'AF'\n"
          "moments = ['kmom03']\ngrade_from = 'kmom03'\nfinal = 'yes'\n")
    text = (COURSE + GU.format(code="a", credits="'2,5'", moments="['kmom01', 'kmom02']")
            + GU.format(code="a", credits=1, moments="['kmom2']") + af)
    assert problems(tmp_path, text) == [
        "courses[0].modules[0].credits: must be a number, got '2,5'",
        "courses[0].modules[2].credits: must be a number, got 'many'",
        "courses[0].modules[2].final: must be true or false, got 'yes'",
        "courses[0].modules: duplicate module code 'a'",
    ]


def test_a_duplicate_course_is_said_even_when_both_have_other_problems(tmp_path):
    text = (COURSE + "pass_percent = 'half'\n" + COURSE.replace("'X'", "7"))
    assert problems(tmp_path, text) == [
        "courses[0].pass_percent: must be a number, got 'half'",
        "courses[1].canvas_id: duplicate canvas_id 1",
        "courses[1].ladok_code: must be a string (in quotes), got 7",
    ]


@pytest.mark.parametrize("text, env, key, reason", [
    ("trusted_proxy = 1\n", {}, "trusted_proxy", "did you mean `trusted_proxies`?"),
    ("[canvas]\ntoken = 'x'\n", {}, "canvas.token",
     "secrets are not read from the file; set the environment variable "
     "CANVAS_LADOK_CANVAS_TOKEN instead"),
    ("canvas_token = 'x'\n", {}, "canvas_token", "CANVAS_LADOK_CANVAS_TOKEN instead"),
    ("[mail]\npassword = 'x'\n", {}, "mail.password", "CANVAS_LADOK_SMTP_PASSWORD instead"),
    ("[lti]\nprivate_key = 'x'\n", {}, "lti.private_key", "CANVAS_LADOK_LTI_PRIVATE_KEY instead"),
    ("[ladok]\npassword = 'x'\n", {}, "ladok.password",
     "CANVAS_LADOK_LADOK_CERT_PASSWORD instead"),
    ("[ladok]\ncertificat = 'x.p12'\n", {}, "ladok.certificat", "did you mean `certificate`?"),
    (COURSE + "ladok_round = []\n", {}, "courses[0].ladok_round", "did you mean `ladok_rounds`?"),
    ("secret_key = 'x'\n", {}, "secret_key", "CANVAS_LADOK_SECRET_KEY instead"),
    ("[canvas]\njwks_ur = 'https://x.example'\n", {}, "canvas.jwks_ur",
     "did you mean `jwks_url`?"),
    ("[canvas]\npublic_url = 'https://x.example'\n", {}, "canvas.public_url",
     "`public_url` is a top-level key; write it above the file's first [table] header"),
    ("url = 'https://canvas.example.edu'\n", {}, "url", "did you mean `canvas.url`?"),
    ("[canavs]\nurl = 'https://canvas.example.edu'\n", {}, "canavs", "did you mean `canvas`?"),
    (COURSE + GU.format(code="a", credits=1, moments="['kmom01']")
     + "assignments = { '5' = 'kmom01' }\n", {}, "courses[0].modules[0].assignments",
     "`assignments` belongs to [[courses]]; write it above the first [[courses.modules]] of "
     "that course"),
    (COURSE + GU.format(code="a", credits=1, moments="['kmom01']") + "credit = 1\n", {},
     "courses[0].modules[0].credit", "did you mean `credits`?"),
    ("", {"CANVAS_LADOK_ADMIN_TOKEN": "x"}, "CANVAS_LADOK_ADMIN_TOKEN",
     "unknown environment variable; did you mean CANVAS_LADOK_ADMIN_TOKENS?"),
    ("", {"CANVAS_LADOK_CANVAS_JWKS": "x"}, "CANVAS_LADOK_CANVAS_JWKS",
     "did you mean CANVAS_LADOK_CANVAS_JWKS_URL?"),
    ("", {"CANVAS_LADOK_LTI_CLIENT_ID": "1"}, "CANVAS_LADOK_LTI_CLIENT_ID",
     "unknown environment variable: `lti.client_id` is set in the configuration file only"),
])
def test_unknown_names_say_what_was_meant(tmp_path, text, env, key, reason):
    found = problems(tmp_path, text, env)
    assert len(found) == 1 and found[0].startswith(f"{key}: ") and reason in found[0], found


def test_a_name_like_no_other_is_only_unknown(tmp_path):
    assert problems(tmp_path, "colour = 1\n") == ["colour: unknown key"]
    assert problems(tmp_path, "", {"CANVAS_LADOK_XYZZY": "1"}) == [
        "CANVAS_LADOK_XYZZY: unknown environment variable"]


WARNINGS = ["(webhook): no way to authenticate Canvas's deliveries is configured",
            "CANVAS_LADOK_SECRET_KEY: not set, so the pages answer 503"]


@pytest.mark.slow  # check-config in a process of its own
def test_a_service_that_takes_no_webhook_and_serves_no_pages_is_ok_with_warnings(tmp_path):
    result = check_config(tmp_path, COURSE_TOML)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].endswith("ok (2 course(s)), 2 warning(s)")
    lines = result.stderr.splitlines()
    assert len(lines) == 2 and "config error" not in result.stderr
    for line, warning in zip(lines, WARNINGS, strict=True):
        assert line.startswith(f"config warning: {tmp_path / 'canvas-ladok.toml'}: {warning}")


@pytest.mark.slow  # check-config in a process of its own
@pytest.mark.parametrize("env", [
    {"CANVAS_LADOK_WEBHOOK_TOKEN": WEBHOOK_TOKEN},
    {"CANVAS_LADOK_CANVAS_JWKS_URL": "https://sso.canvaslms.com/api/lti/security/jwks"},
])
def test_no_warnings_once_deliveries_and_pages_can_be_had(tmp_path, env):
    result = check_config(tmp_path, COURSE_TOML, {**env, "CANVAS_LADOK_SECRET_KEY": SECRET_KEY})
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert result.stdout.splitlines()[0].endswith("ok (2 course(s))")


@pytest.mark.parametrize("text, env, problem", [
    (COURSE.replace("2025-01-01", "'2025-01-01'"), {},
     "courses[0].start: must be a date like 2025-09-01 (no quotes), got '2025-01-01'"),
    ("[mail]\nadmins = 'ops@example.edu'\n", {},
     "mail.admins: must be a list, got 'ops@example.edu'"),
    ("trusted_proxies = true\n", {}, "trusted_proxies: must be an integer, got true"),
    (COURSE.replace("canvas_id = 1", "canvas_id = [1]") + COURSE, {},
     "courses[0].canvas_id: must be an integer, got [1]"),
    ("", {"CANVAS_LADOK_MAX_BODY_BYTES": "256k"},
     "CANVAS_LADOK_MAX_BODY_BYTES: must be an integer, got '256k'"),
])
def test_a_wrong_type_is_said_in_the_files_words(tmp_path, text, env, problem):
    assert problems(tmp_path, text, env) == [problem]
