"""The LTI library's launch data storage and session service, kept in the database."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from pylti1p3.contrib.flask import FlaskSessionService
from pylti1p3.launch_data_storage.base import LaunchDataStorage
from sqlalchemy import delete, select

from plugin.clock import utcnow
from plugin.store.db import Store
from plugin.store.models import LtiState

# An OIDC login and its launch take seconds; what is left after ten minutes is abandoned.
LIFETIME_SECONDS = 600


class DatabaseLaunchStorage(LaunchDataStorage[Any]):
    """Keys with JSON values and an expiry, in the `lti_state` table."""

    def __init__(self, store: Store):
        super().__init__()
        self.store = store

    def get_session_cookie_name(self) -> None:
        # The library's short-lived state cookie already ties a launch to its browser;
        # a second cookie would only add a way for a framed launch to fail.
        return None

    def can_set_keys_expiration(self) -> bool:
        return True

    def get_value(self, key: str) -> Any:
        with self.store.read() as session:
            raw = session.scalar(select(LtiState.value).where(
                LtiState.key == self._prepare_key(key), LtiState.expires_at > utcnow()))
        return None if raw is None else json.loads(raw)

    def set_value(self, key: str, value: Any, exp: int | None = None) -> None:
        now = utcnow()
        row = LtiState(key=self._prepare_key(key), value=json.dumps(value),
                       expires_at=now + dt.timedelta(seconds=exp or LIFETIME_SECONDS))
        with self.store.write() as session:
            session.execute(delete(LtiState).where(
                (LtiState.key == row.key) | (LtiState.expires_at <= now)))
            session.add(row)

    def check_value(self, key: str) -> bool:
        return self.get_value(key) is not None

    def take_value(self, key: str) -> bool:
        """Delete the key; True only for the one caller that found it unexpired."""
        with self.store.write() as session:
            deleted = session.execute(delete(LtiState).where(
                LtiState.key == self._prepare_key(key), LtiState.expires_at > utcnow()))
        return deleted.rowcount == 1


class DatabaseSessionService(FlaskSessionService):
    """The library's session service on the database, with single-use states and nonces."""

    def __init__(self, request, storage: DatabaseLaunchStorage):
        super().__init__(request)
        storage.set_request(request)
        self.set_data_storage(storage)
        self.set_launch_data_lifetime(LIFETIME_SECONDS)
        self.storage = storage

    def use_state_and_nonce(self, state: str, nonce: str) -> bool:
        """Consume both; False when either was already used (a replay) or never issued."""
        state_ok = self.storage.take_value(self._get_key(state))
        nonce_ok = self.storage.take_value(self._get_key("nonce", nonce))
        return state_ok and nonce_ok

    def forget_launch(self, launch_id: str) -> bool:
        """Consume a validated launch; True only once."""
        return self.storage.take_value(self._get_key(launch_id, add_prefix=False))
