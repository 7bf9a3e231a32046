"""Personnummer as people type them (a space, an en dash, a double hyphen, an underscore, a
zero-width space, a trailing letter...) are masked on every page, and the search finds a
student by the whole identity only."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from plugin.demo.live_events import grade_event
from plugin.export.run import run_export
from tests.helpers import TERM_START, term
from tests.web.test_pages import cell_states, post_form

# Canvas user -> identity as typed in Canvas's SIS field.
TYPED = {
    1001: "19930303 1301",
    1002: "19930303\u20131302",  # en dash
    1003: "19930303--1303",
    1004: "19930303_1304",
    1005: "19930303\u200b1305",  # zero-width space
    1006: "19930303-1306A",
    1007: "930303\u00a01307",  # no-break space, two-digit year
}
LATER = TERM_START + dt.timedelta(weeks=12)


def digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def assert_masked(html: str, where: str) -> None:
    """No identity of TYPED in full, in whatever form, anywhere in `html`; masked ones shown."""
    for user, identity in TYPED.items():
        number = digits(identity)
        date, last = number[:-4], number[-4:]
        assert identity not in html, (where, user)
        assert not re.search(re.escape(date) + r"[^0-9]{0,12}" + last, html), (where, user)
    assert re.search(r"(19)?930303-\*\*\*\*", html), where


@pytest.fixture
def typed(post_all):
    """A term of the test course; then each student's identity as TYPED."""
    post_all(term(len(TYPED)) + [
        grade_event(565, 301, user, "G", LATER, sis_id=identity)
        for user, identity in TYPED.items()])


@pytest.fixture
def runs(typed, post_all, store, settings):
    """A run with each student's new results, then one with corrections of every project."""
    first = run_export(store, settings, course_id=565, trigger="manual")
    post_all([grade_event(565, 310, user, "A", LATER + dt.timedelta(days=1))
              for user in TYPED])
    second = run_export(store, settings, course_id=565, trigger="manual")
    assert first.counts.get("new") and second.counts.get("correction")
    return first.run_id, second.run_id


def test_every_page_masks_identities_whatever_they_hold(admin_client, runs):
    pages = ["/courses/565", *[f"/courses/565/students/{u}" for u in TYPED],
             *[f"/exports/{run}" for run in runs]]
    for page in pages:
        response = admin_client.get(page)
        assert response.status_code == 200, page
        assert_masked(response.text, page)


def test_the_preview_masks_identities_whatever_they_hold(admin_client, typed):
    html = post_form(admin_client, "/courses/565/preview").text
    assert "Student 1" in html
    assert_masked(html, "preview")


def search(client, query: str) -> set[int]:
    html = client.get("/courses/565", query_string={"q": query}).text
    return {user for user, _ in cell_states(html)}


@pytest.mark.parametrize("user", list(TYPED))
def test_the_whole_identity_finds_the_student_however_it_is_typed(admin_client, typed, user):
    number = digits(TYPED[user])
    for query in (TYPED[user], number, f"{number[:-4]}-{number[-4:]}",
                  f" {number[:-4]} {number[-4:]} "):
        assert search(admin_client, query) == {user}, query


def test_no_part_of_an_identity_finds_a_student(admin_client, typed):
    number = digits(TYPED[1001])  # 199303031301
    parts = [number[:-1], f"{number[:8]}-130", f"{number[:8]}-13", number[:8], "1301",
             "0303-1301", number[2:], number + "1"]
    for part in parts:
        assert search(admin_client, part) == set(), part
    for d in "0123456789":  # a guess finds only the student whose whole number it is
        guess = f"{number[:8]}-130{d}"
        whole = {u for u, typed in TYPED.items() if digits(typed) == digits(guess)}
        assert search(admin_client, guess) == whole, guess
