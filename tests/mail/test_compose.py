"""What a message may never carry: a personnummer, whatever text brought it."""

from __future__ import annotations

import pytest

from plugin.rules.identity import mask_in_text as mask_personnummer


@pytest.mark.parametrize(("text", "masked"), [
    ("19900101-1234", "19900101-****"),
    ("900101-1234", "900101-****"),
    ("199001011234", "19900101-****"),
    ("19900101+1234", "19900101-****"),
    ("samordningsnummer 19900161-1234", "samordningsnummer 19900161-****"),
    ("student_id '19900101-1234\\t'", "student_id '19900101-****\\t'"),
    ("Bo 19930303 1301", "Bo 19930303-****"),
    ("19930303\u20131301", "19930303-****"),
    ("19930303--1301", "19930303-****"),
    ("19930303_1301", "19930303-****"),
    ("19930303\u200b1301", "19930303-****"),
    ("19930303-1301A", "19930303-****A"),
])
def test_personnummer_shapes_are_masked(text, masked):
    assert mask_personnummer(text) == masked


@pytest.mark.parametrize("text", [
    "21070000000000565", "2025-09-29", "2026-03-01 03:30", "run 12", "Canvas user 1003",
    "19900100-1234", "19901301-1234",
])
def test_ids_dates_and_impossible_dates_are_left_alone(text):
    assert mask_personnummer(text) == text
