"""Checks that make a configuration `check-config` passes one that starts: what start-up
builds (the webhook verifier, the database engine) is built here too, and ranges are those
of the columns and buffers the values end up in."""

from __future__ import annotations

import math
from typing import Any

from plugin.settings.sections import Problems

MAX_ID = 2**63 - 1  # ids are stored in BIGINT columns
# A request body is held in memory whole; Canvas events are a few kilobytes.
MAX_BODY_BYTES_LIMIT = 16 * 1024 * 1024
MAX_DELAY_DAYS = 3650
DATABASE_BACKENDS = ("sqlite", "postgresql")


def check_webhook_secret(problems: Problems, secret: str) -> None:
    """A Standard Webhooks secret must be `whsec_` and base64 (as the verifier reads it)."""
    if not secret:
        return
    from standardwebhooks import Webhook

    try:
        Webhook(secret)
    except Exception:  # the package raises several types; the secret is never echoed
        problems.add("CANVAS_LADOK_WEBHOOK_SECRET",
                     "not a Standard Webhooks secret: whsec_ followed by base64")


def check_database_url(problems: Problems, url: str) -> None:
    """An SQLite or PostgreSQL URL whose driver loads (no connection is made)."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    from plugin.store.db import normalise_url

    try:
        parsed = make_url(normalise_url(url))
    except Exception:
        problems.add("database_url", "not a database URL")  # it may hold a password
        return
    if parsed.get_backend_name() not in DATABASE_BACKENDS:
        problems.add("database_url", f"must be an sqlite:/// or postgresql:// URL, got "
                     f"{parsed.get_backend_name()!r}")
        return
    try:
        create_engine(parsed).dispose()
    except Exception as exc:  # a missing driver, an unknown option
        problems.add("database_url", f"cannot be used: {type(exc).__name__}: "
                     f"{str(exc).splitlines()[0] if str(exc) else ''}")


def check_id(problems: Problems, key: str, value: Any) -> bool:
    """A Canvas id: a positive integer that fits a BIGINT."""
    if isinstance(value, int) and not isinstance(value, bool) and not 0 < value <= MAX_ID:
        problems.add(key, f"must be a Canvas id between 1 and {MAX_ID}, got {value}")
        return False
    return True


def check_range(problems: Problems, key: str, value: Any, low: float, high: float) -> None:
    """A finite number within [low, high]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return  # the type check reports it
    if not math.isfinite(value) or not low <= value <= high:
        problems.add(key, f"must be between {low:g} and {high:g}, got {value}")


def check_code(problems: Problems, key: str, value: Any) -> None:
    """A Ladok code goes into every export line: no tab, newline or other control character."""
    from plugin.rules.text import has_control

    if isinstance(value, str) and has_control(value):
        problems.add(key, "must not contain a tab, newline or other control character")
