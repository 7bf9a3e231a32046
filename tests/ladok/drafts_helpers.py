"""Shared by the drafts tests: a configuration in "drafts" mode and looks into both systems."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from plugin.ladok import drafts
from plugin.ladok.client import LadokClient
from plugin.settings.certificate import load_client_certificate
from plugin.store.models import LadokDraft, LedgerEntry
from tests.fake_ladok import FakeLadok
from tests.helpers import course_toml
from tests.ladok.conftest import LAROSATE_ID

STUDENTS = 12  # Canvas users 1001-1012, identities 19900101-1001…, each registered in Ladok
FIRST_USER = 1001
MAIL = ('\n[mail]\nsmtp_url = "smtp://127.0.0.1:9"\nsender = "canvas-ladok@example.edu"\n'
        'admins = ["ops@example.edu"]\n')


def drafts_config(fake: FakeLadok, rounds: list[str], *, mode: str = "drafts",
                  certificate: Path | None = None, delay: int = 7) -> str:
    """The test course in `mode`, reporting on `rounds`, with admins to alert."""
    quoted = ", ".join(f'"{r}"' for r in rounds)
    return (f'[ladok]\nurl = "{fake.url}"\ncertificate = "{certificate or fake.client_pem}"\n'
            f'ca_file = "{fake.ca_file}"\nmode = "{mode}"\nlarosate_id = {LAROSATE_ID}\n'
            + course_toml(extra=f"ladok_rounds = [{quoted}]\nfinal_grade_delay_days = {delay}\n"
                          'notify = ["examiner@example.edu"]')
            + MAIL)


def quick_clients(monkeypatch, sleeps: list, retries: int = 4, timeout: float = 3.0,
                  certificate: Path | None = None) -> None:
    """The stage's clients record their waits instead of sleeping, and give up sooner
    (`certificate`: present another client certificate than the configured one)."""

    def make(settings) -> LadokClient:
        identity = load_client_certificate(certificate or settings.ladok.certificate)
        return LadokClient(settings.ladok.url, identity, ca_file=settings.ladok.ca_file,
                           larosate_id=settings.ladok.larosate_id, sleep=sleeps.append,
                           retries=retries, timeout=(timeout, timeout))

    monkeypatch.setattr(drafts, "open_client", make)


def ledger(store) -> dict[tuple[int, str], LedgerEntry]:
    """The latest ledger version of each (user, component)."""
    with store.read() as session:
        rows = session.scalars(select(LedgerEntry).order_by(LedgerEntry.version))
        return {(r.user_id, r.component_code): r for r in rows}


def ladok_rows(store) -> dict[tuple[int, str], LadokDraft]:
    """(user id, component code) -> what the store records of Ladok."""
    with store.read() as session:
        return {(r.user_id, r.component_code): r for r in session.scalars(select(LadokDraft))}


def held(fake: FakeLadok, user_id: int) -> dict[str, list]:
    """Module code (or course code) -> the results the fake holds for Canvas user `user_id`
    (identity 19900101-<user id>)."""
    out: dict[str, list] = {}
    with fake.lock:
        for sr in fake.data.study_results.values():
            if sr.student.personnummer != f"19900101{user_id:04d}":
                continue
            codes = {m.uid: m.code for m in sr.round.modules}
            codes[sr.round.instance_uid] = sr.round.course_code
            for result in sr.results:
                out.setdefault(codes[result.instance_uid], []).append(result)
    return out


def grade_code(fake: FakeLadok, result) -> str:
    return next(g["Kod"] for g in fake.data.scales[result.scale_id]["Betygsgrad"]
                if g["ID"] == result.grade_id)
