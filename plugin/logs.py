"""Log records that stay one line: control characters in every message are escaped.

A message may quote what a request brought (a name from a Canvas launch, an address, a
reason): a newline in it would write a line of its own, an escape sequence would drive the
terminal reading the log. Tracebacks are left as they are.
"""

from __future__ import annotations

import logging

from plugin.rules.text import escaped


class OneLineRecord(logging.LogRecord):
    """A log record whose message has its control characters escaped (\\x0a)."""

    def getMessage(self) -> str:
        return escaped(super().getMessage())


def install() -> None:
    """Make every log record this process creates a OneLineRecord."""
    if logging.getLogRecordFactory() is not OneLineRecord:
        logging.setLogRecordFactory(OneLineRecord)
