"""Mail fixtures: a real SMTP server on loopback and a configuration that sends through it."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from plugin.store.db import Store
from tests.conftest import COURSE_TOML
from tests.smtp_server import (
    SMTP_PASSWORD,
    SMTP_USER,
    Recorder,
    self_signed_certificate,
    start_server,
)

PUBLIC_URL = "https://ladok.example.edu"
SENDER = "canvas-ladok@example.edu"
ADMINS = ["ops@example.edu", "it@example.edu"]
NOTIFY = ["examiner@example.edu", "studieadm@example.edu"]
SCHEMES = {"smtp": "smtp", "starttls": "smtp+starttls", "smtps": "smtps"}


@pytest.fixture
def smtp_cert(tmp_path, monkeypatch):
    """A self-signed certificate the client trusts (through SSL_CERT_FILE) for this test."""
    cert, key = self_signed_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    return cert, key


@pytest.fixture
def smtp_mode() -> str:
    """How the test server talks: STARTTLS with AUTH unless a test says otherwise."""
    return "starttls"


@pytest.fixture
def smtp(smtp_mode, smtp_cert):
    """The running SMTP server's recorder; `.port` is where it listens."""
    recorder = Recorder()
    controller = start_server(recorder, smtp_mode, smtp_cert)
    recorder.port = controller.port
    yield recorder
    controller.stop()


def mail_toml(port: int, mode: str = "starttls", notify: list[str] = NOTIFY) -> str:
    """The test courses with `notify` on course 565 and [mail] pointing at the test server."""
    user = f"{SMTP_USER}@" if mode != "smtp" else ""
    courses = COURSE_TOML.replace("canvas_id = 565\n", f"canvas_id = 565\nnotify = {notify!r}\n")
    return (f'public_url = "{PUBLIC_URL}"\n' + courses.replace("'", '"')
            + f'\n[mail]\nsmtp_url = "{SCHEMES[mode]}://{user}127.0.0.1:{port}"\n'
            f'sender = "{SENDER}"\nadmins = {ADMINS!r}\n'.replace("'", '"'))


@pytest.fixture
def config_file(tmp_path, smtp, smtp_mode):
    """The test configuration, sending mail through the test server."""
    path = tmp_path / "canvas-ladok.toml"
    path.write_text(mail_toml(smtp.port, smtp_mode))
    return path


@pytest.fixture
def environ(environ):
    """The test environment with the SMTP password."""
    return {**environ, "CANVAS_LADOK_SMTP_PASSWORD": SMTP_PASSWORD}


def send_from_stores(settings, count: int, send: Callable[[Store], object]) -> list[Store]:
    """`send` on `count` stores of their own (as many scheduler processes) at the same moment;
    returns the stores, still open, for the caller to dispose of."""
    stores = [Store(settings.database_url) for _ in range(count)]
    start = threading.Barrier(count)

    def sender(own: Store) -> None:
        start.wait()
        send(own)

    threads = [threading.Thread(target=sender, args=(own,)) for own in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return stores
