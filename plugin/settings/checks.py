"""Checks that make a configuration `check-config` passes one that starts: what start-up
builds (the webhook verifier, the database engine) is built here too, and ranges are those
of the columns and buffers the values end up in."""

from __future__ import annotations

import datetime as dt
import errno
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Protocol

from plugin.store.models import MAX_ID

# A request body is held in memory whole; Canvas events are a few kilobytes.
MAX_BODY_BYTES_LIMIT = 16 * 1024 * 1024
MAX_DELAY_DAYS = 3650
DATABASE_BACKENDS = ("sqlite", "postgresql")


class Problems(Protocol):
    def add(self, key: str, reason: str) -> None: ...

    def unknown(self, key: str) -> None: ...

# TOML's words for the types a key takes.
KIND_WORDS = {int: "an integer", float: "a number", str: "a string (in quotes)",
              bool: "true or false", list: "a list", dict: "a table",
              dt.date: "a date like 2025-09-01 (no quotes)"}


def kind_words(kind: type | tuple[type, ...]) -> str:
    """What a value of `kind` is called in a TOML file: int or float is "a number"."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if set(kinds) == {int, float}:
        return "a number"
    return " or ".join(KIND_WORDS.get(k, k.__name__) for k in kinds)


def written(value: Any) -> str:
    """`value` as a TOML file writes it: true, 2025-09-01, 'text', [1, 2]."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return value.isoformat()
    return repr(value)


def wrong_type(problems: Problems, key: str, value: Any, kind: type | tuple[type, ...]) -> None:
    """The problem of a value of the wrong type, in TOML's words."""
    problems.add(key, f"must be {kind_words(kind)}, got {written(value)}")


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


def check_database_url(problems: Problems, url: str) -> bool:
    """An SQLite or PostgreSQL URL whose driver loads (no connection is made)."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    from plugin.store.db import normalise_url

    try:
        parsed = make_url(normalise_url(url))
    except Exception:
        problems.add("database_url", "not a database URL")  # it may hold a password
        return False
    if parsed.get_backend_name() not in DATABASE_BACKENDS:
        problems.add("database_url", f"must be an sqlite:/// or postgresql:// URL, got "
                     f"{parsed.get_backend_name()!r}")
        return False
    try:
        create_engine(parsed).dispose()
    except Exception as exc:  # a missing driver, an unknown option
        problems.add("database_url", f"cannot be used: {type(exc).__name__}: "
                     f"{str(exc).splitlines()[0] if str(exc) else ''}")
        return False
    return True


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


SECRET_KEY_MIN = 32  # characters: sessions are signed with it


def check_secret_key(problems: Problems, key: str) -> None:
    """A session-signing key long enough not to be guessed (it is never echoed)."""
    if key and len(key) < SECRET_KEY_MIN:
        problems.add("CANVAS_LADOK_SECRET_KEY",
                     f"must be at least {SECRET_KEY_MIN} characters, it has {len(key)}: make "
                     "one with python3 -c 'import secrets; print(secrets.token_hex(32))'")


def check_writable_folder(problems: Problems, key: str, folder: Path) -> None:
    """`folder` exists and takes a new file, or the nearest folder above it that exists takes
    a new folder. Probes under unique names and removes them: processes starting at once
    never disturb each other."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:
        if not existing.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, "not a folder", str(existing))
        if existing == folder:
            with tempfile.TemporaryFile(dir=folder):
                pass
        else:
            os.rmdir(tempfile.mkdtemp(dir=existing))
    except OSError as exc:
        doing = "written" if existing == folder else f"created in {existing}"
        problems.add(key, f"the folder {folder} cannot be {doing}: {exc.strerror}")
