"""The `[ladok]` settings and `ladok_rounds`: defaults, paths, the certificate's password from
the environment, and errors that name the key; check-config says until when it is valid."""

from __future__ import annotations

import pytest

from plugin.settings import load_settings
from tests.conftest import COURSE_TOML
from tests.helpers import course_toml
from tests.ladok_pki import certificate_authority, issue
from tests.settings.test_check_config_builds import check
from tests.settings.test_settings import problems, write

ROUND = "c601ee70-73da-11e8-b4e0-063f9afb40e3"
PASSWORD_ENV = "CANVAS_LADOK_LADOK_CERT_PASSWORD"


@pytest.fixture(scope="module")
def issued():
    return issue(certificate_authority(), "canvas-ladok integration")


def test_without_a_ladok_section_results_go_to_files_only(tmp_path):
    settings = load_settings(write(tmp_path, COURSE_TOML), {})
    assert settings.ladok.mode == "files" and not settings.ladok.configured
    assert not settings.ladok.drafts and settings.course(565).ladok_rounds == ()


def test_a_full_section_resolves_paths_and_takes_the_password_from_the_environment(
        tmp_path, issued):
    (tmp_path / "secrets").mkdir()
    issued.write_p12(tmp_path / "secrets" / "ladok.p12", "hemligt")
    issued.write_cert(tmp_path / "secrets" / "ca.pem")
    text = ('[ladok]\nurl = "https://api.test.ladok.se/"\ncertificate = "secrets/ladok.p12"\n'
            'ca_file = "secrets/ca.pem"\nlarosate_id = 29\nmode = "drafts"\n'
            + course_toml(extra=f'ladok_rounds = ["{ROUND.upper()}"]'))
    settings = load_settings(write(tmp_path, text), {PASSWORD_ENV: "hemligt"})
    ladok = settings.ladok
    assert (ladok.url, ladok.larosate_id, ladok.mode) == ("https://api.test.ladok.se", 29,
                                                          "drafts")
    assert ladok.certificate == str(tmp_path / "secrets" / "ladok.p12")
    assert ladok.ca_file == str(tmp_path / "secrets" / "ca.pem")
    assert settings.course(565).ladok_rounds == (ROUND,)
    assert settings.ladok_cert_password == "hemligt" and "hemligt" not in repr(settings)


def test_rounds_do_not_change_the_courses_fingerprint(tmp_path):
    plain = load_settings(write(tmp_path, course_toml()), {}).course(565)
    with_rounds = load_settings(write(tmp_path, course_toml(
        extra=f'ladok_rounds = ["{ROUND}"]')), {}).course(565)
    assert plain.fingerprint() == with_rounds.fingerprint()


@pytest.mark.parametrize("section, key, reason", [
    ('urll = "https://x"', "ladok.urll", "unknown key"),
    ('mode = "draft"', "ladok.mode", 'must be "files" or "drafts", got \'draft\''),
    ('url = "http://api.ladok.se"', "ladok.url", "must be an https:// URL"),
    ('url = "api.ladok.se"', "ladok.url", "must be an http:// or https:// URL"),
    ('larosate_id = "29"', "ladok.larosate_id", "must be an integer, got '29'"),
    ("larosate_id = 0", "ladok.larosate_id", "a positive integer, got 0"),
    ("larosate_id = true", "ladok.larosate_id", "a positive integer, got True"),
    ('certificate = "missing.pem"', "ladok.certificate", "missing.pem: not found"),
    ('ca_file = "missing-ca.pem"', "ladok.ca_file", "missing-ca.pem: not found"),
    ('ca_file = "c.toml"', "ladok.ca_file", "not a bundle of CA certificates in PEM"),
    ('mode = "drafts"', "ladok.url", 'required when ladok.mode is "drafts"'),
    ('mode = "drafts"', "ladok.certificate", 'required when ladok.mode is "drafts"'),
    ('mode = "drafts"', "ladok.larosate_id", 'required when ladok.mode is "drafts"'),
])
def test_a_bad_ladok_setting_names_its_key(tmp_path, section, key, reason):
    found = problems(tmp_path, f"[ladok]\n{section}\n" + COURSE_TOML)
    assert any(f": {key}: " in p and reason in p for p in found), found


def test_ladok_must_be_a_table(tmp_path):
    assert any(": ladok: must be a table" in p
               for p in problems(tmp_path, 'ladok = "yes"\n' + COURSE_TOML))


def test_a_certificate_that_does_not_open_names_the_password_variable(tmp_path, issued):
    issued.write_pem(tmp_path / "ladok.pem", "hemligt")
    text = '[ladok]\ncertificate = "ladok.pem"\n' + COURSE_TOML
    [problem] = problems(tmp_path, text)
    assert problem.endswith(f"the private key is encrypted: set its password in {PASSWORD_ENV}")
    [problem] = problems(tmp_path, text, {PASSWORD_ENV: "fel"})
    assert "wrong password" in problem and ": ladok.certificate: " in problem
    assert "fel" not in problem.split("wrong")[0].split("ladok.pem")[1]
    assert load_settings(write(tmp_path, text), {PASSWORD_ENV: "hemligt"}).ladok.certificate


@pytest.mark.parametrize("rounds, reason", [
    ('"c601ee70"', "must be a list of Ladok course round UIDs"),
    ('["50110"]', "'50110' is not a Ladok UID"),
    (f'["{ROUND}", "{ROUND.upper()}"]', f"'{ROUND}' is listed twice"),
    ("[1]", "must be a list of Ladok course round UIDs"),
])
def test_bad_rounds_name_the_course_key(tmp_path, rounds, reason):
    found = problems(tmp_path, course_toml(extra=f"ladok_rounds = {rounds}"))
    assert any(": courses[0].ladok_rounds: " in p and reason in p for p in found), found


def test_a_round_belongs_to_one_ladok_course(tmp_path):
    text = (course_toml(extra=f'ladok_rounds = ["{ROUND}"]')
            + course_toml(566, "DV1600", extra=f'ladok_rounds = ["{ROUND}"]')
            + course_toml(567, "DV1531", extra=f'ladok_rounds = ["{ROUND}"]'))
    [problem] = problems(tmp_path, text)
    assert problem.endswith(f"courses[1].ladok_rounds: '{ROUND}' is also a round of courses[0], "
                            "whose ladok_code 'DV1531' differs from 'DV1600'")


def test_check_config_says_until_when_the_certificate_is_valid(tmp_path, monkeypatch, issued):
    issued.write_p12(tmp_path / "ladok.p12", "hemligt")
    result = check(tmp_path, monkeypatch,
                          '[ladok]\ncertificate = "ladok.p12"\n' + COURSE_TOML,
                          {PASSWORD_ENV: "hemligt"})
    assert result.exit_code == 0, result.output
    assert "ladok certificate: O=Test University,CN=canvas-ladok integration" in result.output
    assert f"valid until {issued.cert.not_valid_after:%Y-%m-%d %H:%M} UTC" in result.output
    assert "hemligt" not in result.output


def test_check_config_refuses_an_expired_certificate(tmp_path, monkeypatch):
    old = issue(certificate_authority(), "old", days=-1, starts=-400)
    old.write_pem(tmp_path / "old.pem")
    result = check(tmp_path, monkeypatch,
                          '[ladok]\ncertificate = "old.pem"\n' + COURSE_TOML)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"ladok.certificate: the certificate is expired on " \
           f"{old.cert.not_valid_after:%Y-%m-%d}: order a new certificate" in result.output
