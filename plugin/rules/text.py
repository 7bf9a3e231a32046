"""Text that must fit one field of a line-oriented file, or be shown to people as it reads."""

from __future__ import annotations

import re

# ASCII and C1 control characters (tab, CR, LF, ESC, NEL, ...) and the Unicode line and
# paragraph separators: each would split or corrupt a line for `ladok report` or a log reader.
CONTROL_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Bidirectional formatting characters (marks, embeddings, overrides, isolates): in a name they
# can make the text that follows read backwards, or one name look like another.
BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_UNSHOWABLE = re.compile(f"{CONTROL_CHARS.pattern}|{BIDI_CONTROLS.pattern}")


def has_control(value: str) -> bool:
    """True when `value` holds a control character or line separator."""
    return CONTROL_CHARS.search(value) is not None


def spaced(value: str) -> str:
    """`value` with every control character or line separator turned into a space."""
    return CONTROL_CHARS.sub(" ", value)


def shown(value: str) -> str:
    """`value` as people are shown it (a name on a page, in a file or a mail): control
    characters and line separators as spaces, bidirectional formatting characters gone."""
    if _UNSHOWABLE.search(value) is None:  # the usual case, at the cost of one scan
        return value
    return spaced(BIDI_CONTROLS.sub("", value))


def escaped(value: str) -> str:
    """`value` with control characters and line separators as visible escapes (\\x0a), so
    one log record stays one line."""
    return CONTROL_CHARS.sub(lambda m: f"\\x{ord(m.group()):02x}", value)
