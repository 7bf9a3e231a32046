"""Authentication of `POST /webhooks/canvas` requests (JWT, Standard Webhooks or URL token)."""

from __future__ import annotations

import hmac
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from standardwebhooks import Webhook, WebhookVerificationError
from standardwebhooks.webhooks import EmptyWebhookSecretError

logger = logging.getLogger(__name__)

JWKS_TIMEOUT_SECONDS = 5.0
JWKS_REFETCH_INTERVAL_SECONDS = 60.0
JWKS_MAX_AGE_SECONDS = 60 * 60.0
JWKS_STALE_LIMIT_SECONDS = 24 * 60 * 60.0
JWKS_ALERT_SECONDS = 60 * 60.0  # unreachable this long: tell the operators
JWT_LEEWAY_SECONDS = 60
WEBHOOK_TOLERANCE_SECONDS = 5 * 60

_JWT_SHAPE = re.compile(rb"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_TIMESTAMP_SHAPE = re.compile(r"[0-9]{1,15}")
_JWT_REFUSALS: tuple[tuple[type[Exception], str], ...] = (
    (jwt.ExpiredSignatureError, "JWT expired"),
    (jwt.ImmatureSignatureError, "JWT not yet valid"),
    (jwt.InvalidIssuerError, "JWT issuer not accepted"),
    (jwt.MissingRequiredClaimError, "JWT issuer not accepted"),
)

Clock = Callable[[], float]


class AuthError(Exception):
    """A refused webhook request; `message` is safe to return to the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class AuthSettings:
    """Configured credentials; an empty string leaves that method unconfigured."""

    jwks_url: str = ""
    jwt_issuer: str = ""
    webhook_secret: str = field(default="", repr=False)
    webhook_token: str = field(default="", repr=False)


@dataclass(frozen=True)
class Authenticated:
    """An accepted request: the event's JSON text and how it was authenticated."""

    body: bytes
    webhook_id: str | None
    method: str


class _ClockedWebhook(Webhook):
    """The package's verifier with its ±5 minute tolerance measured on an injected clock."""

    def __init__(self, secret: str, clock: Clock) -> None:
        super().__init__(secret)
        self._clock = clock

    def _Webhook__verify_timestamp(self, timestamp_header: str) -> datetime:
        """Replace the package's wall-clock timestamp check (same rule, injected clock)."""
        if not _TIMESTAMP_SHAPE.fullmatch(timestamp_header):
            raise WebhookVerificationError("Invalid Signature Headers")
        timestamp = int(timestamp_header)
        now = self._clock()
        if timestamp < now - WEBHOOK_TOLERANCE_SECONDS:
            raise WebhookVerificationError("Message timestamp too old")
        if timestamp > now + WEBHOOK_TOLERANCE_SECONDS:
            raise WebhookVerificationError("Message timestamp too new")
        return datetime.fromtimestamp(timestamp, tz=UTC)


class WebhookAuthenticator:
    """Decides whether a Canvas Live Event request is authentic; safe to share across threads.

    The clock drives the Standard Webhooks tolerance and the key-set refetch limit; JWT
    `exp`/`nbf` are checked by PyJWT against the system clock.
    """

    def __init__(
        self,
        settings: AuthSettings,
        session: requests.Session | None = None,
        clock: Clock = time.time,
        on_unreachable: Callable[[float], Any] | None = None,
    ) -> None:
        self._settings = settings
        self._on_unreachable = on_unreachable  # called with the seconds it has been down
        self._session = session if session is not None else requests.Session()
        self._clock = clock
        self._webhook = _make_webhook(settings.webhook_secret, clock)
        self._lock = threading.Lock()
        self._keys: Mapping[str, jwt.PyJWK] = MappingProxyType({})
        self._fetched_at: float | None = None  # the last attempt
        self._loaded_at: float | None = None  # the last success
        self._fetch_failed = False
        self._failing_since: float | None = None

    @property
    def configured(self) -> bool:
        """Whether at least one authentication method is configured."""
        s = self._settings
        return bool(s.jwks_url or s.webhook_secret or s.webhook_token)

    def authenticate(
        self, headers: Mapping[str, str], raw_body: bytes, query_token: str | None
    ) -> Authenticated:
        """Return the authenticated event or raise AuthError (401, or 503 for the key set)."""
        if not self.configured:
            raise AuthError(401, "webhook authentication not configured")
        webhook_headers = _webhook_headers(headers)
        if webhook_headers:
            return self._standard_webhooks(webhook_headers, raw_body)
        if query_token:
            return self._token(query_token, raw_body)
        token = _jwt_from_body(raw_body)
        if token is not None:
            return self._jwt(token)
        raise AuthError(401, "no credentials")

    def _standard_webhooks(self, headers: dict[str, str], raw_body: bytes) -> Authenticated:
        """Verify a Standard Webhooks signature over the raw body."""
        if self._webhook is None:
            raise AuthError(401, "Standard Webhooks authentication not configured")
        try:
            self._webhook.verify(raw_body, headers, json_parse=False)
        except (WebhookVerificationError, ValueError):
            # ValueError covers malformed signature lists, bad base64 and non-UTF-8 bodies.
            raise AuthError(401, "invalid webhook signature") from None
        return Authenticated(raw_body, headers["webhook-id"], "standard-webhooks")

    def _token(self, query_token: str, raw_body: bytes) -> Authenticated:
        """Compare the URL token in constant time."""
        expected = self._settings.webhook_token
        if not expected:
            raise AuthError(401, "token authentication not configured")
        given = query_token.encode("utf-8", "surrogatepass")
        if not hmac.compare_digest(given, expected.encode("utf-8", "surrogatepass")):
            raise AuthError(401, "invalid token")
        return Authenticated(raw_body, None, "token")

    def _jwt(self, token: str) -> Authenticated:
        """Verify an RS256 JWT against the key set; its claims are the event."""
        if not self._settings.jwks_url:
            raise AuthError(401, "JWT authentication not configured")
        key = self._key_for(_jwt_kid(token))
        claims = self._decode(token, key)
        return Authenticated(json.dumps(claims).encode(), None, "jwt")

    def _decode(self, token: str, key: jwt.PyJWK) -> dict[str, Any]:
        """Check signature and claims with PyJWT, mapping failures to safe messages."""
        issuer = self._settings.jwt_issuer or None
        try:
            return jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                leeway=JWT_LEEWAY_SECONDS,
                issuer=issuer,
                options={"verify_aud": False},
            )
        except jwt.PyJWTError as exc:
            raise AuthError(401, _jwt_refusal(exc)) from None

    def _key_for(self, kid: str) -> jwt.PyJWK:
        """Return the key for `kid`, refetching the key set at most once a minute: for an
        unknown `kid`, or once the cached set is an hour old (a key Canvas withdrew stops
        being trusted). While the set cannot be fetched, cached keys serve for a day."""
        key = self._keys.get(kid)  # the mapping is replaced whole, never mutated
        if key is not None and self._age() < JWKS_MAX_AGE_SECONDS:
            return key
        down = None
        with self._lock:
            key = self._keys.get(kid)  # another thread may just have fetched it
            if (key is None or self._age() >= JWKS_MAX_AGE_SECONDS) and self._may_fetch():
                down = self._refresh_keys()
                key = self._keys.get(kid)
            usable = key is not None and self._age() < JWKS_STALE_LIMIT_SECONDS
            failed = self._fetch_failed
        # Reported outside the lock: the report may write to the database, and every request
        # needing a key waits on this lock.
        if down is not None and self._on_unreachable is not None:
            self._on_unreachable(down)
        if usable:
            return key
        if failed:
            raise AuthError(503, "JWT key set unavailable")
        raise AuthError(401, "unknown JWT key id")

    def _age(self) -> float:
        """Seconds since the key set was last fetched successfully."""
        loaded = self._loaded_at
        return float("inf") if loaded is None else self._clock() - loaded

    def _may_fetch(self) -> bool:
        """Whether the once-a-minute fetch budget allows a fetch now (caller holds the lock)."""
        last = self._fetched_at
        return last is None or self._clock() - last >= JWKS_REFETCH_INTERVAL_SECONDS

    def _refresh_keys(self) -> float | None:
        """Fetch the key set and replace the cache; a failure keeps the cache and is
        remembered (caller holds the lock). Returns the seconds the set has been unreachable
        once that is an hour or more, else None."""
        self._fetched_at = self._clock()
        try:
            keys = _load_rs256_keys(self._session, self._settings.jwks_url)
        except (requests.RequestException, ValueError, jwt.PyJWTError) as exc:
            logger.warning("JWT key set fetch failed: %s", type(exc).__name__)
            self._fetch_failed = True
            return self._unreachable_for()
        self._fetch_failed = False
        self._failing_since = None
        self._keys = MappingProxyType(keys)
        self._loaded_at = self._fetched_at
        return None


    def _unreachable_for(self) -> float | None:
        """After a failed fetch: the seconds the set has been unreachable, once an hour."""
        if self._failing_since is None:
            self._failing_since = self._fetched_at
        down = self._fetched_at - self._failing_since
        return down if down >= JWKS_ALERT_SECONDS else None


