"""Which Ladok results a student has earned, from posted Canvas grades.

Pure functions over plain data. Decisions the rules leave open:

- Among several assignments on one moment the posted grade with the latest `grade_since`
  counts (ties: the higher assignment id). An unposted (hidden, removed, excused) grade on
  another assignment of that moment is listed in `manual` but does not block it.
- A moment whose only grades are unposted blocks its module and is listed in `manual`. A
  grade is "removed" when it is empty but the submission shows it was graded (grader, score,
  `graded_at` or workflow state "graded"); an ungraded submission is just waited for.
- Points possible: the assignment's current value, else the one on the submission.
- On an AF module a numeric grade of any moment maps by `grade_thresholds` and passes at A–E
  (an A–F module maps points by grade_thresholds); letters A–E and `pass_grades` pass.
- A module is earned only when every moment passes, none needs manual handling and its grade
  is exportable: an AF grade of FX or F from summed points means not earned. A `grade_from`
  moment whose grade gives no A–F letter (e.g. "G") needs manual handling.
- A summed `grade_from` list uses each moment's `score` (else its numeric grade).
- A posted grade with no known recording time (`grade_since`, else `graded_at`) needs manual
  handling rather than a guessed date. Naive datetimes are UTC.
- The course grade's graders are those of the final module (all modules' without a final);
  its credits are the sum of the module credits. Without a final module and with an AF
  module (refused by the config check) there is no course-grade line.
- A moment's date runs from when its current outcome was first posted. The outcome is what
  the rules make of the grade (`judge`): passed or not, and the letter on an A–F module; so
  "72" then "78" of 100 (both C), "B" then 85 of 100, or "G" then "complete" keep the first
  date, whatever the spelling.
- Canvas courses (rooms) sharing a ladok_code: a module whose latest export by another room is
  not withdrawn counts for the course grade with that export's grade, date and graders (what
  Ladok has), even when this room earns it too. The course grade is decided by the room that
  earned its last module in time: a module's time is when its result was exported (the latest
  ledger version), and one earned here and not yet exported is the latest of all. Only rooms
  still configured decide (`CourseConfig.rooms`); on a tie each such room may (the ledger key
  still goes out once); a room that already exported the course grade keeps deciding it.
- A by-name mapping used by an export is kept (and listed) whatever the new name matches, no
  moment or another one; only the explicit `assignments` map moves it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

from plugin.rules.course_config import CourseConfig, ModuleConfig
from plugin.rules.grades import (
    is_exportable_grade,
    judge,
    letter_for_percent,
    parse_number,
    percent_of,
    same_grade,
)
from plugin.rules.reasons import Assignment, Reason, reasons
from plugin.rules.submission import SubmissionState

COURSE_GRADE_NAME = "course grade"


@dataclass(frozen=True)
class AssignmentInfo:
    """What is known about a Canvas assignment."""

    id: int
    name: str | None
    points_possible: float | None = None
    # The moment its name mapped it to when a result using it was exported (kept on rename).
    exported_moment: int | None = None


@dataclass(frozen=True)
class ExportedResult:
    """A result of the student's Ladok course whose latest export is not withdrawn."""

    course_id: int  # the Canvas course (room) that owns it
    grade: str | None
    date: dt.date | None
    graders: tuple[str, ...] = ()  # as written in the export
    exported_at: dt.datetime | None = None  # when its latest version went out


@dataclass(frozen=True)
class MomentOutcome:
    """A moment's counted grade and whether it is passed."""

    moment: int
    passed: bool
    reason: str  # a Reason (plugin.rules.reasons): English text with its code
    grade: str | None
    score: float | None
    points_possible: float | None
    date: dt.date | None
    grader_ids: tuple[int, ...]
    assignment_id: int | None
    needs_manual: bool
    date_reason: str = ""  # how the examination date was derived, in words


@dataclass(frozen=True)
class ComponentResult:
    """One Ladok result: a module, or the course grade (component code = course code)."""

    code: str
    name: str
    credits: float | None
    earned: bool
    grade: str | None
    date: dt.date | None
    grader_ids: tuple[int, ...]
    reason: str  # a Reason (plugin.rules.reasons): English text with its code
    is_course_grade: bool = False
    grader_names: tuple[str, ...] = ()  # graders as exported from another Canvas course


