"""Sending through a real SMTP server: STARTTLS, SMTPS, AUTH, and `canvas-ladok mail-test`."""

from __future__ import annotations

import logging

import pytest

from plugin.cli import main
from tests.mail.conftest import SENDER, mail_toml
from tests.smtp_server import SMTP_PASSWORD, SMTP_USER, free_port, html_part, text_part

ADDRESS = "teacher@example.edu"


def mail_test(runner, *args):
    return runner.invoke(main, ["mail-test", *args])


def one_line_error(result) -> str:
    assert result.exit_code == 1 and result.exception is None or isinstance(
        result.exception, SystemExit)
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    return lines[0]


# aiosmtpd counts only STARTTLS as TLS and warns of AUTH on its SMTPS connections
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
@pytest.mark.parametrize("smtp_mode", ["starttls", "smtps"])
def test_mail_test_logs_in_with_the_password_over_tls_and_prints_the_answer(
        runner, smtp, smtp_mode):
    result = mail_test(runner, ADDRESS)
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"sent to {ADDRESS} through ")
    assert "the server answered: 250 2.0.0 Ok: queued as Q1" in result.output
    assert smtp.logins == [(SMTP_USER, SMTP_PASSWORD)]
    [message] = smtp.received
    assert smtp.envelopes == [(SENDER, [ADDRESS])]
    for part in (text_part(message), html_part(message)):
        assert "Testmeddelande" in part and "Test message" in part


@pytest.mark.parametrize("smtp_mode", ["smtp"])
def test_plain_smtp_without_login(runner, smtp, smtp_mode):
    result = mail_test(runner, ADDRESS)
    assert result.exit_code == 0, result.output
    assert smtp.logins == [] and len(smtp.received) == 1


def test_refused_login_is_one_clear_line_without_the_password(runner, smtp, monkeypatch,
                                                              caplog):
    monkeypatch.setenv("CANVAS_LADOK_SMTP_PASSWORD", "wrong-" + SMTP_PASSWORD)
    with caplog.at_level(logging.DEBUG):
        result = mail_test(runner, ADDRESS)
    line = one_line_error(result)
    assert f"refused the login of {SMTP_USER!r}: 535" in line
    assert SMTP_PASSWORD not in result.output + caplog.text
    assert smtp.received == []


def test_missing_password_is_named(runner, smtp, monkeypatch):
    monkeypatch.delenv("CANVAS_LADOK_SMTP_PASSWORD")
    line = one_line_error(mail_test(runner, ADDRESS))
    assert "CANVAS_LADOK_SMTP_PASSWORD is not set" in line


def test_unreachable_host_is_one_clear_line(runner, config_file):
    config_file.write_text(mail_toml(free_port(), "smtp"))
    line = one_line_error(mail_test(runner, ADDRESS))
    assert line.startswith("error: cannot reach 127.0.0.1:") and "refused" in line.lower()


def test_bad_address_is_refused_before_and_by_the_server(runner, smtp):
    line = one_line_error(mail_test(runner, "not-an-address"))
    assert line == "error: 'not-an-address' is not an e-mail address"
    smtp.refused_recipients.add("nobody@example.edu")
    line = one_line_error(mail_test(runner, "nobody@example.edu"))
    assert "refused every recipient: nobody@example.edu: 550 5.1.1 No such user here" in line


def test_untrusted_certificate_is_refused(runner, smtp, monkeypatch, tmp_path):
    empty = tmp_path / "no-authorities.pem"
    empty.write_text("")
    monkeypatch.setenv("SSL_CERT_FILE", str(empty))
    line = one_line_error(mail_test(runner, ADDRESS))
    assert "TLS with 127.0.0.1:" in line and "CERTIFICATE_VERIFY_FAILED" in line
    assert smtp.logins == []


def test_mail_not_configured_is_said(runner, config_file):
    config_file.write_text(config_file.read_text().split("\n[mail]")[0])
    line = one_line_error(mail_test(runner, ADDRESS))
    assert line.startswith("error: mail is not configured") and str(config_file) in line
