"""The command line as an operator meets it: expected failures are one line saying what to do
(never a traceback), `--version`, and help texts that are not cut short."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import responses
from click.testing import CliRunner
from urllib3.util import Retry

from plugin.cli import main

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
PROCESS = pytest.mark.slow  # runs the command in a process of its own


def run_cli(environ: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """`canvas-ladok ARGS` in a process of its own, with only `environ`'s CANVAS_LADOK_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANVAS_LADOK_")}
    return subprocess.run([sys.executable, "-m", "plugin", *args], env={**env, **environ},
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def cli_env(environ, config_file) -> dict[str, str]:
    """The test configuration and database, without a Canvas token."""
    env = {k: v for k, v in environ.items() if k != "CANVAS_LADOK_CANVAS_TOKEN"}
    return {**env, "CANVAS_LADOK_CONFIG": str(config_file)}


def one_line_of_advice(result: subprocess.CompletedProcess | object) -> str:
    """The output's last line, after checking there is no traceback and a non-zero exit."""
    output = getattr(result, "stderr", None) or getattr(result, "output", "")
    code = getattr(result, "returncode", getattr(result, "exit_code", None))
    assert code not in (0, None), output
    assert "Traceback" not in output, output
    lines = [line for line in output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, output
    return lines[0]


@SQLITE
@PROCESS
def test_resync_without_a_canvas_token_says_which_variable_to_set(cli_env):
    line = one_line_of_advice(run_cli(cli_env, "resync", "565"))
    assert "set CANVAS_LADOK_CANVAS_TOKEN" in line


@SQLITE
@PROCESS
def test_a_canvas_url_without_a_scheme_is_a_config_error_naming_the_key(cli_env):
    result = run_cli({**cli_env, "CANVAS_LADOK_CANVAS_URL": "canvas.example.edu",
                      "CANVAS_LADOK_CANVAS_TOKEN": "a-canvas-token"}, "resync", "565")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "canvas.url: must be an http:// or https:// URL, got 'canvas.example.edu'" in (
        result.stderr)


@pytest.fixture
def no_retries(monkeypatch):
    """Canvas's client gives up at the first fault (the real one waits 7.5 s first)."""
    monkeypatch.setattr("plugin.canvas.client.default_retry",
                        lambda: Retry(total=0, raise_on_status=False))


@SQLITE
@pytest.mark.parametrize("answer, advice", [
    ({"body": requests.ConnectionError("refused")},
     "check that canvas.url (https://canvas.example.edu) is right and that this machine "
     "reaches it"),
    ({"status": 401, "json": {"errors": [{"message": "Invalid access token."}]}},
     "the token has expired or was revoked; create a new one and set "
     "CANVAS_LADOK_CANVAS_TOKEN"),
    ({"status": 404, "json": {"errors": [{"message": "not found"}]}},
     "check the course's canvas_id"),
])
def test_canvas_failures_during_a_resync_are_one_line_of_advice(
        runner, rsps, no_retries, answer, advice):
    rsps.add(responses.GET, re.compile(r"https://canvas\.example\.edu/api/v1/.*"), **answer)
    result = CliRunner().invoke(main, ["resync", "565"])
    line = one_line_of_advice(result)
    assert advice in line, line
    assert "canvas-secret-token" not in result.output


@SQLITE
@PROCESS
def test_an_unreachable_database_is_one_line_naming_it_without_its_password(cli_env):
    url = "postgresql://ops:hunter2-password@127.0.0.1:1/canvas_ladok"
    line = one_line_of_advice(run_cli({**cli_env, "CANVAS_LADOK_DATABASE_URL": url},
                                      "db", "upgrade"))
    assert "the database postgresql://ops:***@127.0.0.1:1/canvas_ladok cannot be used" in line
    assert "hunter2" not in line


@SQLITE
def test_a_folder_that_cannot_be_written_is_advice_and_other_os_errors_are_not(settings):
    from plugin.cli_advice import advice

    denied = PermissionError(13, "Permission denied", "/srv/canvas-ladok/instance")
    assert advice(denied, settings) == (
        "/srv/canvas-ladok/instance: Permission denied: check that the folder exists and that "
        "the user running canvas-ladok may write it")
    assert advice(BrokenPipeError(32, "Broken pipe"), settings) is None


@SQLITE
def test_a_bug_still_shows_its_traceback(runner, monkeypatch):
    def broken(*_args, **_kwargs):
        raise KeyError("a bug")

    monkeypatch.setattr("plugin.intake.resync.resync_course", broken)
    result = CliRunner().invoke(main, ["resync", "565"])
    assert isinstance(result.exception, KeyError)


@SQLITE
@PROCESS
def test_version_prints_the_installed_version(cli_env):
    from importlib.metadata import version

    result = run_cli(cli_env, "--version")
    assert result.returncode == 0 and result.stdout.strip() == (
        f"canvas-ladok {version('canvas-ladok')}")


def test_the_command_list_shows_each_summary_whole():
    result = CliRunner().invoke(main, ["--help"], terminal_width=80)
    listed = " ".join(result.output.split())
    for name, command in main.commands.items():
        summary = " ".join(command.help.split("\n\n")[0].split())
        assert f"{name} {summary}" in listed, (name, result.output)
    assert "..." not in result.output.partition("Commands:")[2]


def test_docs_cli_describes_every_command():
    text = (Path(__file__).parents[1] / "docs" / "cli.md").read_text()
    for name in main.commands:
        assert f"canvas-ladok {name}" in text, f"docs/cli.md does not describe {name}"



@SQLITE
@pytest.mark.parametrize("error, advice", [
    ("LadokUnavailable", "check that ladok.url () is right and that this machine reaches it"),
    ("LadokCertificateError", "check ladok.certificate, CANVAS_LADOK_LADOK_CERT_PASSWORD"),
    ("LadokNotConfigured", "set the [ladok] section in "),
])
def test_ladok_failures_are_one_line_of_advice(runner, monkeypatch, error, advice):
    from plugin.ladok import errors

    def unreachable(*_args, **_kwargs):
        raise getattr(errors, error)("Ladok: connection refused")

    monkeypatch.setattr("plugin.intake.resync.resync_course", unreachable)
    line = one_line_of_advice(CliRunner().invoke(main, ["resync", "565"]))
    assert line.startswith("Error: Ladok: connection refused: ") and advice in line, line