@dataclass(frozen=True)
class StudentOutcome:
    """Everything decided for one student in one course."""

    moments: tuple[MomentOutcome, ...]
    modules: tuple[ComponentResult, ...]
    course_grade: ComponentResult | None
    unmapped_assignments: tuple[int, ...]
    manual: tuple[str, ...]  # Reasons


@dataclass(frozen=True)
class _Candidate:
    assignment_id: int
    state: SubmissionState
    points_possible: float | None
    info: AssignmentInfo | None = None


def label(moment: int) -> str:
    """A moment's display name, e.g. 3 -> "kmom03"."""
    return f"kmom{moment:02d}"


def moment_of_assignment(
    course: CourseConfig, assignment_id: int, name: str | None,
    exported_moment: int | None = None,
) -> int | None:
    """The explicit `assignments` map wins, else the moment the name mapped to when a result
    using it was exported (a mapping by name is sticky once exported, whatever the assignment is
    renamed to), else `moment_pattern` on the name, else None."""
    explicit = course.assignments.get(assignment_id)
    if explicit is not None:
        return explicit
    return exported_moment if exported_moment is not None else course.moment_of_name(name)


def renamed_assignments(
    course: CourseConfig, assignments: Mapping[int, AssignmentInfo]
) -> tuple[str, ...]:
    """What to do about assignments still counted only because a result using them went out."""
    notes = []
    for info in sorted(assignments.values(), key=lambda a: a.id):
        if (info.exported_moment is None or info.id in course.assignments
                or course.moment_of_name(info.name) == info.exported_moment):
            continue
        notes.append(Reason("note.renamed", assignment=info.id, name=info.name or "",
                            moment=label(info.exported_moment)))
    return tuple(notes)


def mapped_by_name(
    course: CourseConfig, assignments: Mapping[int, AssignmentInfo], outcome: StudentOutcome,
    codes: Iterable[str],
) -> dict[int, int]:
    """Assignment -> moment for the counted assignments of modules `codes` mapped by name now."""
    wanted = {m for module in course.modules if module.code in codes for m in module.moments}
    out = {}
    for moment in outcome.moments:
        info = assignments.get(moment.assignment_id) if moment.assignment_id else None
        if (moment.moment in wanted and info is not None and info.id not in course.assignments
                and course.moment_of_name(info.name) == moment.moment):
            out[info.id] = moment.moment
    return out


def exportable(result: ComponentResult) -> bool:
    """True when the result is earned, dated and its grade may go to Ladok (never F, FX, U)."""
    return result.earned and result.date is not None and is_exportable_grade(result.grade)


def evaluate_student(
    course: CourseConfig,
    assignments: Mapping[int, AssignmentInfo],
    submissions: Mapping[int, SubmissionState],
    exported: Mapping[str, ExportedResult] | None = None,
    explain_dates: bool = True,
) -> StudentOutcome:
    """Moments, module results and course grade for one student's submissions (by assignment).

    `exported`: the student's results of this Ladok course whose latest export is not
    withdrawn, by component code, from any Canvas course sharing the ladok_code.
    `explain_dates`: fill each moment's `date_reason` (text only pages show; an export run
    skips it).
    """
    grouped, unmapped = _group(course, assignments, submissions)
    notes: list[str] = []
    outcomes: dict[int, MomentOutcome] = {}
    for module in course.modules:
        for moment in module.moments:
            found = grouped.get(moment, [])
            outcomes[moment] = _moment_outcome(course, module, moment, found, notes,
                                               explain_dates)
    modules = tuple(_module_result(course, module, outcomes, notes) for module in course.modules)
    return StudentOutcome(
        moments=tuple(outcomes[m] for m in sorted(outcomes)),
        modules=modules,
        course_grade=_course_grade(course, modules, outcomes, exported or {}, notes),
        unmapped_assignments=unmapped,
        manual=tuple(notes),
    )


