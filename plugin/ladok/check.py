"""`canvas-ladok ladok-check`: what an operator needs to know before switching to drafts, read
from Ladok without changing anything there. The certificate and its validity, whom Ladok knows
it as, the grade scales, each course's rounds with their modules matched to the configured
module codes, and whether the certificate may report on each of them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from plugin.ladok.client import LadokClient
from plugin.ladok.errors import LadokError
from plugin.ladok.model import ALL_STATES, CourseRound, GradeScale
from plugin.rules.course_config import AF_GRADES, CourseConfig, ModuleConfig
from plugin.settings.certificate import CertificateError, load_client_certificate

if TYPE_CHECKING:
    from plugin.settings import Settings

PASSING = {"GU": ("G",), "AF": AF_GRADES[:5]}  # the grades a module of each scale can send


@dataclass
class Report:
    """Lines for people; `problems` counts what must be put right."""

    lines: list[str] = field(default_factory=list)
    problems: int = 0

    def say(self, text: str, indent: int = 0) -> None:
        self.lines.append("  " * indent + text)

    def problem(self, text: str, indent: int = 0) -> None:
        self.problems += 1
        self.say(f"problem: {text}", indent)


def ladok_check(settings: Settings, now: dt.datetime | None = None,
                connect: Callable[..., LadokClient] = LadokClient.from_settings) -> Report:
    """Check the Ladok set-up of `settings` against Ladok itself (reads only)."""
    report = Report()
    ladok = settings.ladok
    if not ladok.configured:
        report.problem(f"Ladok is not configured: set ladok.url and ladok.certificate in "
                       f"{settings.config_path} (docs/ladok.md says how)")
        return report
    if not _certificate(settings, now or dt.datetime.now(dt.UTC), report):
        return report
    report.say(f"mode: {ladok.mode}" + ("" if ladok.drafts else
               ' (results go to files only; ladok.mode = "drafts" sends them to Ladok too)'))
    try:
        with connect(settings, retries=1) as client:
            _session(client, settings, report)
    except LadokError as exc:
        report.problem(str(exc))
    return report


def describe_certificate(settings: Settings, now: dt.datetime) -> tuple[list[str], str | None]:
    """Lines on the configured certificate (none without one), and why it cannot be used."""
    if not settings.ladok.certificate:
        return [], None
    try:
        cert = load_client_certificate(settings.ladok.certificate, settings.ladok_cert_password)
    except CertificateError as exc:
        return [], str(exc)
    trouble = cert.problem(now)
    lines = [f"ladok certificate: {cert.subject}, issued by {cert.issuer}"]
    return lines + ([] if trouble else [f"  {cert.validity(now)}"]), (
        f"the certificate is {trouble}" if trouble else None)


def _certificate(settings: Settings, now: dt.datetime, report: Report) -> bool:
    lines, trouble = describe_certificate(settings, now)
    for line in lines:
        report.say(line)
    if trouble:
        report.problem(f"ladok.certificate: {trouble}")
    return trouble is None


def _session(client: LadokClient, settings: Settings, report: Report) -> None:
    user = client.whoami()
    report.say(f"connected to {settings.ladok.url} as {user.name or '(no name)'}")
    wanted = settings.ladok.larosate_id
    if wanted is None:
        report.problem(f"ladok.larosate_id is not set (Ladok gives {user.larosate_id} for "
                       "this certificate)")
    elif user.larosate_id is not None and user.larosate_id != wanted:
        report.problem(f"ladok.larosate_id is {wanted}, but the certificate belongs to "
                       f"lärosäte {user.larosate_id}")
    scales = client.grade_scales()
    report.say(f"grade scales: {len(scales)} ({', '.join(s.code for s in scales.values())})")
    if not settings.courses:
        report.say("no courses configured")
    for course in settings.courses:
        _course(client, user.name, course, scales, report, settings.ladok.drafts)


def _course(client: LadokClient, user: str, course: CourseConfig,
            scales: dict[int, GradeScale], report: Report, drafts: bool) -> None:
    report.say(f"course {course.ladok_code} (Canvas {course.canvas_id})")
    if not course.ladok_rounds:
        text = "no ladok_rounds: its results go to files only"
        (report.problem if drafts else report.say)(text, 1)
        return
    for round_uid in course.ladok_rounds:
        try:
            _round(client, user, course, client.course_round(round_uid), scales, report)
        except LadokError as exc:
            report.problem(f"round {round_uid}: {exc}", 1)


def _round(client: LadokClient, user: str, course: CourseConfig, round_: CourseRound,
           scales: dict[int, GradeScale], report: Report) -> None:
    report.say(f"round {round_.code} ({round_.uid}): {round_.course_code} {round_.name}", 1)
    if round_.course_code.upper() != course.ladok_code.upper():
        report.problem(f"it is a round of {round_.course_code}, not of {course.ladok_code}", 2)
    if not round_.reporting_allowed:
        report.problem("Ladok does not allow reporting results on this round", 2)
    targets = _modules(course, round_, scales, report)
    final = _course_grade(course)
    if final is not None:
        report.say("course grade: to the round's own instance", 2)
        _scale_suits(round_.scale_id, final, scales, report)
        targets.append(("course grade", round_.instance_uid))
    _rights(client, user, round_, targets, report)


def _modules(course: CourseConfig, round_: CourseRound, scales: dict[int, GradeScale],
             report: Report) -> list[tuple[str, str]]:
    targets = []
    for module in course.modules:
        found = round_.module(module.code)
        if found is None:
            have = ", ".join(m.code for m in round_.modules) or "none"
            report.problem(f"module {module.code} is not on this round (Ladok has: {have})", 2)
            continue
        report.say(f"module {module.code} → {found.code} {found.name!r} ({found.uid})", 2)
        if not found.reporting_allowed:
            report.problem("Ladok does not allow reporting results on it", 3)
        _scale_suits(found.scale_id, module.scale, scales, report)
        targets.append((f"module {module.code}", found.uid))
    configured = {m.code.upper() for m in course.modules}
    extra = sorted(m.code for m in round_.modules if m.code.upper() not in configured)
    if extra:
        report.say(f"Ladok modules not in the configuration (nothing is sent to them): "
                   f"{', '.join(extra)}", 2)
    return targets


def _course_grade(course: CourseConfig) -> str | None:
    """The scale of the course grade this course sends, or None when it sends none."""
    if len(course.modules) < 2:
        return None  # a single-module course: Ladok sets the course grade itself
    final: ModuleConfig | None = next((m for m in course.modules if m.final), None)
    return final.scale if final is not None else "GU"


def _scale_suits(scale_id: int | None, kind: str, scales: dict[int, GradeScale],
                 report: Report) -> None:
    scale = scales.get(scale_id) if scale_id is not None else None
    if scale is None:
        report.problem(f"its grade scale ({scale_id}) is not among Ladok's grade scales", 3)
        return
    missing = [g for g in PASSING[kind] if scale.grade(g) is None]
    if missing:
        report.problem(f"its grade scale {scale.code} ({scale.codes()}) lacks "
                       f"{', '.join(missing)}, which the configuration's {kind} scale sends", 3)
    else:
        report.say(f"grade scale {scale.code}: {scale.codes()}", 3)


def _rights(client: LadokClient, user: str, round_: CourseRound,
            targets: list[tuple[str, str]], report: Report) -> None:
    sample, total = client.study_results_page(round_.instance_uid, [round_.uid],
                                              states=ALL_STATES, limit=1)
    report.say(f"students on the round: {total}", 2)
    if not targets:
        return
    if not sample:
        report.say("may the certificate report here? cannot tell until a student is "
                   "registered on the round", 2)
        return
    rights = client.may_report(user, [(sample[0].uid, uid) for _, uid in targets])
    for (label, uid) in targets:
        if rights[(sample[0].uid, uid)]:
            report.say(f"may report on {label}: yes", 2)
        else:
            report.problem(f"the certificate may not report on {label}: its permission "
                           "profile must include reporting results for this course", 2)
