"""The rules' outcome for the common student, computed the short way, or None.

An export run decides thousands of students whose every moment has one posted, passing grade
and nothing exported before. For them the full rules (`results.evaluate_student`) reach the
same outcome along a long road; `CommonCase.evaluate` takes the short one: the moment of each
assignment and each distinct grade's verdict are worked out once per course, not per student.
Anything else (a missing, hidden, excused or failing grade, two assignments on a moment, a
regraded history, summed points, results exported before) returns None, and the caller uses
the full rules. The outcome equals the full rules' in everything but the reasons (the words
pages show), which an export run does not read; a property test holds the two together.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from itertools import chain

from plugin.rules.course_config import CourseConfig, ModuleConfig
from plugin.rules.grades import Verdict, is_exportable_grade, judge
from plugin.rules.results import (
    COURSE_GRADE_NAME,
    AssignmentInfo,
    ComponentResult,
    MomentOutcome,
    StudentOutcome,
    moment_date,
    moment_of_assignment,
)
from plugin.rules.submission import SubmissionState


class CommonCase:
    """The short road for one course and its assignments (reused for all its students)."""

    def __init__(self, course: CourseConfig, assignments: Mapping[int, AssignmentInfo]) -> None:
        """Learn which moment each known assignment counts for."""
        self.course = course
        self.assignments = assignments
        self._moments: dict[int, int | None] = {}
        self._verdicts: dict[tuple[str, str, float | None], Verdict] = {}
        # A moment in two modules counts as the last one says, as in the full rules.
        self._module_of = {m: module for module in course.modules for m in module.moments}
        self._simple = all(_simple(m) for m in course.modules)
        self._known, self._in_order = set(assignments), sorted(assignments)
        self._exportable: dict[str, bool] = {}
        self._facts: dict[int, tuple[str, float | None]] = {}

    def evaluate(self, submissions: Mapping[int, SubmissionState]) -> StudentOutcome | None:
        """The outcome when every moment passes plainly (reasons left empty), else None."""
        if not self._simple:
            return None
        by_moment: dict[int, MomentOutcome] = {}
        unmapped = []
        ids = self._in_order if self._known.issuperset(submissions) else sorted(
            self._known | set(submissions))
        for assignment_id in ids:
            moment = self._moment(assignment_id)
            if moment is None:
                unmapped.append(assignment_id)
                continue
            state = submissions.get(assignment_id)
            if state is None or moment not in self._module_of:  # no module counts it
                continue
            if moment in by_moment:  # two assignments on one moment: the full rules choose
                return None
            outcome = self._moment_outcome(moment, assignment_id, state)
            if outcome is None:
                return None
            by_moment[moment] = outcome
        modules = []
        for module in self.course.modules:
            result = self._module(module, by_moment)
            if result is None:
                return None
            modules.append(result)
        return StudentOutcome(
            moments=tuple(by_moment[m] for m in sorted(by_moment)), modules=tuple(modules),
            course_grade=self._course_grade(tuple(modules)),
            unmapped_assignments=tuple(unmapped), manual=())

    def _moment(self, assignment_id: int) -> int | None:
        if assignment_id not in self._moments:
            info = self.assignments.get(assignment_id)
            self._moments[assignment_id] = moment_of_assignment(
                self.course, assignment_id, info.name if info else None,
                info.exported_moment if info else None)
        return self._moments[assignment_id]

    def _verdict(self, grade: str, scale: str, points: float | None) -> Verdict:
        key = (grade, scale, points)
        verdict = self._verdicts.get(key)
        if verdict is None:
            course = self.course
            verdict = self._verdicts[key] = judge(
                grade, scale, points, pass_grades=course.pass_grades,
                pass_percent=course.pass_percent, thresholds=course.grade_thresholds)
        return verdict

    def _is_exportable(self, grade: str) -> bool:
        known = self._exportable.get(grade)
        if known is None:
            known = self._exportable[grade] = is_exportable_grade(grade)
        return known

    def _moment_outcome(self, moment: int, assignment_id: int,
                        state: SubmissionState) -> MomentOutcome | None:
        """A posted grade that passes, first posted as it is now; else None."""
        grade = state.grade
        if not state.has_posted_grade or not grade.strip() or state.grade_since is None:
            return None
        recorded = state.grade_since
        if state.posted_grades:  # only the current grade itself, posted once
            if len(state.posted_grades) > 1 or state.posted_grades[0][1] != grade:
                return None
            recorded = min(recorded, state.posted_grades[0][0])
        scale, points = self._facts_of(moment, assignment_id)
        points = state.points_possible if points is None else points
        verdict = self._verdict(grade, scale, points)
        date = moment_date(self.course, state, recorded)
        if not verdict.passed or verdict.manual or date is None:
            return None
        return MomentOutcome(
            moment=moment, passed=True, reason="", grade=grade, score=state.score,
            points_possible=points, date=date, grader_ids=_person(state.grader_id),
            assignment_id=assignment_id, needs_manual=False)

    def _facts_of(self, moment: int, assignment_id: int) -> tuple[str, float | None]:
        """The scale of the assignment's moment and its own points possible (None if unknown)."""
        facts = self._facts.get(assignment_id)
        if facts is None:
            info = self.assignments.get(assignment_id)
            facts = self._facts[assignment_id] = (
                self._module_of[moment].scale, info.points_possible if info else None)
        return facts

    def _module(self, module: ModuleConfig,
                outcomes: Mapping[int, MomentOutcome]) -> ComponentResult | None:
        """The module earned with an exportable grade, else None."""
        moments = [outcomes.get(m) for m in module.moments]
        if any(o is None for o in moments):
            return None
        grade = "G"
        if module.scale != "GU":
            first = moments[module.moments.index(module.grade_from[0])]
            grade = self._verdict(first.grade, "AF", first.points_possible).letter
        if grade is None or not self._is_exportable(grade):
            return None
        return ComponentResult(
            code=module.code, name=module.name, credits=module.credits, earned=True,
            grade=grade, date=max(o.date for o in moments),
            grader_ids=_in_order(o.grader_ids for o in moments), reason="")

    def _course_grade(self, modules: tuple[ComponentResult, ...]) -> ComponentResult | None:
        """Every module earned here, none exported: this room decides the course grade."""
        course = self.course
        final = next((m for m in course.modules if m.final), None)
        if len(course.modules) < 2 or (final is None and any(
                m.scale == "AF" for m in course.modules)):
            return None
        source = next(r for r in modules if r.code == final.code) if final else None
        graders = source.grader_ids if source else _in_order(r.grader_ids for r in modules)
        return ComponentResult(
            code=course.ladok_code, name=COURSE_GRADE_NAME,
            credits=sum(m.credits for m in course.modules), earned=True,
            grade=source.grade if source else "G", date=max(r.date for r in modules),
            grader_ids=graders, reason="", is_course_grade=True)


def _simple(module: ModuleConfig) -> bool:
    """A G/U module, or an A–F one graded by the letter of one of its moments."""
    if module.scale == "GU":
        return True
    return (not module.grade_from_is_list and len(module.grade_from) == 1
            and module.grade_from[0] in module.moments)



def _person(grader_id: int | None) -> tuple[int, ...]:
    """The grader ids of one grade, as `results.grader_ids` gives them (no autograder)."""
    return () if grader_id is None or grader_id < 0 else (grader_id,)


def _in_order(ids: Iterable[tuple[int, ...]]) -> tuple[int, ...]:
    """Grader id tuples (each already as `results.grader_ids` gives them) joined, deduplicated
    in order."""
    return tuple(dict.fromkeys(chain.from_iterable(ids)))