def _group(
    course: CourseConfig,
    assignments: Mapping[int, AssignmentInfo],
    submissions: Mapping[int, SubmissionState],
) -> tuple[dict[int, list[_Candidate]], tuple[int, ...]]:
    grouped: dict[int, list[_Candidate]] = {}
    unmapped = []
    for assignment_id in sorted(set(assignments) | set(submissions)):
        info = assignments.get(assignment_id)
        moment = (moment_of_assignment(course, assignment_id, info.name, info.exported_moment)
                  if info else moment_of_assignment(course, assignment_id, None))
        if moment is None:
            unmapped.append(assignment_id)
            continue
        state = submissions.get(assignment_id)
        if state is not None:
            points = info.points_possible if info and info.points_possible is not None else None
            points = state.points_possible if points is None else points
            grouped.setdefault(moment, []).append(_Candidate(assignment_id, state, points, info))
    return grouped, tuple(unmapped)


# --- moments -----------------------------------------------------------------------------


def _is_posted(state: SubmissionState) -> bool:
    return state.has_posted_grade and bool((state.grade or "").strip())


def unposted_kind(state: SubmissionState) -> str | None:
    """"excused", "hidden" or "removed" for a grade that is not posted; None otherwise."""
    if state.excused:
        return "excused"
    if (state.grade or "").strip():
        return None if state.posted else "hidden"
    graded = (
        state.graded_at is not None or state.grader_id is not None
        or state.score is not None or state.workflow_state == "graded"
    )
    return "removed" if graded else None


def _moment_outcome(
    course: CourseConfig,
    module: ModuleConfig,
    moment: int,
    candidates: list[_Candidate],
    notes: list[str],
    explain_dates: bool = True,
) -> MomentOutcome:
    posted = [c for c in candidates if _is_posted(c.state)]
    unposted = [(c, kind) for c in candidates if (kind := unposted_kind(c.state))]
    counted = max(posted, key=_recency) if posted else None
    for candidate, kind in unposted:
        counting = {"counted": _named(counted)} if counted else {}
        notes.append(Reason(f"note.{kind}{'_counting' if counted else ''}", moment=label(moment),
                            assignment=_named(candidate), **counting))
    if counted is not None:
        return _judged(course, module, moment, counted, notes, explain_dates)
    if unposted:
        candidate, kind = unposted[-1]
        reason = Reason(f"moment.{kind}", moment=label(moment))
        return _blank(moment, reason, candidate.assignment_id, needs_manual=True)
    return _blank(moment, Reason("moment.waiting", moment=label(moment)), None,
                  needs_manual=False)


def _named(candidate: _Candidate) -> Assignment:
    return Assignment(candidate.assignment_id, candidate.info.name if candidate.info else None)


def _recency(candidate: _Candidate) -> tuple[dt.datetime, int]:
    since = candidate.state.grade_since
    since = _aware(since) if since else dt.datetime.min.replace(tzinfo=dt.UTC)
    return since, candidate.assignment_id


def _blank(
    moment: int, reason: str, assignment_id: int | None, *, needs_manual: bool
) -> MomentOutcome:
    return MomentOutcome(
        moment=moment, passed=False, reason=reason, grade=None, score=None,
        points_possible=None, date=None, grader_ids=(), assignment_id=assignment_id,
        needs_manual=needs_manual,
    )


def _judged(
    course: CourseConfig,
    module: ModuleConfig,
    moment: int,
    counted: _Candidate,
    notes: list[str],
    explain_dates: bool = True,
) -> MomentOutcome:
    state = counted.state
    verdict = judge(
        state.grade, module.scale, counted.points_possible,
        pass_grades=course.pass_grades, pass_percent=course.pass_percent,
        thresholds=course.grade_thresholds,
    )
    recorded = first_posted(state, lambda grade: _outcome_key(
        course, module, grade, counted.points_possible))
    why, manual, date = verdict.reason, verdict.manual, moment_date(course, state, recorded)
    info = counted.info
    if info is not None and moment != course.moment_of_name(info.name) and (
            counted.assignment_id not in course.assignments):
        why = Reason("moment.renamed", why=why, name=info.name or "", moment=label(moment))
    if date is None:
        why, manual = Reason("moment.time_unknown"), True
    if manual:
        notes.append(Reason("note.moment", moment=label(moment), assignment=_named(counted),
                            why=why))
    return MomentOutcome(
        moment=moment, passed=verdict.passed and not manual,
        reason=Reason("moment.reason", moment=label(moment), why=why),
        grade=state.grade, score=state.score, points_possible=counted.points_possible, date=date,
        grader_ids=grader_ids([state.grader_id]), assignment_id=counted.assignment_id,
        needs_manual=manual,
        date_reason=date_reason(course, state, recorded) if explain_dates else "",
    )


