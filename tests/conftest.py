"""Shared fixtures: settings on a real database (SQLite or PostgreSQL), app, client, runner."""

from __future__ import annotations

import json
import multiprocessing.process
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
import responses
from sqlalchemy import create_engine, text

from plugin import create_app
from plugin.intake.apply import apply_pending
from plugin.settings import load_settings
from plugin.store.db import Store, normalise_url
from plugin.store.migrate import upgrade
from tests.helpers import course_toml
from tests.web_server import WebServer

POSTGRES_ENV = "CANVAS_LADOK_TEST_POSTGRES_URL"
# Canvas's documentation payloads, copied verbatim (see tests/fixtures/README.md).
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "canvas"

WEBHOOK_TOKEN = "test-webhook-token"
WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
ADMIN_TOKEN = "test-admin-token"
SECRET_KEY = "test-secret-key-for-signing-web-sessions"

COURSE_TOML = '[canvas]\nurl = "https://canvas.example.edu"\n' + course_toml(
    start="2019-09-01", extra='assignments = { "355" = "kmom01" }') + """
[[courses]]
canvas_id = 1279362
ladok_code = "DV1600"
start = 2019-09-01

  [[courses.modules]]
  code = "0001"
  name = "Tentamen"
  credits = 7.5
  scale = "AF"
  moments = ["kmom01"]
  grade_from = "kmom01"
  final = true
"""


def load_fixture(name: str) -> dict:
    """A Canvas documentation payload from tests/fixtures/canvas."""
    return json.loads((FIXTURES / f"{name}.example.json").read_text())


LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """No test touches the network: a request that neither `responses` answers nor goes to
    loopback fails the test at once (it is not retried as a network fault would be)."""
    send = requests.adapters.HTTPAdapter.send

    def loopback_only(adapter, request, *args, **kwargs):
        if urlsplit(request.url).hostname not in LOOPBACK:
            raise NetworkInTests(f"a test asked {request.url.split('?')[0]}")
        return send(adapter, request, *args, **kwargs)

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", loopback_only)


class NetworkInTests(RuntimeError):
    """A test reached for the network."""


def _postgres_schema_url(base: str):
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = create_engine(normalise_url(base), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}", admin, schema


@pytest.fixture(autouse=True)
def _processes_only_in_slow_tests(request, monkeypatch):
    """A test that starts a process (a server, a command, a browser) is marked slow, so that
    `-m "not slow"` stays a quick round."""
    if request.node.get_closest_marker("slow"):
        return

    def refuse(*_args, **_kwargs):
        pytest.fail("this test starts a process: mark it @pytest.mark.slow")

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)
    monkeypatch.setattr(multiprocessing.process.BaseProcess, "start", refuse)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    """A fresh, empty database: an SQLite file, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"{POSTGRES_ENV} not set: PostgreSQL tests not run")
    url, admin, schema = _postgres_schema_url(base)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def config_file(tmp_path):
    """The test configuration file (two courses)."""
    path = tmp_path / "canvas-ladok.toml"
    path.write_text(COURSE_TOML)
    return path


@pytest.fixture
def environ(database_url, tmp_path):
    """The environment the service reads its secrets and overrides from."""
    return {
        "CANVAS_LADOK_DATABASE_URL": database_url,
        "CANVAS_LADOK_EXPORT_DIR": str(tmp_path / "exports"),
        "CANVAS_LADOK_WEBHOOK_TOKEN": WEBHOOK_TOKEN,
        "CANVAS_LADOK_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "CANVAS_LADOK_ADMIN_TOKENS": f"other-token,{ADMIN_TOKEN}",
        "CANVAS_LADOK_CANVAS_TOKEN": "canvas-secret-token",
        "CANVAS_LADOK_SECRET_KEY": SECRET_KEY,
    }


@pytest.fixture
def settings(config_file, environ):
    """Validated settings for the test course file and database."""
    return load_settings(config_file, environ)


@pytest.fixture
def store(settings):
    """The migrated store."""
    store = Store(settings.database_url, settings.sqlite_synchronous)
    upgrade(store)
    yield store
    store.dispose()


@pytest.fixture
def app(settings, store):
    """The application on a migrated database."""
    app = create_app({"SETTINGS": settings, "TESTING": True})
    yield app
    app.extensions["canvas_ladok"].store.dispose()


@pytest.fixture
def client(app):
    """A test client."""
    return app.test_client()


@pytest.fixture
def runner(app, config_file, environ, monkeypatch):
    """A CLI runner whose environment points at the test configuration."""
    monkeypatch.setenv("CANVAS_LADOK_CONFIG", str(config_file))
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    return app.test_cli_runner()


def post_event(client, event: dict | bytes, token: str = WEBHOOK_TOKEN):
    """POST one event with the URL token."""
    data = event if isinstance(event, bytes) else json.dumps(event).encode()
    return client.post(f"/webhooks/canvas?token={token}", data=data,
                       content_type="application/json")


@pytest.fixture
def post_all(client):
    """Post events to the webhook (each must be answered 202), then apply them to the state
    as the scheduler process would."""

    def post(events: list[dict]) -> None:
        for event in events:
            assert post_event(client, event).status_code == 202
        apply_pending(client.application.extensions["canvas_ladok"].store)

    return post


@pytest.fixture
def rsps():
    """`responses` active for the test; every registered answer need not be used."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def sleeps() -> list[float]:
    """The waits the client asked for (no real sleeping)."""
    return []


