"""What the fake Ladok holds and the rules it applies: rounds, their modules, grade scales,
students' study results and results (utkast, klarmarkerad, attesterad), in Ladok's JSON shapes.

The shapes follow the public clients of Ladok's REST API (KTH's transfer-to-ladok `types.ts`
and lms-export-to-ladok-2, dbosk/ladok3). The refusal codes for rules nobody has published
(a stale `SenasteResultatandring`) are this fake's own; clients must not depend on them.
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from dataclasses import dataclass, field

UTKAST, KLARMARKERAD, ATTESTERAD = 1, 2, 3
ORDER_KEYS = {
    "PERSONNUMMER_ASC": lambda s: s.personnummer,
    "EFTERNAMN_ASC": lambda s: s.last_name,
    "FORNAMN_ASC": lambda s: s.first_name,
    "ANONYMKOD_ASC": lambda s: s.uid,
}
FILTERS = {"OBEHANDLADE", "UTKAST", "KLARMARKERADE", "ATTESTERADE"}
MAX_LIMIT = 400


class Refused(Exception):
    """Ladok's refusal: an HTTP status and its error JSON."""

    def __init__(self, status: int, felgrupp: str, meddelande: str, detaljkod: str = ""):
        super().__init__(meddelande)
        self.status = status
        self.body = {
            "FelUID": str(uuid.uuid4()), "Felgrupp": felgrupp, "Detaljkod": detaljkod,
            "Felkategori": "commons.fel.kategori.valideringsfel", "Meddelande": meddelande,
            "link": [],
        }


def rule(meddelande: str, felgrupp: str = "commons.fel.grupp.domanregel",
         detaljkod: str = "") -> Refused:
    """A refusal by one of Ladok's rules (answered 400)."""
    return Refused(400, felgrupp, meddelande, detaljkod)


@dataclass
class Student:
    uid: str
    personnummer: str
    first_name: str
    last_name: str


@dataclass
class Module:
    uid: str
    code: str
    name: str
    credits: float
    scale_id: int


@dataclass
class Round:
    uid: str
    code: str
    course_code: str
    instance_uid: str  # the course round's own education instance (the course grade)
    scale_id: int
    start: dt.date
    modules: list[Module]
    name: str = "Kurs"

    def instance_scale(self, instance_uid: str) -> int | None:
        """The grade scale of the course instance or one of its modules, or None."""
        if instance_uid == self.instance_uid:
            return self.scale_id
        return next((m.scale_id for m in self.modules if m.uid == instance_uid), None)


@dataclass
class Result:
    uid: str
    study_result_uid: str
    instance_uid: str
    grade_id: int
    scale_id: int
    exam_date: str
    status: int = UTKAST
    changed: str = ""
    decided: str | None = None


@dataclass
class StudyResult:
    uid: str
    student: Student
    round: Round
    results: list[Result] = field(default_factory=list)

    def open(self, instance_uid: str) -> Result | None:
        """The draft or klarmarkerad result on an instance, if any."""
        return next((r for r in self.results
                     if r.instance_uid == instance_uid and r.status != ATTESTERAD), None)

    def attested(self, instance_uid: str) -> Result | None:
        """The latest attested result on an instance, if any."""
        found = [r for r in self.results
                 if r.instance_uid == instance_uid and r.status == ATTESTERAD]
        return found[-1] if found else None


def default_scales() -> dict[int, dict]:
    """Ladok's G/U and A–F scales, as `/resultat/grunddata/betygsskala` lists them."""

    def scale(scale_id: int, code: str, grades: list[tuple[int, str, bool]]) -> dict:
        return {"ID": str(scale_id), "Kod": code,  # Ladok sends this ID as a string
                "Benamning": {"sv": code, "en": code},
                "Betygsgrad": [{"ID": i, "Kod": k, "GiltigSomSlutbetyg": ok}
                               for i, k, ok in grades]}

    return {
        2: scale(2, "UG", [(2302, "G", True), (2303, "U", False)]),
        131657: scale(131657, "AF", [(131661, "A", True), (131667, "B", True),
                                      (131673, "C", True), (131679, "D", True),
                                      (131691, "E", True), (131696, "FX", False),
                                      (131697, "F", False)]),
    }


