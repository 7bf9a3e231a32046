"""Why the rules decided as they did: a stable code with named parameters.

A `Reason` is its English text (what the JSON API and the logs show), and it keeps its code and
parameters so pages and mails can say it in their reader's language (plugin/words.py). Every
code and its English sentence is in `MESSAGES`; the sentences are the msgids of the catalogue.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def N_(message: str) -> str:
    """Marks an English sentence for the catalogue; it is translated where it is shown."""
    return message


# Parameters that are dates, numbers, other reasons or names never need translating themselves.
MESSAGES: dict[str, str] = {
    # a grade judged (grades.judge)
    "grade.none": N_("no grade"),
    "grade.not_pass": N_("grade %(grade)s is not a pass"),
    "grade.passed": N_("passed with %(grade)s"),
    "grade.not_pass_af": N_("grade %(grade)s is not a pass on an A–F module"),
    "grade.not_pass_gu": N_("grade %(grade)s is not a pass on a G/U module"),
    "grade.no_points_possible": N_("numeric grade %(grade)s without points possible"),
    "grade.passed_points": N_("passed with %(grade)s/%(possible)s points (%(percent)s%%)"),
    "grade.passed_letter": N_("passed with %(grade)s -> %(letter)s"),
    "grade.passed_points_letter": N_(
        "passed with %(grade)s/%(possible)s points (%(percent)s%%) -> %(letter)s"),
    "grade.not_pass_letter": N_("not a pass: %(grade)s -> %(letter)s"),
    "grade.not_pass_points_letter": N_(
        "not a pass: %(grade)s/%(possible)s points (%(percent)s%%) -> %(letter)s"),
    "grade.below": N_("%(grade)s is below %(limit)s%%"),
    "grade.below_points": N_(
        "%(grade)s/%(possible)s points (%(percent)s%%) is below %(limit)s%%"),
    # a moment
    "moment.reason": "%(moment)s: %(why)s",
    "moment.waiting": N_("waiting for %(moment)s"),
    "moment.hidden": N_("%(moment)s: no posted grade (hidden)"),
    "moment.removed": N_("%(moment)s: no posted grade (removed)"),
    "moment.excused": N_("%(moment)s: no posted grade (excused)"),
    "moment.time_unknown": N_("time of grading unknown"),
    "moment.renamed": N_('%(why)s (assignment renamed to "%(name)s": still counted as '
                         '%(moment)s)'),
    # manual handling of a moment
    "note.hidden": N_("%(moment)s (assignment %(assignment)s): no posted grade (hidden)"),
    "note.removed": N_("%(moment)s (assignment %(assignment)s): no posted grade (removed)"),
    "note.excused": N_("%(moment)s (assignment %(assignment)s): no posted grade (excused)"),
    "note.hidden_counting": N_("%(moment)s (assignment %(assignment)s): no posted grade "
                               "(hidden); counting assignment %(counted)s"),
    "note.removed_counting": N_("%(moment)s (assignment %(assignment)s): no posted grade "
                                "(removed); counting assignment %(counted)s"),
    "note.excused_counting": N_("%(moment)s (assignment %(assignment)s): no posted grade "
                                "(excused); counting assignment %(counted)s"),
    "note.moment": N_("%(moment)s (assignment %(assignment)s): %(why)s"),
    "note.module": N_("module %(code)s: %(why)s"),
    "note.course_grade": N_("course grade: %(why)s"),
    "note.renamed": N_('assignment %(assignment)s renamed to "%(name)s": still counted as '
                       '%(moment)s; map it in `assignments` (%(assignment)s = "%(moment)s") or '
                       'rename it back'),
    "note.elsewhere": N_("%(code)s: exported from Canvas course %(room)s, which shares the "
                         "Ladok code: it counts here for the course grade, and that course "
                         "reports it"),
    "note.taken_over": N_("%(code)s: Canvas course %(room)s withdrew it and this course earns "
                          "it: this course reports it as a correction from now on"),
    "note.undecided": N_("course grade: earned (%(grade)s, %(date)s) but decided by no "
                         "configured room: its modules were exported from Canvas course "
                         "%(rooms)s, no longer configured, and the student has no grades in a "
                         "configured room; add that course to the configuration again, or "
                         "report the course grade in Ladok by hand"),
    # how an examination date was derived
    "date.posted": N_("the day the grade was first posted (%(posted)s): no hand-in before it "
                      "is known"),
    "date.handed_in": N_("handed in %(handed)s, the last hand-in before the grade was first "
                         "posted (%(posted)s)"),
    "date.later_hand_ins": N_("%(why)s; later hand-ins (%(later)s) and events that left the "
                              "grade as it was do not move it"),
    "date.later_events": N_("%(why)s; events that left the grade as it was do not move it"),
    "date.course_start": N_("%(why)s; moved to the course start (%(start)s)"),
    # a module
    "module.passed": N_("passed %(moments)s"),
    "module.passed_grade": N_("passed %(moments)s; %(why)s"),
    "module.not_pass": N_("grade %(grade)s is not a pass (%(why)s)"),
    "module.no_letter": N_("%(moment)s: grade %(grade)s gives no A–F grade"),
    "module.letter_from": N_("grade %(letter)s from %(moment)s"),
    "module.no_points": N_("%(moment)s: no points to sum for the grade"),
    "module.no_points_possible": N_("%(moments)s: no points possible to sum for the grade"),
    "module.summed": N_("grade %(letter)s from %(moments)s: %(score)s/%(possible)s points "
                        "(%(percent)s%%)"),
    # the course grade
    "course.final": N_("grade %(grade)s from final module %(code)s"),
    "course.all_passed": N_("all modules passed"),
    "course.module_elsewhere": N_("module %(code)s exported from Canvas course %(room)s"),
    "course.waiting": N_("waiting for %(moments)s"),
    "course.module": N_("module %(code)s: %(why)s"),
    "course.owner_elsewhere": N_("decided in Canvas course %(room)s (same Ladok course), "
                                 "which exported it"),
    "course.owner_gone": N_("decided in Canvas course %(room)s (same Ladok course), which "
                            "exported it; that room is no longer configured, and the course "
                            "grade is now %(grade)s (%(date)s): change it in Ladok by hand"),
    "course.last_module_elsewhere": N_("decided in Canvas course %(room)s (same Ladok course), "
                                       "where the last module (%(code)s) was earned"),
    "held.unwritable": N_("%(code)s: cannot be written to the report: %(why)s"),
    # a student's identity
    "identity.missing": N_("no %(field)s"),
    "identity.control": N_("%(field)s contains a tab, newline or other control character"),
    "held_back": N_("held back: %(why)s"),
    # where a result stands (the student endpoint's `status`)
    "status.not_earned": N_("not earned"),
    "status.exported": N_("exported"),
    "status.new": N_("new result for the next export"),
    "status.correction": N_("correction for the next export"),
    "status.held_back": N_("held back: %(why)s; it goes out with the first export after the "
                           "identity is in Canvas"),
    "status.attestation": N_("waiting for module attestation (until %(due)s)"),
    "status.withdrawing": N_("no longer earned: will be marked withdrawn — handle in Ladok"),
    "status.withdrawn": N_("withdrawn — handle in Ladok"),
    "status.elsewhere": N_("exported from Canvas course %(room)s, which shares the Ladok code: "
                           "it counts here for the course grade, and that course reports it (a "
                           "different result here needs manual handling)"),
    "status.taken_over": N_("correction for the next export: Canvas course %(room)s withdrew "
                            "it and this course earns it, so this course reports it from now "
                            "on"),
    # a student's problems on the course page
    "problem.withdrawing": N_("%(code)s: withdrawn — handle in Ladok"),
    "problem.elsewhere": N_("%(code)s: exported from another Canvas course"),
}
# How pages and mails name an assignment (the API's English keeps the bare id).
NAMED_ASSIGNMENT = N_('"%(name)s", id %(id)s')
# A moment's reason: its label and the judgement of its grade.
MOMENT = "moment.reason"
# A list of reasons, said one after the other.
LIST = "list"
SEPARATOR = "; "


class Assignment(int):
    """An assignment's id that knows the assignment's name: the API's English says the id,
    pages and mails say the name beside it."""

    name: str

    def __new__(cls, assignment_id: int, name: str | None = None) -> Assignment:
        self = super().__new__(cls, assignment_id)
        self.name = name or ""
        return self

    def __reduce__(self):
        return (Assignment, (int(self), self.name))


def english_number(value: float) -> str:
    """A number as the English text writes it (2.5, 80)."""
    return f"{value:g}"


class Reason(str):
    """A reason in English, keeping its `code` and `params` (str, int, float, date or Reason,
    or a tuple of reasons) for the other languages."""

    code: str
    params: dict[str, Any]

    def __new__(cls, _code: str, /, **params: Any) -> Reason:
        if _code != LIST and _code not in MESSAGES:
            raise KeyError(f"unknown reason code {_code!r}")
        self = super().__new__(cls, say(_code, params, str, english_number, named=False))
        self.code, self.params = _code, params
        return self

    def __reduce__(self):  # pickled with its code (cached views cross processes)
        return (_rebuild, (self.code, self.params))

    @property
    def stable_code(self) -> str:
        """The code a program compares: a moment's reason says the code of its judgement
        ("kmom03: grade PG is not a pass" is `grade.not_pass`)."""
        return self.params["why"].stable_code if self.code == MOMENT else self.code

    @property
    def parts(self) -> tuple[Reason, ...]:
        """The reasons said in turn (a list), else this one alone."""
        return tuple(self.params["items"]) if self.code == LIST else (self,)

    def as_json(self) -> dict[str, Any]:
        """Code and parameters as JSON values (nested reasons as objects, dates as text)."""
        return {"code": self.code, "params": {k: _json(v) for k, v in self.params.items()}}


def _rebuild(code: str, params: dict[str, Any]) -> Reason:
    return Reason(code, **params)


def _json(value: Any) -> Any:
    if isinstance(value, Reason):
        return value.as_json()
    if isinstance(value, tuple | list):
        return [_json(v) for v in value]
    return value.isoformat() if isinstance(value, dt.date) else value


def from_json(value: Mapping[str, Any] | None, text: str = "") -> str:
    """The Reason stored by `as_json`, or `text` when none is (or its code is unknown)."""
    if not value or (value.get("code") != LIST and value.get("code") not in MESSAGES):
        return text
    params = {k: from_json(v) if isinstance(v, dict) else
              tuple(from_json(i) for i in v) if isinstance(v, list) else v
              for k, v in (value.get("params") or {}).items()}
    return Reason(value["code"], **params)


def reasons(items: Iterable[str]) -> Reason:
    """Several reasons as one, said in turn ("; " between them); one reason as itself."""
    items = tuple(items)
    return items[0] if len(items) == 1 and isinstance(items[0], Reason) else Reason(
        LIST, items=items)


def say(code: str, params: Mapping[str, Any], translate: Callable[[str], str],
        number: Callable[[float], str], *, named: bool = True) -> str:
    """The reason in words: `translate` gives the sentence of an English msgid and `number`
    writes a number (both for the reader's language); `named`: assignments by name too."""
    def word(value: Any) -> str:
        if isinstance(value, Reason):
            return say(value.code, value.params, translate, number, named=named)
        if named and isinstance(value, Assignment) and value.name:
            return translate(NAMED_ASSIGNMENT) % {"name": value.name, "id": int(value)}
        if isinstance(value, tuple):
            return SEPARATOR.join(word(v) for v in value)
        if isinstance(value, float):
            return number(value)
        return value.isoformat() if isinstance(value, dt.date) else str(value)

    if code == LIST:
        return word(params["items"])
    return translate(MESSAGES[code]) % {k: word(v) for k, v in params.items()}


def coded(reason: str) -> dict[str, Any]:
    """`code` and `params` of a reason for a JSON record ({} for text that is no Reason)."""
    return reason.as_json() if isinstance(reason, Reason) else {}