def _make_webhook(secret: str, clock: Clock) -> _ClockedWebhook | None:
    """Build the Standard Webhooks verifier, refusing an unusable secret without echoing it."""
    if not secret:
        return None
    try:
        return _ClockedWebhook(secret, clock)
    except (ValueError, RuntimeError, EmptyWebhookSecretError):
        raise ValueError("webhook secret is not a valid Standard Webhooks secret") from None


STANDARD_WEBHOOK_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


def _webhook_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Return the Standard Webhooks headers present, names lower-cased."""
    found = {name: headers.get(name) for name in STANDARD_WEBHOOK_HEADERS}
    if isinstance(headers, dict):  # a plain dict is case-sensitive: look at every name
        found = {k.lower(): v for k, v in headers.items() if k.lower() in found}
    return {name: value for name, value in found.items() if value is not None}


def _jwt_from_body(raw_body: bytes) -> str | None:
    """Return the compact JWT a body carries (optionally as a JSON string), else None."""
    body = raw_body.strip()
    if len(body) >= 2 and body.startswith(b'"') and body.endswith(b'"'):
        body = body[1:-1]
    return body.decode("ascii") if _JWT_SHAPE.fullmatch(body) else None


def _jwt_kid(token: str) -> str:
    """Return the `kid` of an RS256 JWT header, refusing any other algorithm."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise AuthError(401, "invalid JWT") from None
    if header.get("alg") != "RS256":
        raise AuthError(401, "JWT algorithm not allowed")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise AuthError(401, "JWT key id missing")
    return kid


def _jwt_refusal(exc: Exception) -> str:
    """Map a PyJWT error to a message that reveals nothing about the token."""
    for kind, message in _JWT_REFUSALS:
        if isinstance(exc, kind):
            return message
    return "invalid JWT"


def _load_rs256_keys(session: requests.Session, url: str) -> dict[str, jwt.PyJWK]:
    """Fetch a JWKS and keep its RSA signing keys usable for RS256, by `kid`."""
    accept = {"Accept": "application/json"}
    response = session.get(url, timeout=JWKS_TIMEOUT_SECONDS, headers=accept)
    response.raise_for_status()
    document = response.json()
    if not isinstance(document, dict):
        raise ValueError("key set is not a JSON object")
    keys: dict[str, jwt.PyJWK] = {}
    for key in jwt.PyJWKSet.from_dict(document):
        usable = key.algorithm_name == "RS256" and isinstance(key.key, RSAPublicKey)
        if usable and key.public_key_use in (None, "sig") and key.key_id:
            keys.setdefault(key.key_id, key)
    if not keys:
        raise ValueError("key set has no RS256 signing key with a kid")
    return keys
