"""Configuration: defaults, overrides, and errors naming file, key and reason."""

from __future__ import annotations

import datetime as dt

import pytest

from plugin.cli import main
from plugin.settings import ConfigError, cron_trigger, load_settings
from tests.conftest import COURSE_TOML, SECRET_KEY


def write(tmp_path, text):
    path = tmp_path / "c.toml"
    path.write_text(text)
    return path


def problems(tmp_path, text, env=None):
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text), env or {})
    return info.value.problems


def test_defaults_apply_when_keys_absent(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = load_settings(write(tmp_path, COURSE_TOML), {})
    assert s.database_url == f"sqlite:///{tmp_path / 'instance' / 'canvas-ladok.db'}"
    assert s.export_schedule == "30 3 * * *" and s.timezone == "Europe/Stockholm"
    course = s.course(565)
    assert course.pass_grades == ("G", "complete", "pass") and course.final_grade_delay_days == 7
    assert course.grade_thresholds["FX"] == 51 and course.start == dt.date(2019, 9, 1)


def test_moments_named_differently_are_the_same_moment(tmp_path):
    s = load_settings(write(tmp_path, COURSE_TOML), {})
    course = s.course(565)
    assert course.assignments == {355: 1}
    assert course.moment_of_name("Kmom 1") == course.moment_of_name("kmom01") == 1


def test_relative_paths_in_file_resolve_against_its_folder(tmp_path, monkeypatch):
    monkeypatch.chdir("/")
    text = 'database_url = "sqlite:///data/x.db"\nexport_dir = "out"\n' + COURSE_TOML
    s = load_settings(write(tmp_path, text), {})
    assert s.database_url == f"sqlite:///{tmp_path / 'data' / 'x.db'}"
    assert s.export_dir == str(tmp_path / "out")


def test_environment_overrides_are_parsed_as_the_keys_type(tmp_path):
    env = {"CANVAS_LADOK_MAX_BODY_BYTES": "1000", "CANVAS_LADOK_CANVAS_URL": "https://c.example"}
    s = load_settings(write(tmp_path, COURSE_TOML), env)
    assert s.max_body_bytes == 1000 and s.canvas_url == "https://c.example"


def test_secrets_come_from_the_environment_only(tmp_path):
    env = {"CANVAS_LADOK_ADMIN_TOKENS": "a, b ,", "CANVAS_LADOK_CANVAS_TOKEN": "tok"}
    s = load_settings(write(tmp_path, COURSE_TOML), env)
    assert s.admin_tokens == ("a", "b") and s.canvas_token == "tok"
    assert "tok" not in repr(s)
    assert any("unknown key" in p for p in problems(tmp_path, 'canvas_token = "x"\n'))


def test_unknown_environment_variable_is_an_error(tmp_path):
    found = problems(tmp_path, COURSE_TOML, {"CANVAS_LADOK_DATABSE_URL": "x"})
    expected = (f"{tmp_path / 'c.toml'}: CANVAS_LADOK_DATABSE_URL: unknown environment variable;"
                " did you mean CANVAS_LADOK_DATABASE_URL?")
    assert found == [expected]


@pytest.mark.parametrize("text, key, reason", [
    ("x = [", "(file)", "not valid TOML"),
    ("colour = 1", "colour", "unknown key"),
    ("max_body_bytes = 'big'", "max_body_bytes", "must be an integer, got 'big'"),
    ("timezone = 'Mars/Base'", "timezone", "unknown time zone"),
    ("export_schedule = '30 3 * *'", "export_schedule", "5 fields"),
    ("sqlite_synchronous = 'off'", "sqlite_synchronous", "must be"),
    ("[[courses]]\nladok_code = 'X'\nstart = 2025-01-01", "courses[0].canvas_id", "required"),
    ("[[courses]]\ncanvas_id = 1\nladok_code = 'X'\nstart = 2025-01-01\n"
     "[[courses.modules]]\ncode = 'a'\ncredits = 1\nscale = 'AF'\nmoments = ['kmom01']",
     "courses[0].modules[0].grade_from", "required on an AF module"),
    ("[[courses]]\ncanvas_id = 1\nladok_code = 'X'\nstart = 2025-01-01\n"
     "[[courses.modules]]\ncode = 'a'\ncredits = 1\nscale = 'GU'\nmoments = ['kmom01']\n"
     "[[courses.modules]]\ncode = 'b'\ncredits = 1\nscale = 'GU'\nmoments = ['kmom1']",
     "courses[0].modules", "'kmom01' belongs to both 'a' and 'b'"),
    ("[[courses]]\ncanvas_id = 1\nladok_code = 'X'\nstart = 2025-01-01\n"
     "moment_pattern = 'kmom'", "courses[0].moment_pattern", "one capturing group"),
    ("[[courses]]\ncanvas_id = 1\nladok_code = 'X'\nstart = 2025-01-01\n"
     "[[courses.modules]]\ncode = 'a'\ncredits = 1\nscale = 'AF'\nmoments = ['kmom01']\n"
     "grade_from = 'kmom02'\nfinal = true", "courses[0].modules[0].grade_from",
     "not one of the module's moments"),
])
def test_bad_config_names_file_key_and_reason(tmp_path, text, key, reason):
    found = problems(tmp_path, text)
    prefix = f"{tmp_path / 'c.toml'}: {key}: "
    assert any(p.startswith(prefix) and reason in p for p in found), found


def test_cron_sunday_is_zero_and_seven():
    for expr in ("0 12 * * 0", "0 12 * * 7"):
        trigger = cron_trigger(expr, "Europe/Stockholm")
        start = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)  # a Monday
        assert trigger.get_next_fire_time(None, start).weekday() == 6