class LadokData:
    """Ladok's records for the fake; every method is called under the server's lock."""

    def __init__(self) -> None:
        self.scales = default_scales()
        self.rounds: dict[str, Round] = {}
        self.study_results: dict[str, StudyResult] = {}
        self.results: dict[str, Result] = {}
        self.refusals: dict[str, Refused] = {}  # student uid -> refusal of any write
        self.denied: set[str] = set()  # education instances the certificate may not report on
        self._clock = itertools.count(1)

    # Setting the scene -------------------------------------------------------------------

    def add_round(self, course_code: str, start: dt.date, modules: list[tuple[str, str]],
                  code: str = "50110", scale: str = "AF") -> Round:
        """A course round with modules given as (code, "GU" | "AF")."""
        scale_id = {"GU": 2, "AF": 131657}
        round_ = Round(str(uuid.uuid4()), code, course_code, str(uuid.uuid4()),
                       scale_id[scale], start,
                       [Module(str(uuid.uuid4()), c, f"Modul {c}", 2.5, scale_id[s])
                        for c, s in modules])
        self.rounds[round_.uid] = round_
        return round_

    def add_students(self, round_: Round, count: int, first: int = 1) -> list[Student]:
        """`count` students registered on the round, personnummer in order of their number."""
        students = []
        for n in range(first, first + count):
            student = Student(str(uuid.uuid4()), f"19900101{n:04d}", f"Förnamn{n}",
                              f"Efternamn{n:05d}")
            self.register(student, round_)
            students.append(student)
        return students

    def register(self, student: Student, round_: Round) -> StudyResult:
        """The student's study result on the round (created once)."""
        for sr in self.study_results.values():
            if sr.student.uid == student.uid and sr.round.uid == round_.uid:
                return sr
        sr = StudyResult(str(uuid.uuid4()), student, round_)
        self.study_results[sr.uid] = sr
        return sr

    def stamp(self) -> str:
        """A fresh `SenasteResultatandring`."""
        base = dt.datetime(2025, 1, 1) + dt.timedelta(seconds=next(self._clock))
        return base.isoformat(timespec="milliseconds")

    # Reads -------------------------------------------------------------------------------

    def round_json(self, round_uid: str) -> dict:
        round_ = self.rounds.get(round_uid)
        if round_ is None:
            raise rule("Utbildningstillfället kunde inte hittas",
                       "commons.fel.grupp.obligatoriskt_varde_saknas",
                       "resultat.fel.detaljkod.utbildningstillfalle")
        return {
            "Benamning": {"sv": round_.name, "en": round_.name},
            "Betygsskala": round_.scale_id, "KravPaProjekttitel": False,
            "Kurstillfalleskod": round_.code,
            "ResultatrapporteringMojlig": True, "UtbildningsinstansUID": round_.instance_uid,
            "Utbildningskod": round_.course_code, "Versionsnummer": 1,
            "IngaendeMoment": [{
                "Benamning": {"sv": m.name, "en": m.name}, "BetygsskalaID": m.scale_id,
                "KravPaProjekttitel": False, "Omfattning": m.credits,
                "ResultatrapporteringMojlig": True, "UtbildningsinstansUID": m.uid,
                "Utbildningskod": m.code} for m in round_.modules],
        }

    def search(self, instance_uid: str, body: dict) -> tuple[list[StudyResult], int]:
        """One page of the study results on `instance_uid` for the rounds asked."""
        states, rounds, order, page, limit = _search_terms(body)
        rows = [sr for sr in self.study_results.values()
                if sr.round.uid in rounds and sr.round.instance_scale(instance_uid)
                and _in_states(sr, instance_uid, states)]
        wanted = set(body.get("StudenterUID") or [])
        if wanted:
            rows = [sr for sr in rows if sr.student.uid in wanted]
        if order:
            rows.sort(key=lambda sr: tuple(ORDER_KEYS[k](sr.student) for k in order))
        else:  # Ladok's order without OrderBy is not stable from one page to the next
            rows.sort(key=lambda sr: hash((page, sr.uid)))
        return rows[(page - 1) * limit: page * limit], len(rows)

    def study_result_json(self, sr: StudyResult, instance_uid: str) -> dict:
        instances = {r.instance_uid for r in sr.results}
        return {
            "Uid": sr.uid, "AktuelltKurstillfalle": sr.round.uid,
            "Student": {"Uid": sr.student.uid, "Personnummer": sr.student.personnummer,
                        "Fornamn": sr.student.first_name, "Efternamn": sr.student.last_name},
            "Rapporteringskontext": {
                "UtbildningsinstansUID": instance_uid,
                "BetygsskalaID": sr.round.instance_scale(instance_uid),
                "KravPaProjekttitel": False},
            # Like Ladok, results on the round's other instances come along too.
            "ResultatPaUtbildningar": [self._on_instance(sr, i) for i in sorted(instances)],
        }

    def _on_instance(self, sr: StudyResult, instance_uid: str) -> dict:
        out: dict = {"UtbildningUID": instance_uid}
        if (draft := sr.open(instance_uid)) is not None:
            out["Arbetsunderlag"] = self.result_json(draft)
        if (done := sr.attested(instance_uid)) is not None:
            out["SenastAttesteradeResultat"] = self.result_json(done)
        return out

    def result_json(self, result: Result) -> dict:
        code = next(g["Kod"] for g in self.scales[result.scale_id]["Betygsgrad"]
                    if g["ID"] == result.grade_id)
        out = {"Uid": result.uid, "StudieresultatUID": result.study_result_uid,
               "UtbildningsinstansUID": result.instance_uid, "Betygsgrad": result.grade_id,
               "Betygsgradsobjekt": {"ID": result.grade_id, "Kod": code},
               "BetygsskalaID": result.scale_id, "Examinationsdatum": result.exam_date,
               "SenasteResultatandring": result.changed}
        if result.status == ATTESTERAD:
            out["Beslut"] = {"Beslutsdatum": result.decided}
        else:
            out["ProcessStatus"] = result.status
        return out

    def may_report(self, items: list[dict]) -> list[dict]:
        return [{**item, "HarRattighet":
                 item.get("UtbildningsinstansAttRapporteraPaUID") not in self.denied}
                for item in items]

    # Writes ------------------------------------------------------------------------------

    def create(self, line: dict) -> Result:
        """Check one line of `skapa` and make its draft (the caller commits all or none)."""
        sr = self.study_results.get(line.get("StudieresultatUID", ""))
        if sr is None:
            raise rule("Studieresultatet kunde inte hittas",
                       "commons.fel.grupp.obligatoriskt_varde_saknas")
        instance = line.get("UtbildningsinstansUID", "")
        self._check_write(sr, instance, line)
        if sr.open(instance) is not None:
            raise rule("Det finns redan ett resultat under behandling för studenten på "
                       "modulen", "commons.fel.grupp.felaktig_status")
        return Result(str(uuid.uuid4()), sr.uid, instance, line["Betygsgrad"],
                      line["BetygsskalaID"], line["Examinationsdatum"], UTKAST, self.stamp())

    def update(self, line: dict) -> Result:
        """Check one line of `uppdatera`; the updated copy of its draft."""
        result = self.results.get(line.get("ResultatUID", ""))
        if result is None:
            raise rule("Resultatet kunde inte hittas",
                       "commons.fel.grupp.obligatoriskt_varde_saknas")
        sr = self.study_results[result.study_result_uid]
        self._check_write(sr, result.instance_uid, line)
        if result.status != UTKAST:
            raise rule("Resultatet är klarmarkerat eller attesterat och kan inte ändras",
                       "commons.fel.grupp.felaktig_status")
        if line.get("SenasteResultatandring") != result.changed:
            raise Refused(409, "commons.fel.grupp.samtidig_andring",
                          "Resultatet har ändrats av någon annan sedan det lästes")
        return Result(result.uid, sr.uid, result.instance_uid, line["Betygsgrad"],
                      line["BetygsskalaID"], line["Examinationsdatum"], UTKAST, self.stamp())

    def _check_write(self, sr: StudyResult, instance: str, line: dict) -> None:
        scale = sr.round.instance_scale(instance)
        if scale is None:
            raise rule("Utbildningsinstansen ingår inte i studentens kurstillfälle")
        if instance in self.denied:
            raise Refused(403, "commons.fel.grupp.auktorisering",
                          "Användaren saknar behörighet att rapportera på utbildningen")
        if sr.student.uid in self.refusals:
            raise self.refusals[sr.student.uid]
        if line.get("BetygsskalaID") != scale or line.get("Betygsgrad") not in {
                g["ID"] for g in self.scales[scale]["Betygsgrad"]}:
            raise rule("Betygsgraden ingår inte i utbildningens betygsskala",
                       "commons.fel.grupp.felaktigt_varde")
        try:
            date = dt.date.fromisoformat(str(line.get("Examinationsdatum")))
        except ValueError:
            raise rule("Examinationsdatum har fel format",
                       "commons.fel.grupp.felaktigt_format") from None
        if date < sr.round.start:
            raise rule("Examinationsdatum får inte vara före kurstillfällets startdatum",
                       "commons.fel.grupp.felaktigt_varde")


