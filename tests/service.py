"""The service as people run it, for end-to-end tests: a configuration file, a server on
loopback (`web` or `serve`), Canvas Live Events posted to its webhook, `canvas-ladok` commands,
the export files they leave, and pages read with an administrator's sign-in."""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
from pathlib import Path

import requests
from openpyxl import load_workbook

from tests.conftest import ADMIN_TOKEN, SECRET_KEY, WEBHOOK_TOKEN
from tests.web_server import WebServer

COMMAND_TIMEOUT = 120


class Service:
    """One installation: its configuration, database and export folder (from `env`)."""

    def __init__(self, env: dict[str, str], tmp_path: Path, canvas_url: str) -> None:
        self.env = {**env, "CANVAS_LADOK_CANVAS_TOKEN": "canvas-secret-token",
                    "CANVAS_LADOK_ADMIN_TOKENS": ADMIN_TOKEN,
                    "CANVAS_LADOK_SECRET_KEY": SECRET_KEY}
        self.config = Path(env["CANVAS_LADOK_CONFIG"])
        self.exports = Path(env["CANVAS_LADOK_EXPORT_DIR"])
        self.tmp_path, self.canvas_url = tmp_path, canvas_url
        self.servers: list[WebServer] = []

    def configure(self, courses_toml: str) -> None:
        """Write the configuration file: Canvas at the fake's URL, and `courses_toml`."""
        self.config.write_text(f'[canvas]\nurl = "{self.canvas_url}"\n{courses_toml}')

    def start(self, command: str = "web") -> WebServer:
        """`canvas-ladok web` (or `serve`) on loopback, ready to answer."""
        server = WebServer(self.env, self.tmp_path / f"{command}.log", command)
        self.servers.append(server)
        server.wait_ready()
        return server

    def stop(self) -> None:
        for server in self.servers:
            server.kill()

    @staticmethod
    def post(server: WebServer, events: list[dict]) -> None:
        """Deliver each event to the webhook as Canvas would (each answered 202)."""
        with requests.Session() as session:
            for event in events:
                answer = session.post(f"{server.url}/webhooks/canvas",
                                      params={"token": WEBHOOK_TOKEN}, json=event, timeout=30)
                assert answer.status_code == 202, answer.text

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        """Run `canvas-ladok ARGS` and return what it did (it must succeed)."""
        done = subprocess.run([sys.executable, "-m", "plugin", *args], env=self.env,
                              capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    def runs(self) -> list[int]:
        """The export runs that wrote files, oldest first."""
        if not self.exports.is_dir():
            return []
        return sorted(int(p.name) for p in self.exports.iterdir() if p.name.isdigit())

    def tsv(self, run: int, name: str = "ladok-report.tsv") -> set[tuple[str, ...]]:
        """A run's .tsv lines (none when it wrote no such file)."""
        path = self.exports / str(run) / name
        if not path.exists():
            return set()
        return {tuple(line.split("\t")) for line in path.read_text("utf-8").splitlines()}

    def csv_rows(self, run: int) -> list[dict[str, str]]:
        """A run's rapporteringsunderlag.csv, one dict per line."""
        text = (self.exports / str(run) / "rapporteringsunderlag.csv").read_text("utf-8-sig")
        return list(csv.DictReader(io.StringIO(text), delimiter=";"))

    def xlsx_rows(self, run: int) -> list[tuple]:
        """A run's rapporteringsunderlag.xlsx, header row first."""
        book = load_workbook(self.exports / str(run) / "rapporteringsunderlag.xlsx")
        return [tuple(row) for row in book.active.iter_rows(values_only=True)]

    @staticmethod
    def signed_in(server: WebServer) -> requests.Session:
        """A browser-like session signed in with the administrator token."""
        session = requests.Session()
        form = session.get(f"{server.url}/login", timeout=30).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        answer = session.post(f"{server.url}/login", timeout=30, data={
            "csrf_token": token, "token": ADMIN_TOKEN, "next": "/"})
        assert answer.status_code == 200, answer.text
        return session

    @staticmethod
    def api(server: WebServer, path: str) -> dict:
        """GET an admin API path as JSON."""
        answer = requests.get(f"{server.url}{path}", timeout=60,
                              headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        assert answer.status_code == 200, answer.text
        return answer.json()
