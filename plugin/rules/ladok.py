"""What to do with one exported result given what Ladok holds for it, and when a course grade
may go out once Ladok is connected. Plain data in, a decision out; no I/O here.

Exactly once across both systems: a result Ladok already holds with the same grade and date
(a draft this service made before a crash, say) is recorded, never created again. A result
that is klarmarkerad or attested in Ladok is never changed: a different grade or date for it
is work for a person.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

UTKAST, KLARMARKERAD, ATTESTERAD = "utkast", "klarmarkerad", "attesterad"
# Actions for one line.
RECORD, CREATE, UPDATE, BY_HAND = "record", "create", "update", "by hand"


@dataclass(frozen=True)
class Held:
    """A result Ladok holds on the student's study result for the component."""

    uid: str
    grade: str
    exam_date: dt.date | None
    state: str  # utkast | klarmarkerad | attesterad


@dataclass(frozen=True)
class Action:
    kind: str  # RECORD, CREATE, UPDATE or BY_HAND
    held: Held | None = None  # RECORD: the result to record; UPDATE: the draft to change
    note: str = ""  # BY_HAND: what a person must do, in English (translated where shown)


def _same(held: Held, grade: str, exam_date: dt.date) -> bool:
    return held.grade.upper() == grade.upper() and held.exam_date == exam_date


def draft_action(grade: str, exam_date: dt.date, open_result: Held | None,
                 attested: Held | None) -> Action:
    """What to do with a result to be reported as `grade` on `exam_date`.

    `open_result`: the draft or klarmarkerad result on the component; `attested`: the latest
    attested one."""
    if open_result is not None:
        if _same(open_result, grade, exam_date):
            return Action(RECORD, open_result)
        if open_result.state == UTKAST:
            return Action(UPDATE, open_result)
        return Action(BY_HAND, open_result, hand_note(open_result))
    if attested is not None:
        if _same(attested, grade, exam_date):
            return Action(RECORD, attested)
        return Action(BY_HAND, attested, hand_note(attested))
    return Action(CREATE)


def hand_note(held: Held) -> str:
    """What a person does when a changed result is already klarmarkerad or attested."""
    return (f"{held.state} in Ladok ({held.grade}, {held.exam_date}): reopen or change that "
            "result in Ladok by hand")


WITHDRAWN_NOTE = "withdrawn: remove or change the result in Ladok by hand"


def modules_attested(module_codes: Iterable[str], attested_codes: Iterable[str]) -> bool:
    """A course grade may go out to Ladok once Ladok shows every one of its modules attested
    (Ladok refuses a course grade before that)."""
    attested = set(attested_codes)
    return all(code in attested for code in module_codes)