# --- dates and graders -------------------------------------------------------------------


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _aware(when: dt.datetime) -> dt.datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def local_date(when: dt.datetime, timezone: str) -> dt.date:
    """The calendar date of `when` in `timezone` (a naive `when` is UTC)."""
    return _aware(when).astimezone(_zone(timezone)).date()


def clamp(date: dt.date, course: CourseConfig) -> dt.date:
    """`date`, but never earlier than the course start."""
    return max(date, course.start)


def _outcome_key(
    course: CourseConfig, module: ModuleConfig, grade: str | None, points: float | None
) -> tuple[bool, str | None]:
    """What the rules make of a grade on its module: passed or not, and its A–F letter (on an
    A–F module). Its spelling is not part of it: "B" and 85 of 100, "G" and "complete" agree."""
    verdict = judge(
        grade, module.scale, points, pass_grades=course.pass_grades,
        pass_percent=course.pass_percent, thresholds=course.grade_thresholds,
    )
    return verdict.passed, verdict.letter


def first_posted(state: SubmissionState, key: Callable[[str | None], object]) -> dt.datetime | None:
    """When the current grade's outcome was first posted (earlier grades with its `key` count).

    "7" then "8" of 10 on an A–F module are both C: the date stays that of the "7"; so does a
    "B" re-saved as 85 of 100. Without a posted-grade history, `grade_since`.
    """
    since = state.grade_since
    if since is None or not state.posted_grades:
        return since
    current = key(state.grade)
    for time, grade in reversed(state.posted_grades):
        if key(grade) != current:
            break
        since = min(since, time)
    return since


def moment_date(
    course: CourseConfig, state: SubmissionState, recorded: dt.datetime | None = None
) -> dt.date | None:
    """Local date of the latest submission not after the grade was recorded, else of the record.

    The record is `recorded` (when the current grade's outcome was first posted), else
    `grade_since`, else `graded_at`; with none the date is unknown (None). Clamped to the course
    start.
    """
    recorded = recorded or state.grade_since or state.graded_at
    if recorded is None:
        return None
    handed_in = _last_hand_in(state, _aware(recorded))
    return clamp(local_date(handed_in or recorded, course.timezone), course)


def _last_hand_in(state: SubmissionState, recorded: dt.datetime) -> dt.datetime | None:
    last = None  # a loop, not max() over a generator: this runs for every graded submission
    for time in state.submitted_times:
        time = _aware(time)
        if time <= recorded and (last is None or time > last):
            last = time
    return last


def date_reason(
    course: CourseConfig, state: SubmissionState, recorded: dt.datetime | None = None
) -> str:
    """How `moment_date` came about, in a teacher's words ("" when the date is unknown)."""
    recorded = recorded or state.grade_since or state.graded_at
    if recorded is None:
        return ""
    recorded = _aware(recorded)
    posted, zone = local_date(recorded, course.timezone), course.timezone
    handed_in = _last_hand_in(state, recorded)
    if handed_in is None:
        text = Reason("date.posted", posted=posted)
    else:
        text = Reason("date.handed_in", handed=local_date(handed_in, zone), posted=posted)
    later = sorted({local_date(t, zone).isoformat() for t in state.submitted_times
                    if _aware(t) > recorded})
    if later:
        text = Reason("date.later_hand_ins", why=text, later=", ".join(later))
    elif state.updated and _aware(state.updated) > recorded:
        text = Reason("date.later_events", why=text)
    if local_date(handed_in or recorded, zone) < course.start:
        text = Reason("date.course_start", why=text, start=course.start)
    return text


def grader_ids(ids: Iterable[int | None]) -> tuple[int, ...]:
    """People's grader ids: no None or negative (autograder) ids, deduplicated, in order."""
    out: list[int] = []
    for grader in ids:
        if grader is not None and grader >= 0 and grader not in out:
            out.append(grader)
    return tuple(out)


# --- modules -----------------------------------------------------------------------------


