"""Who a launch lets in: course staff, a learner, or nobody.

Roles are LIS vocabulary URIs, read exactly: a course (context) role is
`…/lis/v2/membership#Role`, or `…/lis/v2/membership/Role#SubRole` for a sub-role, which is a
kind of its principal Role (`membership/Instructor#TeachingAssistant` is an Instructor,
`membership/Learner#Instructor` a Learner); an institution role is
`…/lis/v2/institution/person#Role`. Anything else (another path, a short name, a second `#`)
is no role.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

STAFF = "staff"
LEARNER = "learner"
CONTEXT, INSTITUTION = "membership", "institution"
STAFF_IN_COURSE = {"Instructor", "TeachingAssistant"}
LEARNER_IN_COURSE = {"Learner"}
_ROLE = re.compile(
    r"http://purl\.imsglobal\.org/vocab/lis/v2/"
    r"(?:(?P<context>membership)(?:/(?P<principal>[A-Za-z]+))?|(?P<institution>institution)"
    r"/person)#(?P<role>[A-Za-z]+)")


def parse_role(uri: str) -> tuple[str, str] | None:
    """(CONTEXT or INSTITUTION, role name) of a role URI; a sub-role gives its principal
    role. None for anything that is not exactly such a URI."""
    match = _ROLE.fullmatch(uri)
    if match is None:
        return None
    if match["context"]:
        return CONTEXT, match["principal"] or match["role"]
    return INSTITUTION, match["role"]


def launch_kind(roles: Iterable[object]) -> str | None:
    """STAFF, LEARNER or None for a launch's role URIs.

    Course membership decides: an Instructor or TeachingAssistant is staff, a Learner is a
    learner (Canvas sends institution roles such as Instructor even in courses where the user
    is a student, so those are not read). An institution Administrator is staff in every course.
    Staff wins over Learner.
    """
    parsed = {parse_role(r) for r in roles if isinstance(r, str)}
    membership = {name for kind, name in filter(None, parsed) if kind == CONTEXT}
    if membership & STAFF_IN_COURSE or (INSTITUTION, "Administrator") in parsed:
        return STAFF
    if membership & LEARNER_IN_COURSE:
        return LEARNER
    return None
