"""Who a launch lets in, from its role URIs alone."""

from __future__ import annotations

import pytest

from plugin.lti.roles import LEARNER, STAFF, launch_kind
from tests.fake_platform import (
    INSTITUTION_ADMIN,
    INSTITUTION_INSTRUCTOR,
    INSTRUCTOR,
    LIS,
    MENTOR,
    TEACHING_ASSISTANT,
)
from tests.fake_platform import (
    LEARNER as LEARNER_ROLE,
)


@pytest.mark.parametrize("roles, kind", [
    ([INSTRUCTOR], STAFF),
    ([TEACHING_ASSISTANT], STAFF),
    ([f"{LIS}/membership#TeachingAssistant"], STAFF),
    ([INSTITUTION_ADMIN], STAFF),
    ([INSTITUTION_ADMIN, LEARNER_ROLE], STAFF),
    ([LEARNER_ROLE, INSTRUCTOR], STAFF),
    ([LEARNER_ROLE], LEARNER),
    ([LEARNER_ROLE, INSTITUTION_INSTRUCTOR], LEARNER),  # a teacher elsewhere, a student here
    ([INSTITUTION_INSTRUCTOR], None),
    ([MENTOR], None),
    ([f"{LIS}/membership#ContentDeveloper"], None),
    ([f"{LIS}/system/person#Administrator"], None),
    (["Instructor"], None),  # not a role URI
    ([f"{LIS}/membership/Learner#Instructor"], LEARNER),  # a kind of Learner
    ([f"{LIS}/membership/Instructor#Grader"], STAFF),  # a kind of Instructor
    ([f"{LIS}/x/membership#Instructor"], None),
    ([f"{LIS}/membership#Instructor#Learner"], None),
    ([f"{LIS}/membership/x/Instructor#Instructor"], None),
    ([f"{LIS}/membership#Instructor/"], None),
    ([f"{LIS}/membership#Instructors"], None),
    ([f"x{LIS}/membership#Instructor"], None),
    ([f"{LIS}/membership#Instructor".replace("http:", "https:")], None),
    ([f"{LIS}/institution/person/x#Administrator"], None),
    ([f"{LIS}/institution#Administrator"], None),
    ([f"{LIS}/membership/Learner#Instructor", f"{LIS}/x/membership#Instructor"], LEARNER),
    ([], None),
    ([None, 3], None),
])
def test_launch_kind_by_course_membership_or_institution_administrator(roles, kind):
    assert launch_kind(roles) == kind
