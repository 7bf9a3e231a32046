"""The `[ladok]` section and the courses' `ladok_rounds`: Ladok's REST API with the
integration certificate. Without it, or with `mode = "files"`, results go to files only."""

from __future__ import annotations

import re
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plugin.settings.certificate import CertificateError, load_client_certificate
from plugin.settings.sections import Problems, _table, check_http_url

MODES = ("files", "drafts")
LADOK_KEYS: dict[str, type] = {
    "url": str, "certificate": str, "ca_file": str, "larosate_id": int, "mode": str,
}
MAX_LAROSATE_ID = 2**31 - 1
UID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


@dataclass(frozen=True)
class LadokSettings:
    url: str = ""
    certificate: str = ""  # an absolute path
    ca_file: str = ""  # an absolute path, or "" for the system's CAs
    larosate_id: int | None = None
    mode: str = "files"

    @property
    def configured(self) -> bool:
        """An API address and a certificate are set (ladok-check can run)."""
        return bool(self.url and self.certificate)

    @property
    def drafts(self) -> bool:
        """Exports also put results into Ladok as drafts."""
        return self.mode == "drafts"


def connected(settings: Any, course: Any) -> bool:
    """The course's results go to Ladok as drafts (and are read back): "drafts" mode and
    the course names its rounds."""
    return settings.ladok.drafts and bool(course.ladok_rounds)


def build_ladok(raw: Any, base: Path, password: str, problems: Problems) -> LadokSettings:
    """The `[ladok]` table; paths in it resolve against the config file's folder."""
    values = _table(raw, "ladok", LADOK_KEYS, problems)
    mode = values.get("mode", "files")
    if mode not in MODES:
        problems.add("ladok.mode", f'must be "files" or "drafts", got {mode!r}')
    url = check_http_url(problems, "ladok.url", values.get("url", ""))
    if url.startswith("http://"):
        problems.add("ladok.url", f"must be an https:// URL (Ladok's API speaks HTTPS only), "
                     f"got {values['url']!r}")
    larosate_id = values.get("larosate_id")
    if isinstance(larosate_id, bool) or (
            larosate_id is not None and not 0 < larosate_id <= MAX_LAROSATE_ID):
        problems.add("ladok.larosate_id", f"must be the university's Ladok id, a positive "
                     f"integer, got {larosate_id!r}")
        larosate_id = None
    certificate = _path(base, values.get("certificate", ""))
    ca_file = _path(base, values.get("ca_file", ""))
    if certificate:
        _check_certificate(problems, certificate, password)
    if ca_file:
        _check_ca_file(problems, ca_file)
    if mode == "drafts":
        for key, value in (("url", url), ("certificate", certificate),
                           ("larosate_id", larosate_id)):
            if not value:
                problems.add(f"ladok.{key}", 'required when ladok.mode is "drafts"')
    return LadokSettings(url, certificate, ca_file, larosate_id, mode)


def _path(base: Path, text: str) -> str:
    return str((base / text).resolve()) if text else ""


def _check_certificate(problems: Problems, path: str, password: str) -> None:
    try:
        load_client_certificate(path, password)
    except CertificateError as exc:
        problems.add("ladok.certificate", str(exc))


def _check_ca_file(problems: Problems, path: str) -> None:
    try:
        ssl.create_default_context(cafile=path)
    except FileNotFoundError:
        problems.add("ladok.ca_file", f"{path}: not found")
    except (ssl.SSLError, OSError, ValueError):
        problems.add("ladok.ca_file", f"{path}: not a bundle of CA certificates in PEM")


def check_ladok_rounds(problems: Problems, key: str, value: Any) -> tuple[str, ...]:
    """A course's round UIDs ("kurstillfälle"), each once."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.add(key, "must be a list of Ladok course round UIDs")
        return ()
    for item in value:
        if not UID.match(item):
            problems.add(key, f"{item!r} is not a Ladok UID (like "
                         "'c601ee70-73da-11e8-b4e0-063f9afb40e3')")
    rounds = tuple(v.lower() for v in value if UID.match(v))
    for item in sorted({r for r in rounds if rounds.count(r) > 1}):
        problems.add(key, f"{item!r} is listed twice")
    return tuple(dict.fromkeys(rounds))


def check_shared_rounds(courses: Sequence[tuple[int, Any]], problems: Problems) -> None:
    """A round belongs to one Ladok course: courses (index, course) naming it must share
    their `ladok_code`."""
    owner: dict[str, tuple[int, str]] = {}
    for index, course in courses:
        for round_uid in course.ladok_rounds:
            first = owner.setdefault(round_uid, (index, course.ladok_code))
            if first[1] != course.ladok_code:
                problems.add(f"courses[{index}].ladok_rounds",
                             f"{round_uid!r} is also a round of courses[{first[0]}], whose "
                             f"ladok_code {first[1]!r} differs from {course.ladok_code!r}")
