"""Time helpers shared by the service: aware UTC now, ISO text."""

from __future__ import annotations

import datetime as dt


def utcnow() -> dt.datetime:
    """The current time, aware, in UTC."""
    return dt.datetime.now(dt.UTC)


def iso(value: dt.date | dt.datetime | None) -> str | None:
    """ISO 8601 text of a date or time, or None."""
    return value.isoformat() if value else None
