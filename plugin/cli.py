"""The `canvas-ladok` command line."""

from __future__ import annotations

import subprocess
import sys

import click

from .settings import ConfigError, Settings, load_settings


def load_or_exit() -> Settings:
    """The settings, or every config problem on stderr and exit status 1."""
    try:
        return load_settings()
    except ConfigError as exc:
        for problem in exc.problems:
            click.echo(f"config error: {problem}", err=True)
        sys.exit(1)


def open_store(settings: Settings, migrate: bool = True):
    """The store for `settings`, migrated to the newest schema."""
    from .db import Store
    from .migrate import upgrade

    store = Store(settings.database_url, settings.sqlite_synchronous)
    if migrate:
        upgrade(store)
    return store


@click.group()
def main() -> None:
    """canvas-ladok: Canvas course results into Ladok."""


@main.command("check-config")
def check_config() -> None:
    """Validate the configuration file and environment; exit 1 on any problem."""
    settings = load_or_exit()
    click.echo(f"{settings.config_path}: ok ({len(settings.courses)} course(s))")


@main.group()
def db() -> None:
    """Database commands."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the schema migrations."""
    settings = load_or_exit()
    open_store(settings).dispose()
    click.echo("database schema is up to date")


def _web(bind: str) -> None:
    from . import create_app, server

    settings = load_or_exit()
    open_store(settings).dispose()
    server.run(lambda: create_app({"SETTINGS": settings}), bind)


@main.command()
@click.option("--bind", default="127.0.0.1:8000", show_default=True, help="HOST:PORT")
def web(bind: str) -> None:
    """Run the web server only."""
    _web(bind)


@main.command()
@click.option("--bind", default="127.0.0.1:8000", show_default=True, help="HOST:PORT")
def serve(bind: str) -> None:
    """Run the web server and the scheduler (embedded SQLite by default)."""
    load_or_exit()
    open_store(load_or_exit()).dispose()
    scheduler = subprocess.Popen([sys.executable, "-m", "plugin", "scheduler"])
    try:
        _web(bind)
    finally:
        scheduler.terminate()
        try:
            scheduler.wait(timeout=20)
        except subprocess.TimeoutExpired:
            scheduler.kill()


@main.command()
def scheduler() -> None:
    """Run the scheduler process: queued jobs and the nightly export."""
    from .scheduler import run_scheduler

    settings = load_or_exit()
    run_scheduler(settings, open_store(settings))
