"""Files with personal data are owner-only: the SQLite database, its WAL, the exports."""

from __future__ import annotations

import datetime as dt
import os
import stat

import pytest
from sqlalchemy import text

from plugin.export.publish import run_folder
from plugin.export.run import run_export
from plugin.intake.apply import apply_pending
from plugin.store.db import Store, sqlite_path
from plugin.store.migrate import upgrade
from tests.conftest import post_event
from tests.helpers import term

LATER = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(params=[0o022, 0o000])
def umask(request):
    """The process umask for the test (restored after)."""
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_database_wal_and_shm_are_owner_only(umask, settings, tmp_path):
    store = Store(settings.database_url)
    upgrade(store)
    path = sqlite_path(settings.database_url)
    with store.write() as session:  # keeps the WAL and shared memory files in place
        session.execute(text("CREATE TABLE t (x)"))
    found = {suffix: mode(path + suffix) for suffix in ("", "-wal", "-shm")}
    store.dispose()
    assert found == {"": 0o600, "-wal": 0o600, "-shm": 0o600}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_existing_readable_database_is_made_owner_only(umask, settings):
    path = sqlite_path(settings.database_url)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb"):
        pass
    os.chmod(path, 0o644)
    Store(settings.database_url).dispose()
    assert mode(path) == 0o600


def test_export_folders_and_files_are_owner_only(umask, client, store, settings):
    for event in term(2):
        assert post_event(client, event).status_code == 202
    apply_pending(store)
    run = run_export(store, settings, now=LATER)
    folder = run_folder(settings, run.run_id)
    assert mode(settings.export_dir) == 0o700 and mode(folder) == 0o700
    assert {name: mode(folder / name) for name in os.listdir(folder)} == {
        name: 0o600 for name in run.files}
