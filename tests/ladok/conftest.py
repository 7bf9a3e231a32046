"""Ladok fixtures: the fake Ladok on loopback with the test course's round, and clients of it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from plugin.ladok.client import LadokClient
from plugin.settings.certificate import load_client_certificate
from tests.fake_ladok import FakeLadok
from tests.fake_ladok_data import Round
from tests.helpers import course_toml

LAROSATE_ID = 99  # the fake's lärosäte
MODULES = [("2205", "GU"), ("2215", "GU"), ("2225", "AF")]  # tests/fixtures/course-modules.toml


@pytest.fixture
def fake_ladok(tmp_path):
    """A running fake Ladok; its CA, client and stranger certificates are in tmp_path/ladok."""
    with FakeLadok(tmp_path / "ladok") as fake:
        yield fake


@pytest.fixture
def ladok_round(fake_ladok) -> Round:
    """The test course's round in Ladok (DV1531, modules 2205, 2215 and 2225)."""
    return fake_ladok.data.add_round("DV1531", dt.date(2025, 9, 1), MODULES)


@pytest.fixture
def make_client(fake_ladok, sleeps):
    """Clients of the fake Ladok (no real sleeping between retries); closed at the end."""
    made: list[LadokClient] = []

    def make(certificate: Path | None = None, **kwargs) -> LadokClient:
        kwargs.setdefault("ca_file", str(fake_ladok.ca_file))
        kwargs.setdefault("larosate_id", LAROSATE_ID)
        kwargs.setdefault("timeout", (5.0, 5.0))
        kwargs.setdefault("sleep", sleeps.append)
        identity = load_client_certificate(certificate or fake_ladok.client_pem)
        client = LadokClient(fake_ladok.url, identity, **kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def ladok(make_client) -> LadokClient:
    """A client of the fake Ladok with the integration certificate."""
    return make_client()


def ladok_config(fake: FakeLadok, rounds: list[str], mode: str = "files",
                 certificate: Path | None = None, larosate_id: int | None = LAROSATE_ID) -> str:
    """A configuration of the test course reporting on `rounds` of the fake Ladok."""
    ids = f"larosate_id = {larosate_id}\n" if larosate_id is not None else ""
    quoted = ", ".join(f'"{r}"' for r in rounds)
    return (f'[ladok]\nurl = "{fake.url}"\ncertificate = "{certificate or fake.client_pem}"\n'
            f'ca_file = "{fake.ca_file}"\nmode = "{mode}"\n{ids}'
            + course_toml(extra=f"ladok_rounds = [{quoted}]"))


@pytest.fixture
def config_file(tmp_path, fake_ladok, ladok_round):
    """A drafts-mode configuration whose Ladok round holds the test's students."""
    from tests.ladok.drafts_helpers import FIRST_USER, STUDENTS, drafts_config  # it needs us

    fake_ladok.data.add_students(ladok_round, STUDENTS, first=FIRST_USER)
    path = tmp_path / "canvas-ladok.toml"
    path.write_text(drafts_config(fake_ladok, [ladok_round.uid]))
    return path
