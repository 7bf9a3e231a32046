"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from plugin.store.db import Store
from plugin.store.migrate import upgrade
from plugin.store.models import Base


def test_migrations_match_the_models(store):
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        assert compare_metadata(context, Base.metadata) == []


def test_upgrade_twice_is_harmless(store):
    upgrade(store)
    tables = set(inspect(store.engine).get_table_names())
    assert {"events", "submissions", "ledger", "jobs", "export_runs"} <= tables


def test_sqlite_database_runs_in_wal_mode_with_the_configured_sync(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'wal.db'}", sqlite_synchronous="full")
    upgrade(store)
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    store.dispose()
