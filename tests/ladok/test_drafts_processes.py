"""Exactly once across both systems, with real processes: an export killed with SIGKILL between
Ladok's answer and the commit that records it, and two exports at once on PostgreSQL."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from plugin.export.run import run_export
from tests.conftest import post_event
from tests.export.test_export_concurrency import PROJECT, cli_env, finish, start_cli_export
from tests.helpers import term
from tests.ladok.drafts_helpers import held, ladok_rows, quick_clients
from tests.ladok.test_drafts import STUDENTS, ledger

pytestmark = pytest.mark.slow

# An export whose process is killed once Ladok has answered its writes, before the commit
# that records them.
KILLED_EXPORT = """
import os, signal, sys
from plugin.export.run import run_export
from plugin.ladok import drafts
from plugin.settings import load_settings
from plugin.store.db import Store

drafts.after_writes = lambda: os.kill(os.getpid(), signal.SIGKILL)
settings = load_settings(sys.argv[1], os.environ)
run_export(Store(settings.database_url), settings)
"""


def post_term(client) -> None:
    for event in term(STUDENTS):
        assert post_event(client, event).status_code == 202


def drafts_created(fake) -> int:
    """Lines sent to `skapa` (each draft created once means one line per result)."""
    return sum(len(call.body["Resultat"]) for call in fake.calls("POST", "/skapa$"))


def test_a_kill_after_ladok_answered_creates_nothing_twice(client, store, settings, environ,
                                                           config_file, fake_ladok, monkeypatch,
                                                           sleeps):
    post_term(client)
    killed = subprocess.run([sys.executable, "-c", KILLED_EXPORT, str(config_file)],
                            cwd=PROJECT, env=cli_env(config_file, environ), timeout=300,
                            capture_output=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]
    entries = ledger(store)
    assert entries and drafts_created(fake_ladok) == len(entries)  # Ladok has them
    assert all(r.version is None for r in ladok_rows(store).values())  # we did not record
    quick_clients(monkeypatch, sleeps)
    summary = run_export(store, settings)
    assert summary.ladok["recorded"] == len(entries) and summary.ladok["sent"] == 0
    assert drafts_created(fake_ladok) == len(entries)
    rows = ladok_rows(store)
    for user, code in entries:
        (result,) = held(fake_ladok, user)[code]
        assert rows[(user, code)].result_uid == result.uid
        assert rows[(user, code)].version == entries[(user, code)].version


@pytest.mark.parametrize("database_url", [pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
def test_two_exports_at_once_put_each_draft_in_once(client, store, settings, environ,
                                                     config_file, fake_ladok, monkeypatch,
                                                     sleeps):
    post_term(client)
    quick_clients(monkeypatch, sleeps, retries=0)
    fake_ladok.fail(503, times=1)  # the first run finds Ladok down: every line waits
    assert run_export(store, settings).ladok["error"]
    entries = ledger(store)
    assert drafts_created(fake_ladok) == 0
    fake_ladok.delay = 0.5  # each stage takes seconds: the two runs overlap
    env = cli_env(config_file, environ)
    both = [start_cli_export(env), start_cli_export(env)]
    outputs = [finish(process) for process in both]
    assert any(f"Ladok: {len(entries)} drafts sent" in out for out in outputs), outputs
    assert drafts_created(fake_ladok) == len(entries)
    rows = ladok_rows(store)
    for user, code in entries:
        (result,) = held(fake_ladok, user)[code]
        assert rows[(user, code)].result_uid == result.uid and rows[(user, code)].problem is None