def _module_result(
    course: CourseConfig,
    module: ModuleConfig,
    outcomes: Mapping[int, MomentOutcome],
    notes: list[str],
) -> ComponentResult:
    moments = [outcomes[m] for m in module.moments]
    graders = grader_ids(g for o in moments for g in o.grader_ids)

    def result(earned: bool, grade: str | None, reason: str) -> ComponentResult:
        date = max((o.date for o in moments if o.date is not None), default=None)
        return ComponentResult(
            code=module.code, name=module.name, credits=module.credits, earned=earned,
            grade=grade, date=date if earned else None, grader_ids=graders, reason=reason,
        )

    open_ = [o for o in moments if not o.passed]
    if open_:
        return result(False, None, reasons(o.reason for o in open_))
    grade, why = ("G", "") if module.scale == "GU" else _af_grade(course, module, outcomes)
    if grade is None:
        notes.append(Reason("note.module", code=module.code, why=why))
        return result(False, None, why)
    if not is_exportable_grade(grade):
        return result(False, grade, Reason("module.not_pass", grade=grade, why=why))
    passed = ", ".join(label(o.moment) for o in moments)
    if why:
        return result(True, grade, Reason("module.passed_grade", moments=passed, why=why))
    return result(True, grade, Reason("module.passed", moments=passed))


def _af_grade(
    course: CourseConfig, module: ModuleConfig, outcomes: Mapping[int, MomentOutcome]
) -> tuple[str | None, str]:
    """(grade, explanation) from `grade_from`: one moment's letter, or summed points."""
    if not module.grade_from_is_list and len(module.grade_from) == 1:
        outcome = outcomes[module.grade_from[0]]
        verdict = judge(
            outcome.grade, "AF", outcome.points_possible,
            pass_grades=course.pass_grades, pass_percent=course.pass_percent,
            thresholds=course.grade_thresholds,
        )
        if verdict.letter is None:
            return None, Reason("module.no_letter", moment=label(outcome.moment),
                                grade=outcome.grade)
        return verdict.letter, Reason("module.letter_from", letter=verdict.letter,
                                      moment=label(outcome.moment))
    return _summed_grade(course, [outcomes[m] for m in module.grade_from])


def _summed_grade(
    course: CourseConfig, outcomes: list[MomentOutcome]
) -> tuple[str | None, str]:
    score = possible = 0.0
    for outcome in outcomes:
        points = _points(outcome)
        if points is None or outcome.points_possible is None:
            return None, Reason("module.no_points", moment=label(outcome.moment))
        score += points
        possible += outcome.points_possible
    names = "+".join(label(o.moment) for o in outcomes)
    percent = percent_of(score, possible)
    if percent is None:
        return None, Reason("module.no_points_possible", moments=names)
    letter = letter_for_percent(percent, course.grade_thresholds)
    return letter, Reason("module.summed", letter=letter, moments=names, score=float(score),
                          possible=float(possible), percent=float(percent))


def _points(outcome: MomentOutcome) -> float | None:
    if outcome.score is not None:
        return outcome.score
    number = parse_number(outcome.grade)
    return number[0] if number and not number[1] else None


# --- course grade ------------------------------------------------------------------------


# A module earned here and not exported yet: it goes out after everything exported before.
NOT_YET = dt.datetime.max.replace(tzinfo=dt.UTC)
LONG_AGO = dt.datetime.min.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class _Counted:
    """A module as it counts for the course grade: earned here or exported from another room."""

    code: str
    grade: str | None
    date: dt.date | None
    grader_ids: tuple[int, ...]
    grader_names: tuple[str, ...]
    room: int | None  # the other Canvas course it was exported from; None: earned here
    time: dt.datetime  # when it was earned, as far as the course grade is concerned


def _export_time(result: ExportedResult | None) -> dt.datetime:
    if result is None:
        return NOT_YET
    return _aware(result.exported_at) if result.exported_at else LONG_AGO


def _counted(
    course: CourseConfig, result: ComponentResult, exported: Mapping[str, ExportedResult]
) -> _Counted | None:
    """A module exported from another room counts as exported (what Ladok has), else if earned."""
    other = exported.get(result.code)
    if other is not None and other.course_id != course.canvas_id:
        return _Counted(result.code, other.grade, other.date, (), other.graders, other.course_id,
                        _export_time(other))
    if result.earned:
        return _Counted(result.code, result.grade, result.date, result.grader_ids, (), None,
                        _export_time(other))
    return None


