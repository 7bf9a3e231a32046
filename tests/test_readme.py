"""The README's commands as a newcomer runs them: in a fresh folder holding the shipped
configuration, each command as written, except that the server listens on a free port (and
the commands that talk to it are told that port) instead of 8000."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.web_server import WebServer

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SH = re.findall(r"^```sh\n(.*?)^```$", README, re.M | re.S)
DOCUMENTED_URL = "http://127.0.0.1:8000"
CLI = ".venv/bin/canvas-ladok"


def block_with(text: str) -> str:
    return next(block for block in SH if text in block)


def plain_env() -> dict[str, str]:
    """A terminal's environment, without any CANVAS_LADOK_* variable."""
    return {k: v for k, v in os.environ.items() if not k.startswith("CANVAS_LADOK_")}


@pytest.fixture
def checkout(tmp_path) -> Path:
    """A folder laid out as the repository root is: config/ with the shipped configuration."""
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "canvas-ladok.toml").write_text(
        (ROOT / "config" / "canvas-ladok.toml").read_text())
    return tmp_path


def start(env: dict[str, str], checkout: Path) -> WebServer:
    server = WebServer(env, checkout / "server.log", "serve", cwd=checkout)
    server.wait_ready()
    return server


def program(words: list[str], server: WebServer) -> list[str]:
    """A documented command line for this machine: the venv's programs as this Python."""
    if words[0] == CLI:
        return [sys.executable, "-m", "plugin", *words[1:]]
    if words[0] == ".venv/bin/python":
        extra = ["--url", server.url] if "plugin.demo.simulate" in words else []
        return [sys.executable, *words[1:], *extra]
    return words


def test_the_first_command_then_the_simulated_term_and_its_export(checkout):
    serve = shlex.split(block_with(f"{CLI} serve").split("&&")[-1])
    assignments = dict(w.split("=", 1) for w in serve[:serve.index(f"{CLI}")])
    assert serve[serve.index(CLI):] == [CLI, "serve"]
    server = start({**plain_env(), **assignments}, checkout)
    try:
        outputs = []
        for line in block_with("plugin.demo.simulate").splitlines():
            words = shlex.split(line, comments=True)
            if words[0] == "cat":
                outputs.append((checkout / words[1]).read_text(encoding="utf-8"))
                continue
            result = subprocess.run(program(words, server), cwd=checkout, env=plain_env(),
                                    capture_output=True, text=True, timeout=300)
            assert result.returncode == 0, f"{line}\n{result.stdout}\n{result.stderr}"
            outputs.append(result.stdout)
        posted, exported, report = outputs
        assert "'accepted'" in posted
        assert re.search(r"new results\s+[1-9]", exported)
        lines = report.splitlines()
        assert lines and all(line.startswith("DV1531\t") for line in lines)

        curl = re.search(r"`curl -H '([^:]+): ([^']+)' (\S+)`", README)
        assert curl, "the README's curl of a student"
        answer = requests.get(curl.group(3).replace(DOCUMENTED_URL, server.url),
                             headers={curl.group(1): curl.group(2)}, timeout=10)
        assert answer.status_code == 200 and answer.json()["course_grade"]["due"]
    finally:
        server.kill()


def test_the_pages_with_the_demo_course(checkout):
    block = block_with(f"{CLI} demo")
    before_serve = block.split(f"{CLI} serve")[0].rsplit("\n", 1)[0]
    script = (before_serve.replace(CLI, f"{shlex.quote(sys.executable)} -m plugin")
              + "\nenv -0 > environment\n")  # what the second terminal has set
    result = subprocess.run(["bash", "-ec", script], cwd=checkout, env=plain_env(),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "demo course 565 filled" in result.stdout
    env = dict(item.split("=", 1) for item in
               (checkout / "environment").read_text().split("\0") if "=" in item)
    server = start(env, checkout)
    try:
        browser = requests.Session()
        form = browser.get(f"{server.url}/", timeout=10)
        assert form.status_code == 200 and "Sign in" in form.text  # not the 503 of no key
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
        admin = re.search(r"sign in with (\S+)", block).group(1)
        courses = browser.post(f"{server.url}/login", data={
            "csrf_token": token, "token": admin, "next": "/"}, timeout=10)
        assert courses.status_code == 200 and "DV1531" in courses.text
        course = browser.get(f"{server.url}/courses/565", timeout=30)
        assert course.status_code == 200 and "Nils Utan-Nummer" in course.text
    finally:
        server.kill()
