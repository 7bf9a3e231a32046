"""Run the web application under gunicorn with the project's settings."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from gunicorn.app.base import BaseApplication

from plugin.serve import gunicorn_conf
from plugin.settings import Settings


def gunicorn_options(bind: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The options from plugin/serve/gunicorn_conf.py, with `bind` and any overrides."""
    options = {k: v for k, v in vars(gunicorn_conf).items()
               if not k.startswith("_") and not callable(v)}
    options["bind"] = bind
    options.update(overrides or {})
    return options


class GunicornServer(BaseApplication):
    """gunicorn running an application factory in each worker."""

    def __init__(self, factory: Callable[[], Any], options: dict[str, Any]):
        self.factory = factory
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings and value is not None:
                self.cfg.set(key, value)

    def load(self):
        return self.factory()


def served_app(settings: Settings):
    """The application a web worker serves: staff pages go to its render process."""
    from plugin import create_app
    from plugin.serve.page_lane import with_page_lane

    factory = partial(create_app, {"SETTINGS": settings})
    return with_page_lane(factory(), factory)


def prepare_metrics_dir() -> str | None:
    """A fresh folder for the workers' shared Prometheus counters, unless one is configured
    (PROMETHEUS_MULTIPROC_DIR): the new folder, or None."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return None
    path = tempfile.mkdtemp(prefix="canvas-ladok-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    return path


def note_scheduler_restart(settings: Settings, returncode: int | None) -> None:
    """Record the alert for a scheduler process that exited and is being started again."""
    from plugin.mail import alerts
    from plugin.store.db import Store

    store = Store(settings.database_url, settings.sqlite_synchronous)
    try:
        alerts.note(store, settings, "scheduler_restarted",
                    f"the scheduler process exited with status {returncode}; starting it again")
    finally:
        store.dispose()


def run(factory: Callable[[], Any], bind: str,
        on_stop: Iterable[Callable[[], None]] = ()) -> None:
    """Serve until stopped; then, in the server process only, run `on_stop` in order."""
    created = prepare_metrics_dir()
    server_pid = os.getpid()
    try:
        GunicornServer(factory, gunicorn_options(bind)).run()
    finally:
        # gunicorn forks its workers inside run(), so a worker leaving unwinds through here
        # too: it must not stop the scheduler or remove the metrics of the server it leaves.
        if os.getpid() == server_pid:
            for stop in on_stop:
                stop()
            if created:
                shutil.rmtree(created, ignore_errors=True)