@pytest.fixture
def server_env(database_url: str, tmp_path: Path) -> dict[str, str]:
    """The environment of a server on the test database, token authentication only."""
    config = tmp_path / "canvas-ladok.toml"
    config.write_text(COURSE_TOML)
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANVAS_LADOK_")}
    env.update({
        "CANVAS_LADOK_CONFIG": str(config),
        "CANVAS_LADOK_DATABASE_URL": database_url,
        "CANVAS_LADOK_EXPORT_DIR": str(tmp_path / "exports"),
        "CANVAS_LADOK_WEBHOOK_TOKEN": WEBHOOK_TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics),
    })
    return env


@pytest.fixture
def start_server(server_env: dict[str, str], tmp_path: Path) -> Iterator:
    """Start servers on the test database; any left running are killed at the end."""
    started: list[WebServer] = []

    def start(command: str = "web", module: str = "plugin") -> WebServer:
        server = WebServer(server_env, tmp_path / "server.log", command, module)
        started.append(server)
        server.wait_ready()
        return server

    yield start
    for server in started:
        server.kill()


def sign_in(client, scope: dict, who: str = "Test Person", lti: bool = False):
    """Give `client` a web session with `scope`, started as a sign-in starts one (an
    administrator's with the test's admin token)."""
    from flask import session as cookie

    from plugin.web.access import start_session

    token = ADMIN_TOKEN if scope.get("kind") == "admin" else None
    with client.application.test_request_context("/"):
        start_session(scope, who, lti=lti, token=token)
        values = dict(cookie)
    with client.session_transaction() as session:
        session.clear()
        session.permanent = True
        session.update(values)
    return client


def signed_in(client) -> dict | None:
    """The scope and who of `client`'s session as the server sees it, or None."""
    from plugin.clock import utcnow
    from plugin.web.session_records import find

    with client.session_transaction() as session:
        key = session.get("key")
    store = client.application.extensions["canvas_ladok"].store
    record = find(store, key, utcnow()) if key else None
    return None if record is None else {"scope": record.scope, "who": record.who}


@pytest.fixture
def admin_client(app):
    """A test client signed in as an administrator (all courses)."""
    return sign_in(app.test_client(), {"kind": "admin"}, "administrator")


@pytest.fixture
def course_client(app):
    """A test client whose session is scoped to the demo course 565 (a teacher from Canvas)."""
    return sign_in(app.test_client(), {"kind": "course", "course": 565}, "Teacher Tess")


@pytest.fixture
def canvas_users_unknown(rsps):
    """Canvas knows none of the students asked about (a held-back student stays held back)."""
    import re

    rsps.add(responses.GET,
             re.compile(r"https://canvas\.example\.edu/api/v1/courses/\d+/search_users"),
             json=[])
    return rsps