def _search_terms(body: dict) -> tuple[set[str], set[str], list[str], int, int]:
    states = set(body.get("Filtrering") or [])
    order = list(body.get("OrderBy") or [])
    if not states or not states <= FILTERS:
        raise rule(f"Filtrering måste vara några av {sorted(FILTERS)}",
                   "commons.fel.grupp.felaktigt_varde")
    if not set(order) <= set(ORDER_KEYS):
        raise rule("Okänd sortering", "commons.fel.grupp.felaktigt_varde")
    page, limit = body.get("Page", 1), body.get("Limit", 100)
    if not isinstance(page, int) or page < 1 or not isinstance(limit, int) or \
            not 1 <= limit <= MAX_LIMIT:
        raise rule("Page och Limit har felaktiga värden", "commons.fel.grupp.felaktigt_varde")
    return states, set(body.get("KurstillfallenUID") or []), order, page, limit


def _in_states(sr: StudyResult, instance_uid: str, states: set[str]) -> bool:
    draft, done = sr.open(instance_uid), sr.attested(instance_uid)
    found = {"OBEHANDLADE"} if draft is None and done is None else set()
    if draft is not None:
        found.add("UTKAST" if draft.status == UTKAST else "KLARMARKERADE")
    if done is not None:
        found.add("ATTESTERADE")
    return bool(found & states)
