"""Server-side records of web sessions: what a session cookie's random key opens, until it ends.

The cookie holds only the key; the record (found by the key's hash) holds who is signed in and
what they may see. Deleting the record ends the session for every copy of its cookie.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select

from plugin.store.db import Store
from plugin.store.models import WebSession

KEY_BYTES = 32


@dataclass(frozen=True)
class SessionRecord:
    """A live session: its scope, who it is, and (administrators) its token's digest."""

    scope: dict[str, Any]
    who: str
    token_digest: str | None = None


def key_hash(key: str) -> str:
    """The name of a key's record: a database copy alone opens no session."""
    return hashlib.sha256(key.encode()).hexdigest()


def token_digest(secret: str, token: str) -> str:
    """An administrator token as stored with its sessions: an HMAC under the session secret."""
    return hmac.new(secret.encode(), token.strip().encode(), hashlib.sha256).hexdigest()


def token_still_configured(record: SessionRecord, secret: str, tokens: Iterable[str]) -> bool:
    """Whether the token that opened `record` is still one of `tokens`."""
    if record.token_digest is None:
        return False
    digests = [token_digest(secret, t) for t in tokens]
    return any(hmac.compare_digest(record.token_digest, d) for d in digests)


def open_record(store: Store, record: SessionRecord, lifetime: dt.timedelta,
                now: dt.datetime) -> str:
    """Record a new session; its key, for the cookie. Expired records are removed."""
    key = secrets.token_urlsafe(KEY_BYTES)
    with store.write() as session:
        session.execute(delete(WebSession).where(WebSession.expires_at <= now))
        session.add(WebSession(key_hash=key_hash(key), scope=json.dumps(record.scope),
                               who=record.who, token_digest=record.token_digest,
                               created_at=now, expires_at=now + lifetime))
    return key


def find(store: Store, key: str, now: dt.datetime) -> SessionRecord | None:
    """The unexpired session `key` opens, or None (a read: no write lock)."""
    with store.read() as session:
        row = session.scalar(select(WebSession).where(WebSession.key_hash == key_hash(key),
                                                      WebSession.expires_at > now))
    if row is None:
        return None
    scope = json.loads(row.scope)
    return SessionRecord(scope, row.who, row.token_digest) if isinstance(scope, dict) else None


def close(store: Store, key: str) -> None:
    """End the session `key` opens, for every copy of its cookie."""
    with store.write() as session:
        session.execute(delete(WebSession).where(WebSession.key_hash == key_hash(key)))