def _course_grade(
    course: CourseConfig,
    modules: tuple[ComponentResult, ...],
    outcomes: Mapping[int, MomentOutcome],
    exported: Mapping[str, ExportedResult],
    notes: list[str],
) -> ComponentResult | None:
    """The course-grade line: None for a single-module course (Ladok sets it).

    Rooms sharing the ladok_code make one Ladok course: the course grade is decided in the room
    that earned the last module in time (`_decided_elsewhere`), dated by the latest module date
    and graded by the final module, wherever they were earned.
    """
    final = next((m for m in course.modules if m.final), None)
    if len(course.modules) < 2 or (final is None and any(m.scale == "AF" for m in course.modules)):
        return None
    credits = sum(m.credits for m in course.modules)
    counted = [_counted(course, m, exported) for m in modules]
    if any(c is None for c in counted):
        reason = _waiting(course, modules, outcomes, counted)
        return _course_line(course, credits, False, None, None, (), reason=reason)
    last = max((c.date for c in counted if c.date is not None), default=None)
    source = next(c for c in counted if c.code == final.code) if final else None
    grade = source.grade if source else "G"
    elsewhere = _decided_elsewhere(course, counted, exported, grade, last, notes)
    if elsewhere:
        return _course_line(course, credits, False, None, None, (), reason=elsewhere)
    reason = (Reason("course.final", grade=grade, code=final.code) if final
              else Reason("course.all_passed"))
    rooms = [Reason("course.module_elsewhere", code=c.code, room=c.room)
             for c in counted if c.room is not None]
    reason = reasons([reason, *rooms]) if rooms else reason
    graders = (source.grader_ids, source.grader_names) if source else (
        grader_ids(g for c in counted for g in c.grader_ids),
        tuple(dict.fromkeys(n for c in counted for n in c.grader_names)))
    ok = grade is not None and is_exportable_grade(grade)
    return _course_line(course, credits, ok, grade, last, *graders, reason=reason)


def _decided_elsewhere(
    course: CourseConfig, counted: list[_Counted], exported: Mapping[str, ExportedResult],
    grade: str | None, date: dt.date | None, notes: list[str],
) -> str | None:
    """Why another room decides the course grade, or None when this room does.

    The room that exported it keeps it. Otherwise the room that earned the last module in time
    decides, among the rooms still configured (a module from a room no longer configured
    counts, but that room decides nothing); with none of those, this room does.
    """
    owner = exported.get(course.ladok_code)
    if owner is not None:
        if owner.course_id == course.canvas_id:
            return None
        reason = Reason("course.owner_elsewhere", room=owner.course_id)
        if not course.configured(owner.course_id) and (
                not same_grade(owner.grade, grade) or owner.date != date):
            reason = Reason("course.owner_gone", room=owner.course_id, grade=grade,
                            date=date)
            notes.append(Reason("note.course_grade", why=reason))
        return reason
    deciding = [c for c in counted if c.room is None or course.configured(c.room)]
    if not deciding:
        return None
    last = max(c.time for c in deciding)
    if any(c.room is None and c.time == last for c in deciding):
        return None
    latest = next(c for c in deciding if c.time == last)
    return Reason("course.last_module_elsewhere", room=latest.room, code=latest.code)


def _course_line(
    course: CourseConfig,
    credits: float,
    earned: bool,
    grade: str | None,
    date: dt.date | None,
    graders: tuple[int, ...],
    names: tuple[str, ...] = (),
    *,
    reason: str,
) -> ComponentResult:
    return ComponentResult(
        code=course.ladok_code, name=COURSE_GRADE_NAME, credits=credits, earned=earned,
        grade=grade, date=date, grader_ids=graders, reason=reason, is_course_grade=True,
        grader_names=names,
    )


def _waiting(
    course: CourseConfig,
    modules: tuple[ComponentResult, ...],
    outcomes: Mapping[int, MomentOutcome],
    counted: list[_Counted | None],
) -> str:
    """Why the course grade is not earned: the moments still open, else the modules' reasons."""
    pairs = [(c, m) for c, m, n in zip(course.modules, modules, counted, strict=True)
             if n is None]
    moments = sorted(m for c, _ in pairs for m in c.moments if not outcomes[m].passed)
    if moments:
        return Reason("course.waiting", moments=", ".join(label(m) for m in moments))
    return reasons(Reason("course.module", code=c.code, why=m.reason) for c, m in pairs)
