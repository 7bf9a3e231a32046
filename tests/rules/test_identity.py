"""Masking and identity search over personnummer typed with any separators or stray characters."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plugin.rules.identity import is_identity, mask

STRAY = [" ", "-", "\u2013", "\u2014", "--", "_", "\u200b", "\u00a0", "+", ".", "/", "\t",
         "\u202e", "\u3000"]


@st.composite
def typed(draw) -> tuple[str, str]:
    """(the number's digits, the number as someone typed it)."""
    long = draw(st.booleans())
    born = draw(st.dates(dt.date(1900, 1, 1), dt.date(2029, 12, 31)))
    digits = born.strftime("%Y%m%d" if long else "%y%m%d") + draw(
        st.text("0123456789", min_size=4, max_size=4))
    text = "".join(c + draw(st.sampled_from(["", "", *STRAY])) for c in digits)
    return digits, draw(st.sampled_from(["", *STRAY])) + text + draw(
        st.sampled_from(["", "A", "x", " ", "\u200b"]))


@given(typed())
def test_a_typed_personnummer_is_masked_to_its_date(number):
    digits, text = number
    assert mask(text) == f"{digits[:-4]}-****"


@given(typed(), typed())
def test_an_identity_is_found_by_its_whole_number_only(number, query):
    assert is_identity(query[1], number[1]) is (query[0] == number[0])


@given(typed(), st.integers(1, 9))
def test_no_part_of_a_number_finds_it(number, keep):
    digits, text = number
    assert not is_identity(digits[:keep], text)
    assert not is_identity(digits[-keep:], text)


@pytest.mark.parametrize("identity", ["s12345", "anna.svensson", "A-123456789", None, ""])
def test_other_identities_are_shown_as_they_are_and_found_whole(identity):
    assert mask(identity) == identity
    if identity:
        assert is_identity(identity.upper(), identity)
        assert not is_identity(identity[:-1], identity)
