"""gunicorn's logger, made safe: no query string and no raw control character in any line.

A query string may carry the webhook's `?token=`; a control character in a path (`%0a`,
`%1b`) would let a request write a line of its own or drive the terminal reading the log.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from gunicorn import glogging

from plugin.rules.text import escaped

QUERY = re.compile(r"\?[^\s'\"]*")
# Access-log atoms that can hold a URL with its query string.
URL_ATOMS = {"r", "q", "f", "{referer}i", "{raw_uri}e", "{query_string}e", "{location}o"}


def scrub(text: str) -> str:
    """`text` without query strings, its control characters escaped."""
    return escaped(QUERY.sub("", text))


class _ScrubRecords(logging.Filter):
    """Rewrites each error-log record's message through scrub()."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = scrub(record.getMessage()), None
        return True


class Logger(glogging.Logger):
    """gunicorn's logger with scrubbed error-log messages and access-log fields."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        if not any(isinstance(f, _ScrubRecords) for f in self.error_log.filters):
            self.error_log.addFilter(_ScrubRecords())

    def atoms(self, resp, req, environ, request_time) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        for key, value in atoms.items():
            if isinstance(value, str):
                atoms[key] = scrub(value) if key in URL_ATOMS else escaped(value)
        return atoms
