"""Who a launch lets in: course staff, a learner, or nobody."""

from __future__ import annotations

from collections.abc import Iterable

from pylti1p3.roles import AbstractRole, RoleType

STAFF = "staff"
LEARNER = "learner"
STAFF_IN_COURSE = {"Instructor", "TeachingAssistant"}
LEARNER_IN_COURSE = {"Learner"}


def _parsed(roles: Iterable[str]) -> list[tuple[str, str | None]]:
    parser = AbstractRole({})
    return [parser.parse_role_str(r) for r in roles if isinstance(r, str)]


def launch_kind(roles: Iterable[str]) -> str | None:
    """STAFF, LEARNER or None for a launch's role URIs.

    Course membership decides: an Instructor or TeachingAssistant is staff, a Learner is a
    learner (Canvas sends institution roles such as Instructor even in courses where the user
    is a student, so those are not read). An institution Administrator is staff in every course.
    Staff wins over Learner.
    """
    parsed = _parsed(roles)
    membership = {name for name, kind in parsed if kind == RoleType.CONTEXT}
    if membership & STAFF_IN_COURSE or (
            ("Administrator", RoleType.INSTITUTION) in parsed):
        return STAFF
    if membership & LEARNER_IN_COURSE:
        return LEARNER
    return None
