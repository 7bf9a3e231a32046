"""The sign-in rate limit, kept in the database so every web process counts the same failures."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, func, select

from plugin.clock import utcnow
from plugin.store.db import Store
from plugin.store.models import SignInFailure

LIMIT = 5
WINDOW = dt.timedelta(minutes=1)


def blocked(store: Store, address: str) -> bool:
    """True when `address` failed to sign in LIMIT times within the last minute."""
    since = utcnow() - WINDOW
    with store.read() as session:
        count = session.scalar(select(func.count()).select_from(SignInFailure).where(
            SignInFailure.address == address, SignInFailure.at > since))
    return count >= LIMIT


def record_failure(store: Store, address: str) -> None:
    """Count one failed sign-in from `address`; failures older than the window are dropped."""
    now = utcnow()
    with store.write() as session:
        session.execute(delete(SignInFailure).where(SignInFailure.at <= now - WINDOW))
        session.add(SignInFailure(address=address[:100], at=now))
