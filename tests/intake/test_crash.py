"""kill -9 of the whole web server mid-load loses no acknowledged event (a 202 means
committed, surviving the service being killed the next instant)."""

from __future__ import annotations

import copy
import json
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from sqlalchemy import select

from plugin.intake.apply import apply_pending
from plugin.store.db import Store
from plugin.store.models import Event, Submission
from tests.conftest import WEBHOOK_TOKEN, load_fixture

pytestmark = pytest.mark.slow

HOME_SHARD = 2107 * 10**13
SENDERS = 6
EVENTS_PER_SENDER = 40
KILL_AFTER_ACKS = 100  # kill once this many events were acknowledged...
KILL_AFTER_SECONDS = 4.0  # ...or after this long under load, whichever comes first
def crash_event(sender: int, n: int) -> dict[str, Any]:
    """A distinct grade event: its own student, so each event sets one submission."""
    event = copy.deepcopy(load_fixture("grade_change"))
    user = 100_000 + sender * 1_000 + n
    event["metadata"]["event_time"] = f"2025-10-01T10:{n // 60:02d}:{n % 60:02d}Z"
    event["body"].update(student_id=str(HOME_SHARD + user), user_id=str(HOME_SHARD + user),
                         submission_id=str(HOME_SHARD + 500_000 + user),
                         grade="G" if n % 3 else "U", score=n % 10)
    return event


def post(session: requests.Session, url: str, event: dict[str, Any]) -> requests.Response:
    """POST one event with the URL token."""
    return session.post(f"{url}/webhooks/canvas", params={"token": WEBHOOK_TOKEN},
                        data=json.dumps(event), timeout=10,
                        headers={"Content-Type": "application/json"})


class Load:
    """Senders posting their events in a loop until stopped; records what was acknowledged."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acked: dict[tuple[int, int], dict[str, Any]] = {}
        self.refused: list[tuple[int, str]] = []
        self.threads = [threading.Thread(target=self._send, args=(s,)) for s in range(SENDERS)]

    def _send(self, sender: int) -> None:
        session = requests.Session()
        for n in range(EVENTS_PER_SENDER):
            if self.stop.is_set():
                return
            event = crash_event(sender, n)
            try:
                response = post(session, self.url, event)
            except requests.RequestException:
                continue  # the server is gone: unacknowledged, may or may not be stored
            with self.lock:
                if 200 <= response.status_code < 300:
                    self.acked[(sender, n)] = event
                else:
                    self.refused.append((response.status_code, response.text[:200]))

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def acknowledged(self) -> int:
        with self.lock:
            return len(self.acked)

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)


def redeliver(url: str, sender: int) -> list[tuple[int, Any]]:
    """Post all of one sender's events again; (status code, JSON answer) of each."""
    session = requests.Session()
    answers = []
    for n in range(EVENTS_PER_SENDER):
        response = post(session, url, crash_event(sender, n))
        answers.append((response.status_code, response.json()))
    return answers


def stored_events(database_url: str) -> tuple[dict[int, int], dict[int, str | None]]:
    """Per student: how many events are stored, and the grade of their submission once the
    stored events are applied (as the scheduler process does)."""
    store = Store(database_url)
    try:
        apply_pending(store)
        with store.read() as session:
            counts: dict[int, int] = {}
            for user_id in session.scalars(select(Event.user_id)):
                counts[user_id] = counts.get(user_id, 0) + 1
            grades = {row.user_id: row.grade for row in session.scalars(select(Submission))}
    finally:
        store.dispose()
    return counts, grades


def test_every_acknowledged_event_survives_kill_9_of_the_server(
    start_server, database_url: str,
) -> None:
    server = start_server()
    load = Load(server.url)
    load.start()
    deadline = time.monotonic() + KILL_AFTER_SECONDS
    while load.acknowledged() < KILL_AFTER_ACKS and time.monotonic() < deadline:
        time.sleep(0.01)
    server.kill()  # mid-load: senders still have requests in flight
    load.finish()
    assert load.acked, f"no event acknowledged before the kill:\n{server.tail()}"
    assert len(load.acked) < SENDERS * EVENTS_PER_SENDER, "the kill came after the load"
    assert not load.refused, load.refused[:5]

    if database_url.startswith("sqlite"):
        path = database_url.split("///", 1)[1]
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)

    restarted = start_server()
    counts, grades = stored_events(database_url)
    for (sender, n), event in load.acked.items():
        user = 100_000 + sender * 1_000 + n
        assert counts.get(user) == 1, f"acknowledged event of student {user} not stored once"
        assert grades.get(user) == event["body"]["grade"], f"submission of {user} not applied"

    # Canvas redelivers what got no 2xx: afterwards every event is stored exactly once, and
    # what was acknowledged before the crash is recognised as a duplicate.
    with ThreadPoolExecutor(SENDERS) as pool:
        answers = list(pool.map(lambda sender: redeliver(restarted.url, sender), range(SENDERS)))
    for sender, statuses in enumerate(answers):
        for n, (code, body) in enumerate(statuses):
            assert code == 202, body
            if (sender, n) in load.acked:
                assert body == {"status": "duplicate"}
    counts, grades = stored_events(database_url)
    assert len(counts) == SENDERS * EVENTS_PER_SENDER
    assert set(counts.values()) == {1}
