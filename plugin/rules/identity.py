"""A student's identity on pages: a personnummer is never shown in full, nor found in part.

Identities come from Canvas as people typed them: with a space, an en dash, a double hyphen,
an underscore, a zero-width space or a trailing letter among the digits. Only the digits
decide whether an identity holds a personnummer (ten or twelve of them), so no separator or
stray character lets one through.
"""

from __future__ import annotations

import re
import unicodedata

FEWEST_DIGITS = 10  # YYMMDD and four: the shortest personnummer
HIDDEN = "****"
# A personnummer or samordningsnummer (day + 60) in running text: a possible date of birth,
# with or without century, then up to three separators or invisible characters, then four
# (an interim number holds letters in the first two of them).
PERSONNUMMER_IN_TEXT = re.compile(
    r"(?<![\d-])((?:19|20)?\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]|6[1-9]|[78]\d|9[01]))"
    r"[\s+_\-\u2010-\u2015\u200b-\u200d\u2060\ufeff]{0,3}[0-9A-Z]{2}\d{2}(?!\d)")


def _digits(text: str) -> str:
    return "".join(str(unicodedata.decimal(c)) for c in text if c.isdecimal())


def mask(identity: str | None) -> str | None:
    """The identity as pages show it: one holding a personnummer as its date of birth and
    -**** (19900101-****), whatever else it holds; other identities as they are."""
    if not identity:
        return identity
    digits = _digits(identity)
    if len(digits) < FEWEST_DIGITS:
        return identity
    century = len(digits) >= 12 and digits[:2] in ("19", "20")
    return f"{digits[:8 if century else 6]}-{HIDDEN}"


def search_key(text: str) -> str:
    """An identity as it is searched: its letters and digits, case-folded; separators and
    stray characters do not count."""
    return "".join(c for c in unicodedata.normalize("NFKC", text).casefold() if c.isalnum())


def is_identity(query: str, identity: str | None) -> bool:
    """Whether `query` is the whole of `identity`, never a part of it (a search may reveal no
    hidden digit): all the digits of one holding a personnummer, all the letters and digits
    of another."""
    if not identity:
        return False
    if len(_digits(identity)) >= FEWEST_DIGITS:
        return _digits(query) == _digits(identity)
    key = search_key(query)
    return bool(key) and key == search_key(identity)


def mask_in_text(text: str) -> str:
    """`text` (a message, a mail, Ladok's words) with every personnummer in it masked as the
    pages show one (19900101-****)."""
    return PERSONNUMMER_IN_TEXT.sub(lambda m: f"{m.group(1)}-{HIDDEN}", text)
