"""Text that must fit one field of a line-oriented export file."""

from __future__ import annotations

import re

# ASCII and C1 control characters (tab, CR, LF, ESC, NEL, ...) and the Unicode line and
# paragraph separators: each would split or corrupt a line for `ladok report` or a log reader.
CONTROL_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def has_control(value: str) -> bool:
    """True when `value` holds a control character or line separator."""
    return CONTROL_CHARS.search(value) is not None


def spaced(value: str) -> str:
    """`value` with every control character or line separator turned into a space."""
    return CONTROL_CHARS.sub(" ", value)
