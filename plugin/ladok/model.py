"""Plain data for what Ladok's REST API returns and what the client sends: course rounds and
their modules, grade scales, study results with their results, drafts to create or update,
and the outcome of a bulk write. Read from Ladok's JSON; no I/O here."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

# The study results a module's search returns by default: not yet reported, drafts, and
# klarmarkerade (attested ones are added for read-back with ATTESTERADE).
OPEN_STATES = ("OBEHANDLADE", "UTKAST", "KLARMARKERADE")
ALL_STATES = (*OPEN_STATES, "ATTESTERADE")
UTKAST, KLARMARKERAD, ATTESTERAD = "utkast", "klarmarkerad", "attesterad"
_PROCESS_STATUS = {1: UTKAST, 2: KLARMARKERAD}
_NOT_ALNUM = re.compile(r"[^0-9A-Za-z]")

Item = TypeVar("Item")


def _names(data: Any) -> str:
    names = data if isinstance(data, dict) else {}
    return str(names.get("sv") or names.get("en") or "")


def _int(value: Any) -> int | None:
    """Ladok sends some ids as numbers and some as numeric strings."""
    try:
        return int(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


def _date(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def identity_key(identity: str) -> str:
    """An identity as compared with Ladok's: letters and digits only, upper case, so
    "19900101-1234", "199001011234" and a student UID in any case each compare equal."""
    return _NOT_ALNUM.sub("", identity).upper()


@dataclass(frozen=True)
class LadokUser:
    """Whom Ladok knows the certificate as."""

    name: str  # Anvandarnamn
    larosate_id: int | None

    @classmethod
    def from_json(cls, data: dict) -> LadokUser:
        return cls(str(data.get("Anvandarnamn") or ""), _int(data.get("LarosateID")))


@dataclass(frozen=True)
class Grade:
    id: int
    code: str
    passing: bool  # Ladok's GiltigSomSlutbetyg


@dataclass(frozen=True)
class GradeScale:
    id: int
    code: str
    name: str
    grades: tuple[Grade, ...]

    @classmethod
    def from_json(cls, data: dict) -> GradeScale:
        grades = tuple(Grade(_int(g.get("ID")) or 0, str(g.get("Kod", "")),
                             bool(g.get("GiltigSomSlutbetyg")))
                       for g in data.get("Betygsgrad") or [] if isinstance(g, dict))
        return cls(_int(data.get("ID")) or 0, str(data.get("Kod", "")),
                   _names(data.get("Benamning")), grades)

    def grade(self, code: str) -> Grade | None:
        """The grade with this code ("fx" finds "FX"), or None."""
        return next((g for g in self.grades if g.code.upper() == code.upper()), None)

    def codes(self) -> str:
        """The scale's grade codes, for people: "A, B, C, D, E, FX, F"."""
        return ", ".join(g.code for g in self.grades)


@dataclass(frozen=True)
class RoundModule:
    """A module ("ingående moment") of a course round: Ladok's education instance for it."""

    uid: str  # UtbildningsinstansUID: where its results go
    code: str  # Utbildningskod, the module code of the configuration
    name: str
    credits: float | None
    scale_id: int | None
    reporting_allowed: bool

    @classmethod
    def from_json(cls, data: dict) -> RoundModule:
        credits = data.get("Omfattning")
        return cls(str(data.get("UtbildningsinstansUID", "")), str(data.get("Utbildningskod", "")),
                   _names(data.get("Benamning")),
                   float(credits) if isinstance(credits, (int, float)) else None,
                   _int(data.get("BetygsskalaID")),
                   data.get("ResultatrapporteringMojlig") is not False)


