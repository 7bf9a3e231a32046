"""The sign-in rate limit, kept in the database so every web process counts the same attempts.

An attempt takes its place in the count before its token is compared, in one serialised
transaction: however many arrive at once, at most LIMIT a minute from one address are
compared. A right token gives its place back.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import delete, func, select

from plugin.clock import utcnow
from plugin.store.db import SIGN_IN_LOCK_KEY, Store
from plugin.store.models import SignInFailure

LIMIT = 5
WINDOW = dt.timedelta(minutes=1)
ADDRESS_LENGTH = 100  # the column's width


def address_key(address: str) -> str:
    """The address as counted: as it is when it fits the column, else a digest of all of it."""
    if len(address) <= ADDRESS_LENGTH:
        return address
    return "sha256:" + hashlib.sha256(address.encode("utf-8", "replace")).hexdigest()


def take_attempt(store: Store, address: str) -> int | None:
    """Count one attempt from `address`; its id, or None when LIMIT were counted within the
    last minute (the attempt is then refused unseen). Attempts older than the window go."""
    key, now = address_key(address), utcnow()
    with store.write() as session:
        store.lock(session, SIGN_IN_LOCK_KEY)
        session.execute(delete(SignInFailure).where(SignInFailure.at <= now - WINDOW))
        count = session.scalar(select(func.count()).select_from(SignInFailure).where(
            SignInFailure.address == key, SignInFailure.at > now - WINDOW))
        if count >= LIMIT:
            return None
        attempt = SignInFailure(address=key, at=now)
        session.add(attempt)
        session.flush()
        return attempt.id


def give_back(store: Store, attempt: int) -> None:
    """A right token: its attempt no longer counts."""
    with store.write() as session:
        session.execute(delete(SignInFailure).where(SignInFailure.id == attempt))
