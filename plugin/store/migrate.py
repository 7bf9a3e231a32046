"""Apply the Alembic schema migrations shipped in plugin/migrations."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from plugin.store.db import Store

MIGRATIONS = Path(__file__).parent.parent / "migrations"


def alembic_config(url: str) -> Config:
    """An Alembic configuration for the database at `url`."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(store: Store) -> None:
    """Bring the database schema to the newest revision."""
    cfg = alembic_config(store.url)
    with store.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")