@dataclass(frozen=True)
class CourseRound:
    """A course round ("kurstillfälle"), its own education instance (the course grade goes
    there) and its modules."""

    uid: str
    code: str  # Kurstillfalleskod
    course_code: str  # Utbildningskod
    instance_uid: str
    scale_id: int | None
    name: str
    reporting_allowed: bool
    modules: tuple[RoundModule, ...]

    @classmethod
    def from_json(cls, round_uid: str, data: dict) -> CourseRound:
        modules = tuple(RoundModule.from_json(m) for m in data.get("IngaendeMoment") or []
                        if isinstance(m, dict))
        return cls(round_uid, str(data.get("Kurstillfalleskod", "")),
                   str(data.get("Utbildningskod", "")), str(data.get("UtbildningsinstansUID", "")),
                   _int(data.get("Betygsskala")), _names(data.get("Benamning")),
                   data.get("ResultatrapporteringMojlig") is not False, modules)

    def module(self, code: str) -> RoundModule | None:
        """The module with this Ladok code (compared without regard to case), or None."""
        return next((m for m in self.modules if m.code.upper() == code.upper()), None)


@dataclass(frozen=True)
class LadokResult:
    """One result on a study result: a draft, a klarmarkerad result or an attested one."""

    uid: str  # ResultatUID
    study_result_uid: str
    instance_uid: str
    grade_id: int | None
    grade_code: str
    scale_id: int | None
    exam_date: dt.date | None
    state: str  # UTKAST, KLARMARKERAD or ATTESTERAD
    changed: str = ""  # SenasteResultatandring, sent back unchanged with an update
    decided: dt.date | None = None  # the attestation date (Beslutsdatum)

    @classmethod
    def from_json(cls, data: dict, attested: bool = False,
                  study_result_uid: str = "") -> LadokResult:
        grade = data.get("Betygsgradsobjekt") if isinstance(data.get("Betygsgradsobjekt"),
                                                            dict) else {}
        status = _int(data.get("ProcessStatus"))
        state = ATTESTERAD if attested else _PROCESS_STATUS.get(status or 1, KLARMARKERAD)
        decision = data.get("Beslut") if isinstance(data.get("Beslut"), dict) else {}
        return cls(
            str(data.get("Uid", "")),
            str(data.get("StudieresultatUID") or study_result_uid),
            str(data.get("UtbildningsinstansUID", "")),
            _int(data.get("Betygsgrad", grade.get("ID"))), str(grade.get("Kod", "")),
            _int(data.get("BetygsskalaID")), _date(data.get("Examinationsdatum")), state,
            str(data.get("SenasteResultatandring") or ""), _date(decision.get("Beslutsdatum")))

    @property
    def locked(self) -> bool:
        """Klarmarkerad or attested: never changed by this service."""
        return self.state != UTKAST


@dataclass(frozen=True)
class StudyResult:
    """A student's study result ("studieresultat") on a round, as a module's search returns
    it, with the results Ladok holds on the round's instances."""

    uid: str  # StudieresultatUID: where a new draft is created
    student_uid: str
    personnummer: str = field(repr=False)
    first_name: str = field(repr=False)
    last_name: str = field(repr=False)
    instance_uid: str  # the education instance the search was for (Rapporteringskontext)
    scale_id: int | None
    round_uid: str
    results: tuple[LadokResult, ...] = ()

    @classmethod
    def from_json(cls, data: dict) -> StudyResult:
        student = data.get("Student") if isinstance(data.get("Student"), dict) else {}
        context = data.get("Rapporteringskontext")
        context = context if isinstance(context, dict) else {}
        uid = str(data.get("Uid", ""))
        results: list[LadokResult] = []
        for entry in data.get("ResultatPaUtbildningar") or []:
            if not isinstance(entry, dict):
                continue
            if isinstance(entry.get("Arbetsunderlag"), dict):
                results.append(LadokResult.from_json(entry["Arbetsunderlag"], False, uid))
            if isinstance(entry.get("SenastAttesteradeResultat"), dict):
                results.append(LadokResult.from_json(entry["SenastAttesteradeResultat"], True,
                                                     uid))
        return cls(uid, str(student.get("Uid", "")), str(student.get("Personnummer") or ""),
                   str(student.get("Fornamn") or ""), str(student.get("Efternamn") or ""),
                   str(context.get("UtbildningsinstansUID", "")),
                   _int(context.get("BetygsskalaID")),
                   str(data.get("AktuelltKurstillfalle") or ""), tuple(results))

    def _on(self, instance_uid: str | None) -> list[LadokResult]:
        # Ladok returns results on the round's other instances too: keep the one asked for.
        wanted = instance_uid or self.instance_uid
        return [r for r in self.results if r.instance_uid == wanted]

    def open_result(self, instance_uid: str | None = None) -> LadokResult | None:
        """The draft or klarmarkerad result on the instance (default: the searched one)."""
        return next((r for r in self._on(instance_uid) if r.state != ATTESTERAD), None)

    def attested_result(self, instance_uid: str | None = None) -> LadokResult | None:
        """The latest attested result on the instance (default: the searched one)."""
        return next((r for r in self._on(instance_uid) if r.state == ATTESTERAD), None)

    def identity_keys(self) -> tuple[str, ...]:
        """The keys (see `identity_key`) a Canvas identity may match: the student UID, the
        personnummer, and the personnummer without its century."""
        keys = [identity_key(self.student_uid)]
        if self.personnummer:
            number = identity_key(self.personnummer)
            keys += [number, number[-10:]] if len(number) == 12 else [number]
        return tuple(k for k in dict.fromkeys(keys) if k)


