"""Every reason and status the rules and pages can say, said in Swedish: enumerated from the
code's own registries, so a new code without a translation fails here."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from flask_babel import force_locale

from plugin.rules.reasons import MESSAGES, Reason
from plugin.web.template_helpers import STATE_MARKS, state_words
from plugin.words import in_language, on_page

# English words that no Swedish sentence of ours holds (names and codes aside).
ENGLISH = frozenset("""
the and with passed waiting grade posted hidden held back earned module course assignment
withdrawn correction handle not from for points below decided room removed excused identity
next until new exported no is of to it this which where was day first last later events moved
counted still renamed map contains tab newline other control character sum possible final all
shares counts here reports withdrew earns now change configured longer will marked
different needs manual handling known unknown time grading gives written cannot report student
has grades add again without numeric pass exported
""".split())
WORD = re.compile(r"[A-Za-zÅÄÖåäö]+")
SAMPLES = {
    "moment": "kmom05", "moments": "kmom04, kmom05", "grade": "PG", "letter": "B",
    "assignment": 305, "counted": 306, "code": "2205", "room": 566, "rooms": "566, 567",
    "field": "sis_user_id", "name": "Labb", "possible": 2.5, "percent": 62.5, "score": 1.5,
    "limit": 50.0, "date": dt.date(2025, 3, 4), "posted": dt.date(2025, 3, 4),
    "handed": dt.date(2025, 3, 3), "later": "2025-03-05", "start": dt.date(2025, 1, 20),
    "due": "2025-12-09T02:30:04+00:00", "why": Reason("grade.not_pass", grade="PG"),
}


def sample(code: str) -> Reason:
    """The reason `code` with a sample value for each of its parameters."""
    names = re.findall(r"%\((\w+)\)s", MESSAGES[code])
    return Reason(code, **{n: SAMPLES[n] for n in names})


def english_words(text: str) -> set[str]:
    return {w for w in WORD.findall(text) if w.lower() in ENGLISH}


@pytest.mark.parametrize("code", sorted(MESSAGES))
def test_every_reason_is_said_in_swedish(app, code):
    reason = sample(code)
    with app.test_request_context("/"), force_locale("sv"):
        page = on_page(reason)
    assert english_words(page) == set(), page
    assert in_language(reason, "sv") == page  # the mail's Swedish part says the same
    if english_words(str(reason)):  # a sentence with words, not only parameters
        assert page != str(reason)


def test_every_result_state_is_said_in_swedish(app):
    with app.test_request_context("/"), force_locale("sv"):
        words = state_words()
    assert set(words) == set(STATE_MARKS)  # every state the pages show has its words
    for state, text in words.items():
        assert english_words(text) == set(), (state, text)


def test_swedish_numbers_take_a_decimal_comma(app):
    reason = Reason("grade.passed_points", grade="1,5", possible=2.5, percent=60.0)
    assert str(reason) == "passed with 1,5/2.5 points (60%)"  # the English text as before
    with app.test_request_context("/"), force_locale("sv"):
        assert on_page(reason) == "godkänt med 1,5/2,5 poäng (60 %)"


def test_a_list_of_reasons_is_said_in_turn(app):
    both = Reason("list", items=(sample("moment.waiting"), sample("moment.hidden")))
    assert str(both) == "waiting for kmom05; kmom05: no posted grade (hidden)"
    assert in_language(both, "sv") == "väntar på kmom05; kmom05: inget publicerat betyg (dolt)"
