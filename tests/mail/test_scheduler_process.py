"""The scheduler process sends receipts and alerts: once, across a restart."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from plugin.export.run import run_export
from plugin.intake.apply import apply_pending
from plugin.serve.server import note_scheduler_restart
from tests.conftest import post_event
from tests.helpers import term

pytestmark = pytest.mark.slow
PROJECT = Path(__file__).resolve().parents[2]
WAIT_SECONDS = 60


def start_scheduler(config_file, environ, log: Path) -> subprocess.Popen:
    env = {**os.environ, **environ, "CANVAS_LADOK_CONFIG": str(config_file)}
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "plugin", "scheduler"], cwd=PROJECT,
                                env=env, stdout=out, stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen) -> None:
    """SIGTERM: the scheduler finishes the job it is running, then exits."""
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=WAIT_SECONDS)


def wait_for(condition, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"scheduler exit {process.poll()}:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)


def test_scheduler_process_sends_the_receipt_once_across_a_restart(
        client, store, settings, smtp, config_file, environ, tmp_path):
    for event in term(2):
        post_event(client, event)
    apply_pending(store)
    run_export(store, settings, now=dt.datetime(2026, 3, 1, 2, 30, tzinfo=dt.UTC))
    log = tmp_path / "scheduler.log"
    first = start_scheduler(config_file, environ, log)
    wait_for(lambda: len(smtp.received) == 1, first, log)
    stop(first)
    note_scheduler_restart(settings, 1)  # what `serve` records before starting it again
    second = start_scheduler(config_file, environ, log)
    wait_for(lambda: len(smtp.received) == 2, second, log)
    stop(second)
    receipt, alert = smtp.received
    assert "receipt for run" in str(receipt["Subject"])
    assert "scheduler process restarted" in str(alert["Subject"])
