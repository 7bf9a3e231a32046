"""A 202 and an ok /healthz mean the SQLite file at database_url holds the data."""

from __future__ import annotations

import os
import sqlite3

import pytest
from sqlalchemy import text

from plugin.demo.live_events import grade_event
from plugin.jobs import heartbeat
from plugin.store.db import sqlite_path
from tests.conftest import load_fixture, post_event

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _events(count: int) -> list[dict]:
    import datetime as dt

    when = dt.datetime(2025, 10, 1, tzinfo=dt.UTC)
    return [grade_event(565, 301, 2000 + n, "G", when) for n in range(count)]


def _remove_database(settings) -> str:
    path = sqlite_path(settings.database_url)
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    return path


@SQLITE_ONLY
def test_webhook_never_answers_202_into_a_deleted_database_file(client, store, settings):
    assert post_event(client, load_fixture("grade_change")).status_code == 202
    _remove_database(settings)
    answers = [post_event(client, event).status_code for event in _events(10)]
    assert answers == [503] * 10
    assert client.get("/healthz").status_code == 503


@SQLITE_ONLY
def test_a_replaced_database_file_is_refused_then_used(client, store, settings, tmp_path):
    heartbeat.beat(store)
    assert post_event(client, load_fixture("grade_change")).status_code == 202
    assert client.get("/healthz").status_code == 200
    path = sqlite_path(settings.database_url)
    source = sqlite3.connect(path)  # a consistent copy, as a restore would bring back
    source.execute("VACUUM INTO ?", (str(tmp_path / "copy.db"),))
    source.close()
    for suffix in ("-wal", "-shm"):  # a restore brings back the file alone
        os.remove(path + suffix)
    os.replace(tmp_path / "copy.db", path)
    first, second = _events(2)
    assert post_event(client, first).status_code == 503  # written into the old file
    assert client.get("/healthz").status_code == 503  # its connection had the old file
    assert post_event(client, second).status_code == 202
    assert client.get("/healthz").json == {"status": "ok"}
    reader = sqlite3.connect(path)
    stored = [user for (user,) in reader.execute("SELECT user_id FROM events ORDER BY id")]
    reader.close()
    assert stored == [48, 2001]  # the fixture's student, restored, and the second event


def test_healthz_is_unavailable_when_the_database_refuses_writes(client, store):
    heartbeat.beat(store)
    assert client.get("/healthz").json == {"status": "ok"}
    with store.write() as session:
        if store.sqlite:
            for action in ("INSERT", "UPDATE"):
                session.execute(text(f"CREATE TRIGGER refuse_{action} BEFORE {action} ON kv "
                                     "BEGIN SELECT RAISE(ABORT, 'read-only'); END"))
        else:
            session.execute(text("CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql "
                                 "AS $$ BEGIN RAISE EXCEPTION 'read-only'; END $$"))
            session.execute(text("CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON kv "
                                 "FOR EACH ROW EXECUTE FUNCTION refuse()"))
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json["status"] == "unavailable"