def by_identity(study_results: Iterable[StudyResult]) -> dict[str, StudyResult]:
    """Study results under each of their identity keys (look up with `identity_key(id)`)."""
    index: dict[str, StudyResult] = {}
    for sr in study_results:
        for key in sr.identity_keys():
            index.setdefault(key, sr)
    return index


@dataclass(frozen=True)
class NewDraft:
    """A draft to create on a study result; `ref` is the caller's, carried through."""

    study_result_uid: str
    instance_uid: str
    grade_id: int
    scale_id: int
    exam_date: dt.date
    ref: Any = field(default=None, compare=False)

    def to_json(self) -> dict:
        return {"StudieresultatUID": self.study_result_uid,
                "UtbildningsinstansUID": self.instance_uid, "Betygsgrad": self.grade_id,
                "BetygsskalaID": self.scale_id, "Examinationsdatum": self.exam_date.isoformat()}

    def matches(self, result: LadokResult) -> bool:
        return (result.study_result_uid, result.instance_uid) == (
            self.study_result_uid, self.instance_uid)


@dataclass(frozen=True)
class DraftUpdate:
    """A change to a draft; `changed` is the `SenasteResultatandring` it was read with."""

    result_uid: str
    grade_id: int
    scale_id: int
    exam_date: dt.date
    changed: str
    ref: Any = field(default=None, compare=False)

    def to_json(self) -> dict:
        return {"ResultatUID": self.result_uid, "Betygsgrad": self.grade_id,
                "BetygsskalaID": self.scale_id, "Examinationsdatum": self.exam_date.isoformat(),
                "SenasteResultatandring": self.changed}

    def matches(self, result: LadokResult) -> bool:
        return result.uid == self.result_uid


@dataclass(frozen=True)
class Refusal:
    """Ladok's own account of why it refused: its error JSON (texts redacted)."""

    status: int
    felgrupp: str
    detaljkod: str
    message: str  # Meddelande, Ladok's words for people
    fel_uid: str  # FelUID, to quote to Ladok support

    def __str__(self) -> str:
        group = f" {self.felgrupp}" if self.felgrupp else ""
        return f"Ladok refused ({self.status}{group}): {self.message or 'no reason given'}"


@dataclass
class WriteOutcome(Generic[Item]):
    """What became of each item of a bulk write.

    `confirmed`: Ladok answered with the result it holds. `refused`: Ladok refused the item
    (alone, so the refusal is its own). `uncertain`: the answer was lost after sending, so
    Ladok may hold it: look before sending it again. `unsent`: never sent, because Ladok
    became unreachable (`error` says how)."""

    confirmed: list[tuple[Item, LadokResult]] = field(default_factory=list)
    refused: list[tuple[Item, Refusal]] = field(default_factory=list)
    uncertain: list[Item] = field(default_factory=list)
    unsent: list[Item] = field(default_factory=list)
    error: Exception | None = None