def test_check_config_exits_1_naming_the_problem(tmp_path, monkeypatch):
    from click.testing import CliRunner

    path = write(tmp_path, "colour = 1\n")
    monkeypatch.setenv("CANVAS_LADOK_CONFIG", str(path))
    result = CliRunner().invoke(main, ["check-config"])
    assert result.exit_code == 1
    assert f"{path}: colour: unknown key" in result.output


def test_check_config_accepts_the_shipped_config(monkeypatch):
    from pathlib import Path

    from click.testing import CliRunner

    monkeypatch.setenv("CANVAS_LADOK_CONFIG",
                       str(Path(__file__).parents[2] / "config" / "canvas-ladok.toml"))
    result = CliRunner().invoke(main, ["check-config"])
    assert result.exit_code == 0, result.output


@pytest.mark.slow  # check-config in a process of its own
def test_the_shipped_configs_commented_places_are_the_real_defaults(tmp_path):
    import os
    import re
    import subprocess
    import sys
    from pathlib import Path

    shipped = Path(__file__).parents[2] / "config" / "canvas-ladok.toml"
    (tmp_path / "config").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANVAS_LADOK_")}

    def places(text: str) -> list[str]:
        (tmp_path / "config" / "canvas-ladok.toml").write_text(text)
        result = subprocess.run([sys.executable, "-m", "plugin", "check-config"], cwd=tmp_path,
                                env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout.splitlines()[1:]

    text = shipped.read_text()
    uncommented, count = re.subn(r"^# ((database_url|export_dir) = .*)$", r"\1", text,
                                 flags=re.M)
    assert count == 2
    assert places(text) == places(uncommented) == [
        f"  database: sqlite:///{tmp_path / 'instance' / 'canvas-ladok.db'}",
        f"  exports:  {tmp_path / 'instance' / 'exports'}"]
    assert not (tmp_path / "instance").exists()  # checking made nothing


LTI_PEM_BITS = 2048


def rsa_pem(bits: int = LTI_PEM_BITS) -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def test_service_sections_default_to_off(tmp_path):
    s = load_settings(write(tmp_path, COURSE_TOML), {})
    assert not s.lti.enabled and not s.mail.enabled and s.public_url == ""
    assert s.trusted_proxies == 0 and s.course(565).notify == ()
    assert s.lti.issuer == "https://canvas.instructure.com"


def test_mail_lti_and_public_url_are_read_and_checked(tmp_path):
    text = ('public_url = "https://ladok.example.edu/"\ntrusted_proxies = 1\n'
            '[mail]\nsmtp_url = "smtp+starttls://robot@mail.example.edu"\n'
            'sender = "noreply@example.edu"\nadmins = ["ops@example.edu"]\n'
            '[lti]\nclient_id = "10000000000042"\ndeployment_ids = ["1:abc"]\n'
            + COURSE_TOML.replace('ladok_code = "DV1531"',
                                  'ladok_code = "DV1531"\nnotify = ["examiner@example.edu"]'))
    env = {"CANVAS_LADOK_LTI_PRIVATE_KEY": rsa_pem(), "CANVAS_LADOK_SECRET_KEY": SECRET_KEY,
           "CANVAS_LADOK_SMTP_PASSWORD": "pw"}
    s = load_settings(write(tmp_path, text), env)
    assert s.public_url == "https://ladok.example.edu" and s.trusted_proxies == 1
    server = s.mail.server
    assert (server.scheme, server.host, server.port, server.username) == (
        "smtp+starttls", "mail.example.edu", 587, "robot")
    assert s.mail.admins == ("ops@example.edu",) and s.smtp_password == "pw"
    assert s.lti.enabled and s.lti.deployment_ids == ("1:abc",)
    assert s.course(565).notify == ("examiner@example.edu",)
    assert "pw" not in repr(s) and "PRIVATE" not in repr(s)


@pytest.mark.parametrize("text, key", [
    ('[mail]\nsmtp_url = "http://mail.example.edu"\nsender = "a@example.edu"\n', "mail.smtp_url"),
    ('[mail]\nsmtp_url = "smtp://u:secret@mail.example.edu"\nsender = "a@example.edu"\n',
     "mail.smtp_url"),
    ('[mail]\nsmtp_url = "smtp://mail.example.edu:99999"\nsender = "a@example.edu"\n',
     "mail.smtp_url"),
    ('[mail]\nsmtp_url = "smtp://mail.example.edu"\n', "mail.sender"),
    ('[mail]\nadmins = ["not an address"]\n', "mail.admins"),
    ('[mail]\nport = 25\n', "mail.port"),
    ('public_url = "ftp://x.example"\n', "public_url"),
    ('trusted_proxies = 99\n', "trusted_proxies"),
    ('[lti]\nkey_set_url = "nope"\n', "lti.key_set_url"),
    ('[lti]\nclient_id = "1"\ndeployment_ids = ["1:a"]\n', "CANVAS_LADOK_LTI_PRIVATE_KEY"),
])
def test_bad_service_settings_name_their_key(tmp_path, text, key):
    found = problems(tmp_path, text + COURSE_TOML)
    assert any(f": {key}: " in p for p in found), found


def test_smtp_password_never_appears_in_problems(tmp_path):
    text = '[mail]\nsmtp_url = "smtp://u:hunter2@mail.example.edu"\nsender = "a@example.edu"\n'
    assert not any("hunter2" in p for p in problems(tmp_path, text + COURSE_TOML))


def test_lti_private_key_must_be_rsa_pem(tmp_path):
    text = ('public_url = "https://t.example"\n[lti]\nclient_id = "1"\ndeployment_ids = ["d"]\n'
            + COURSE_TOML)
    env = {"CANVAS_LADOK_SECRET_KEY": SECRET_KEY,
           "CANVAS_LADOK_LTI_PRIVATE_KEY": "-----BEGIN nonsense"}
    assert any("CANVAS_LADOK_LTI_PRIVATE_KEY" in p for p in problems(tmp_path, text, env))


def test_course_notify_must_be_addresses(tmp_path):
    text = COURSE_TOML.replace('ladok_code = "DV1531"', 'ladok_code = "DV1531"\nnotify = ["x"]')
    assert any("courses[0].notify" in p for p in problems(tmp_path, text))
