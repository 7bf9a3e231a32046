"""`canvas-ladok ladok-check` against the fake Ladok: it reads only, reports the certificate,
the rounds and their modules, the grade scales and the right to report, and says plainly what
is missing, in one line per problem and without a traceback."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys

import pytest
from click.testing import CliRunner

from plugin.cli import main
from tests.fake_ladok import USER
from tests.ladok.conftest import ladok_config
from tests.ladok_pki import issue


def run_check(tmp_path, monkeypatch, text: str):
    path = tmp_path / "canvas-ladok.toml"
    path.write_text(text)
    monkeypatch.setenv("CANVAS_LADOK_CONFIG", str(path))
    monkeypatch.setenv("CANVAS_LADOK_DATABASE_URL", f"sqlite:///{tmp_path / 'c.db'}")
    return CliRunner().invoke(main, ["ladok-check"])


def assert_read_only(fake) -> None:
    assert not fake.calls("POST", ".") and not fake.calls("PUT", "/uppdatera$")
    assert {s.method for s in fake.seen} <= {"GET", "PUT"}
    assert all(s.path.endswith(("/sok", "/kontrollerarapporteringsmojlighet"))
               for s in fake.seen if s.method == "PUT")


def test_a_good_set_up_is_reported_and_nothing_is_written(tmp_path, monkeypatch, fake_ladok,
                                                          ladok_round):
    fake_ladok.data.add_students(ladok_round, 3)
    result = run_check(tmp_path, monkeypatch, ladok_config(fake_ladok, [ladok_round.uid]))
    out = result.output
    assert result.exit_code == 0, out
    assert "ladok certificate: O=Test University,CN=canvas-ladok integration" in out
    assert "valid until " in out and "days left" in out
    assert f"connected to {fake_ladok.url} as {USER}" in out
    assert "grade scales: 2 (UG, AF)" in out and 'mode: files (results go to files only' in out
    assert f"round 50110 ({ladok_round.uid}): DV1531" in out
    for code in ("2205", "2215", "2225"):
        assert f"module {code} → {code} 'Modul {code}'" in out
        assert f"may report on module {code}: yes" in out
    assert "grade scale AF: A, B, C, D, E, FX, F" in out and "grade scale UG: G, U" in out
    assert "may report on course grade: yes" in out and "students on the round: 3" in out
    assert out.rstrip().endswith("ladok-check: ok") and "problem" not in out
    assert_read_only(fake_ladok)


def test_what_is_missing_is_said_plainly(tmp_path, monkeypatch, fake_ladok):
    start = dt.date(2025, 9, 1)
    short = fake_ladok.data.add_round("DV1531", start, [("2205", "GU"), ("2225", "GU")])
    other = fake_ladok.data.add_round("DV1600", start, [("2205", "GU")], code="50111")
    fake_ladok.data.add_students(short, 2)
    fake_ladok.deny(short.modules[0].uid)
    unknown = "00000000-1111-2222-3333-444444444444"
    result = run_check(tmp_path, monkeypatch,
                       ladok_config(fake_ladok, [short.uid, other.uid, unknown]))
    out = result.output
    assert result.exit_code == 1 and "Traceback" not in out
    assert "problem: module 2215 is not on this round (Ladok has: 2205, 2225)" in out
    assert "problem: its grade scale UG (G, U) lacks A, B, C, D, E, which the " \
           "configuration's AF scale sends" in out
    assert "problem: the certificate may not report on module 2205" in out
    assert "may report on module 2225: yes" in out
    assert "problem: it is a round of DV1600, not of DV1531" in out
    assert f"problem: round {unknown}: Ladok refused (400 " in out
    assert "Utbildningstillfället kunde inte hittas" in out
    assert "may the certificate report here? cannot tell until a student is registered" in out
    assert "ladok-check: " in out and "problem(s) to put right" in out
    assert_read_only(fake_ladok)


def test_a_course_without_rounds_is_a_problem_only_in_drafts_mode(tmp_path, monkeypatch,
                                                                  fake_ladok, ladok_round):
    files = run_check(tmp_path, monkeypatch, ladok_config(fake_ladok, []).replace(
        "ladok_rounds = []", ""))
    assert files.exit_code == 0 and "no ladok_rounds: its results go to files only" in files.output
    drafts = run_check(tmp_path, monkeypatch, ladok_config(fake_ladok, [], mode="drafts"))
    assert drafts.exit_code == 1
    assert "problem: no ladok_rounds: its results go to files only" in drafts.output


def test_a_wrong_larosate_id_is_named(tmp_path, monkeypatch, fake_ladok, ladok_round):
    result = run_check(tmp_path, monkeypatch,
                       ladok_config(fake_ladok, [ladok_round.uid], larosate_id=29))
    assert result.exit_code == 1
    assert "problem: ladok.larosate_id is 29, but the certificate belongs to lärosäte 99" \
        in result.output


def test_without_ladok_settings_it_says_what_to_set(tmp_path, monkeypatch):
    from tests.conftest import COURSE_TOML

    result = run_check(tmp_path, monkeypatch, COURSE_TOML)
    assert result.exit_code == 1
    assert "problem: Ladok is not configured: set ladok.url and ladok.certificate" in \
        result.output


def test_an_expired_certificate_stops_before_calling_ladok(tmp_path, monkeypatch, fake_ladok,
                                                           ladok_round):
    from tests.ladok_pki import certificate_authority

    old = issue(certificate_authority(), "old", days=-1, starts=-400).write_pem(tmp_path / "o")
    text = ladok_config(fake_ladok, [ladok_round.uid], certificate=old)
    result = run_check(tmp_path, monkeypatch, text)
    assert result.exit_code == 1 and "problem: ladok.certificate: the certificate is expired on" \
        in result.output
    assert not fake_ladok.seen


def _subprocess_env(tmp_path, text: str) -> dict[str, str]:
    path = tmp_path / "canvas-ladok.toml"
    path.write_text(text)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANVAS_LADOK_")}
    env.update({"CANVAS_LADOK_CONFIG": str(path),
                "CANVAS_LADOK_DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}"})
    return env


def ladok_check_command(tmp_path, text: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "plugin", "ladok-check"], capture_output=True,
                          text=True, env=_subprocess_env(tmp_path, text), timeout=120)


@pytest.mark.slow
def test_the_command_end_to_end(tmp_path, fake_ladok, ladok_round):
    fake_ladok.data.add_students(ladok_round, 2)
    done = ladok_check_command(tmp_path, ladok_config(fake_ladok, [ladok_round.uid]))
    assert done.returncode == 0, done.stderr
    assert "may report on module 2225: yes" in done.stdout and "ladok-check: ok" in done.stdout
    stranger = ladok_check_command(tmp_path, ladok_config(
        fake_ladok, [ladok_round.uid], certificate=fake_ladok.stranger_pem))
    assert stranger.returncode == 1 and "Traceback" not in stranger.stdout + stranger.stderr
    assert "problem: Ladok refused the TLS connection: is ladok.certificate the integration " \
           "certificate Ladok issued for this environment?" in stranger.stdout
    assert_read_only(fake_ladok)


@pytest.mark.slow
def test_ladok_unreachable_is_one_line(tmp_path, fake_ladok, ladok_round):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        closed = f"https://127.0.0.1:{sock.getsockname()[1]}"
    text = ladok_config(fake_ladok, [ladok_round.uid]).replace(fake_ladok.url, closed)
    done = ladok_check_command(tmp_path, text)
    assert done.returncode == 1 and "Traceback" not in done.stdout + done.stderr
    problems = [line for line in done.stdout.splitlines() if "problem" in line]
    assert problems == [f"problem: Ladok unreachable (connection refused) at {closed}"]
