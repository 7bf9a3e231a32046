"""benchmarks/ingest.py runs with either load generator, says which, and loses no event."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GENERATORS = ["python", pytest.param("wrk", marks=pytest.mark.skipif(
    shutil.which("wrk") is None, reason="wrk is not installed"))]


@pytest.mark.slow
@pytest.mark.parametrize("tool", GENERATORS)
def test_one_short_round_reports_both_servers_and_every_accepted_event_stored(
    tool: str,
) -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "ingest.py"), "--rounds", "1",
         "--seconds", "1", "--tool", tool],
        capture_output=True, text=True, timeout=300, cwd=ROOT, check=False,
    )
    out = run.stdout
    assert run.returncode == 0, run.stderr
    assert f"load generator: {tool}," in out.splitlines()[0]
    assert re.search(r"^no-op +\d+ events/s .* non-202 0 +errors 0", out, re.M)
    assert re.search(r"^real +\d+ events/s .* non-202 0 +errors 0", out, re.M)
    assert re.search(r"median \d+\.\d\d \(target >= 0\.5; load generator: " + tool, out)
    verdict = re.search(r"^real server: (\d+) events answered 202 accepted .*, 0 other 202s, "
                        r"(\d+) stored: none lost", out, re.M)
    assert verdict, out
    answered, stored = int(verdict.group(1)), int(verdict.group(2))
    assert answered > 0
    if tool == "python":  # it reads every answer before it stops
        assert stored == answered
