"""Unit tests for plugin.canvas.webhook_auth: JWT, Standard Webhooks and URL-token checks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
import requests
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jwt.algorithms import RSAAlgorithm
from standardwebhooks import Webhook

from plugin.canvas.webhook_auth import Authenticated, AuthError, AuthSettings, WebhookAuthenticator

# Published Standard Webhooks test vector (specification and reference libraries).
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
VECTOR_HEADERS = {
    "webhook-id": VECTOR_ID,
    "webhook-timestamp": str(VECTOR_TIMESTAMP),
    "webhook-signature": VECTOR_SIGNATURE,
}

JWKS_URL = "https://canvas.example.edu/api/lti/security/jwks"
ISSUER = "https://canvas.example.edu"
URL_TOKEN = "s3cret-url-token-value"
EVENT = {
    "metadata": {"event_name": "grade_change", "context_id": "565"},
    "body": {"submission_id": "1", "assignment_id": "355", "student_id": "7"},
}


class FakeClock:
    """A settable clock for the authenticator."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


SIGNING_KEY = _private_key()
OTHER_KEY = _private_key()
PUBLIC_PEM = SIGNING_KEY.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)


def jwk(private_key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    """Public JWK of `private_key` under `kid`."""
    return {**json.loads(RSAAlgorithm.to_jwk(private_key.public_key())), "kid": kid}


def jwks(*keys: dict[str, Any]) -> dict[str, Any]:
    """A JWKS document."""
    return {"keys": list(keys)}


def claims(**extra: Any) -> dict[str, Any]:
    """Event claims expiring in five minutes, plus `extra`."""
    return {**EVENT, "iat": int(time.time()), "exp": int(time.time()) + 300, **extra}


def sign_jwt(
    payload: dict[str, Any], key: rsa.RSAPrivateKey = SIGNING_KEY, kid: str | None = "k1"
) -> str:
    """An RS256 JWT of `payload`, with `kid` in its header unless None."""
    headers = {"kid": kid} if kid is not None else {}
    return jwt.encode(payload, key, algorithm="RS256", headers=headers)


def b64url(data: bytes) -> bytes:
    """Unpadded base64url."""
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def forged_jwt(alg: str, secret: bytes | None) -> str:
    """A hand-built JWT with algorithm `alg`, HMAC-signed with `secret` or unsigned."""
    header = b64url(json.dumps({"alg": alg, "kid": "k1", "typ": "JWT"}).encode())
    signing_input = header + b"." + b64url(json.dumps(claims()).encode())
    signature = b"" if secret is None else hmac.new(secret, signing_input, hashlib.sha256).digest()
    return (signing_input + b"." + b64url(signature)).decode()


def signed_headers(body: bytes, timestamp: int, secret: str = VECTOR_SECRET) -> dict[str, str]:
    """Standard Webhooks headers for `body` at `timestamp`, signed by the package."""
    when = datetime.fromtimestamp(timestamp, tz=UTC)
    signature = Webhook(secret).sign(VECTOR_ID, when, body.decode())
    return {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }


def refused(call: Callable[[], Any], status: int = 401, *secrets: str) -> AuthError:
    """Assert `call` raises AuthError(status) whose message reveals none of `secrets`."""
    with pytest.raises(AuthError) as info:
        call()
    error = info.value
    assert error.status == status
    assert error.message and str(error) == error.message
    for secret in secrets:
        assert secret not in error.message
    return error


@pytest.fixture
def rsps(rsps: responses.RequestsMock) -> responses.RequestsMock:
    """The conftest's mocked HTTP (an unregistered URL fails) serving the key set."""
    rsps.get(JWKS_URL, json=jwks(jwk(SIGNING_KEY, "k1")))
    return rsps


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def jwt_auth(clock: FakeClock, issuer: str = "") -> WebhookAuthenticator:
    """An authenticator configured for JWT only."""
    settings_ = AuthSettings(jwks_url=JWKS_URL, jwt_issuer=issuer)
    return WebhookAuthenticator(settings_, session=requests.Session(), clock=clock)


def loaded_jwt_auth(clock: FakeClock) -> tuple[WebhookAuthenticator, bytes]:
    """A JWT authenticator with the key set already cached, and a body it accepts."""
    auth = jwt_auth(clock)
    body = sign_jwt(claims()).encode()
    auth.authenticate({}, body, None)
    return auth, body


def webhook_auth(clock: Callable[[], float], secret: str = VECTOR_SECRET) -> WebhookAuthenticator:
    """An authenticator configured for Standard Webhooks only."""
    return WebhookAuthenticator(AuthSettings(webhook_secret=secret), clock=clock)


def token_auth() -> WebhookAuthenticator:
    """An authenticator configured for the URL token only."""
    return WebhookAuthenticator(AuthSettings(webhook_token=URL_TOKEN))


# --- no method configured -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "body", "token"),
    [
        (VECTOR_HEADERS, VECTOR_BODY, None),
        ({}, VECTOR_BODY, URL_TOKEN),
        ({}, sign_jwt(claims()).encode(), None),
        ({}, json.dumps(EVENT).encode(), None),
    ],
)
def test_unconfigured_authenticator_refuses_everything(
    rsps: responses.RequestsMock, headers: dict[str, str], body: bytes, token: str | None
) -> None:
    auth = WebhookAuthenticator(AuthSettings(jwt_issuer=ISSUER), clock=FakeClock(VECTOR_TIMESTAMP))
    assert not auth.configured
    refused(lambda: auth.authenticate(headers, body, token))
    assert len(rsps.calls) == 0


@pytest.mark.parametrize(
    "settings_",
    [
        AuthSettings(jwks_url=JWKS_URL),
        AuthSettings(webhook_secret=VECTOR_SECRET),
        AuthSettings(webhook_token=URL_TOKEN),
    ],
)
def test_any_one_method_makes_it_configured(settings_: AuthSettings) -> None:
    assert WebhookAuthenticator(settings_).configured


def test_settings_repr_hides_secrets() -> None:
    text = repr(
        AuthSettings(jwks_url=JWKS_URL, webhook_secret=VECTOR_SECRET, webhook_token=URL_TOKEN)
    )
    assert JWKS_URL in text
    assert VECTOR_SECRET not in text and URL_TOKEN not in text


# --- Standard Webhooks ----------------------------------------------------------------------


def test_vector_matches_the_package_signer() -> None:
    when = datetime.fromtimestamp(VECTOR_TIMESTAMP, tz=UTC)
    assert Webhook(VECTOR_SECRET).sign(VECTOR_ID, when, VECTOR_BODY.decode()) == VECTOR_SIGNATURE


def test_package_timestamp_check_is_the_one_overridden() -> None:
    # The authenticator replaces this private hook to measure tolerance on its own clock.
    assert "_Webhook__verify_timestamp" in vars(Webhook)


def test_standard_webhooks_vector_accepted_with_fixed_clock() -> None:
    auth = webhook_auth(FakeClock(VECTOR_TIMESTAMP))
    result = auth.authenticate(VECTOR_HEADERS, VECTOR_BODY, None)
    assert result == Authenticated(VECTOR_BODY, VECTOR_ID, "standard-webhooks")


def test_standard_webhooks_header_names_are_case_insensitive() -> None:
    headers = {name.title(): value for name, value in VECTOR_HEADERS.items()}
    result = webhook_auth(FakeClock(VECTOR_TIMESTAMP)).authenticate(headers, VECTOR_BODY, None)
    assert result.webhook_id == VECTOR_ID


def test_standard_webhooks_accepts_any_matching_signature_in_the_list() -> None:
    headers = {**VECTOR_HEADERS, "webhook-signature": "v1,bm9wZQ== " + VECTOR_SIGNATURE}
    result = webhook_auth(FakeClock(VECTOR_TIMESTAMP)).authenticate(headers, VECTOR_BODY, None)
    assert result.method == "standard-webhooks"


@pytest.mark.parametrize("offset", [-300, -299, 0, 299, 300])
def test_standard_webhooks_tolerance_is_five_minutes_on_the_injected_clock(offset: int) -> None:
    auth = webhook_auth(FakeClock(VECTOR_TIMESTAMP - offset))
    assert auth.authenticate(VECTOR_HEADERS, VECTOR_BODY, None).webhook_id == VECTOR_ID


@pytest.mark.parametrize(
    "clock_offset", [301, 3600, -301, -3600], ids=["stale", "very-stale", "future", "far-future"]
)
def test_standard_webhooks_refuses_stale_or_future_timestamp(clock_offset: int) -> None:
    auth = webhook_auth(FakeClock(VECTOR_TIMESTAMP + clock_offset))
    refused(lambda: auth.authenticate(VECTOR_HEADERS, VECTOR_BODY, None), 401, VECTOR_SIGNATURE)


def test_standard_webhooks_works_with_the_real_clock() -> None:
    now = int(time.time())
    headers = signed_headers(VECTOR_BODY, now)
    result = webhook_auth(time.time).authenticate(headers, VECTOR_BODY, None)
    assert result.body == VECTOR_BODY


def test_standard_webhooks_refuses_tampered_body() -> None:
    auth = webhook_auth(FakeClock(VECTOR_TIMESTAMP))
    body = b'{"test": 2432232315}'
    refused(lambda: auth.authenticate(VECTOR_HEADERS, body, None), 401, VECTOR_SIGNATURE)


def test_standard_webhooks_refuses_wrong_secret() -> None:
    other_secret = "whsec_" + base64.b64encode(b"another secret of 24 bytes").decode()
    auth = webhook_auth(FakeClock(VECTOR_TIMESTAMP), secret=other_secret)
    error = refused(
        lambda: auth.authenticate(VECTOR_HEADERS, VECTOR_BODY, None),
        401,
        other_secret,
        VECTOR_SIGNATURE,
    )
    assert error.message == "invalid webhook signature"


def test_standard_webhooks_refuses_a_signature_over_another_timestamp() -> None:
    headers = {**VECTOR_HEADERS, "webhook-timestamp": str(VECTOR_TIMESTAMP + 1)}
    auth = webhook_auth(FakeClock(VECTOR_TIMESTAMP))
    refused(lambda: auth.authenticate(headers, VECTOR_BODY, None))


@pytest.mark.parametrize("missing", sorted(VECTOR_HEADERS))
def test_standard_webhooks_refuses_missing_header(missing: str) -> None:
    headers = {k: v for k, v in VECTOR_HEADERS.items() if k != missing}
    auth = webhook_auth(FakeClock(VECTOR_TIMESTAMP))
    refused(lambda: auth.authenticate(headers, VECTOR_BODY, None), 401, VECTOR_SIGNATURE)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("webhook-signature", "v1"),
        ("webhook-signature", "v1,not*base64"),
        ("webhook-signature", "v1,a,b"),
        ("webhook-signature", "v2," + VECTOR_SIGNATURE[3:]),
        ("webhook-signature", ""),
        ("webhook-timestamp", "not-a-number"),
        ("webhook-timestamp", "nan"),
        ("webhook-timestamp", "1614265330.0"),
        ("webhook-timestamp", "99999999999999999999"),
    ],
)
def test_standard_webhooks_refuses_malformed_headers(name: str, value: str) -> None:
    headers = {**VECTOR_HEADERS, name: value}
    auth = webhook_auth(FakeClock(VECTOR_TIMESTAMP))
    refused(lambda: auth.authenticate(headers, VECTOR_BODY, None))


def test_standard_webhooks_refuses_non_utf8_body() -> None:
    auth = webhook_auth(FakeClock(VECTOR_TIMESTAMP))
    refused(lambda: auth.authenticate(VECTOR_HEADERS, b"\xff\xfe", None))


def test_webhook_headers_are_judged_by_standard_webhooks_even_with_a_valid_token() -> None:
    auth = WebhookAuthenticator(AuthSettings(webhook_token=URL_TOKEN))
    headers = {"Webhook-Signature": VECTOR_SIGNATURE}
    error = refused(lambda: auth.authenticate(headers, VECTOR_BODY, URL_TOKEN), 401, URL_TOKEN)
    assert "not configured" in error.message


def test_invalid_webhook_secret_is_refused_at_construction_without_echoing_it() -> None:
    with pytest.raises(ValueError) as info:
        webhook_auth(time.time, secret="whsec_")
    assert "whsec_" not in str(info.value)
    with pytest.raises(ValueError):
        webhook_auth(time.time, secret="whsec_a")


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    headers=st.dictionaries(
        st.sampled_from(sorted(VECTOR_HEADERS)), st.text(max_size=40), min_size=1
    ),
    body=st.binary(max_size=64),
)
def test_standard_webhooks_garbage_is_always_a_clean_401(
    headers: dict[str, str], body: bytes
) -> None:
    auth = webhook_auth(FakeClock(VECTOR_TIMESTAMP))
    refused(lambda: auth.authenticate(headers, body, None))


# --- URL token ------------------------------------------------------------------------------


def test_url_token_accepted() -> None:
    body = json.dumps(EVENT).encode()
    assert token_auth().authenticate({}, body, URL_TOKEN) == Authenticated(body, None, "token")


@pytest.mark.parametrize(
    "token", [URL_TOKEN + "x", URL_TOKEN[:-1], URL_TOKEN.upper(), "tökén", "\ud800"]
)
def test_wrong_url_token_refused(token: str) -> None:
    error = refused(lambda: token_auth().authenticate({}, b"{}", token), 401, URL_TOKEN, token)
    assert error.message == "invalid token"


def test_url_token_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[bytes, bytes]] = []
    compare = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        seen.append((a, b))
        return compare(a, b)

    monkeypatch.setattr("plugin.canvas.webhook_auth.hmac.compare_digest", spy)
    token_auth().authenticate({}, b"{}", URL_TOKEN)
    assert seen == [(URL_TOKEN.encode(), URL_TOKEN.encode())]


def test_url_token_not_configured_refused(rsps: responses.RequestsMock, clock: FakeClock) -> None:
    error = refused(lambda: jwt_auth(clock).authenticate({}, b"{}", URL_TOKEN), 401, URL_TOKEN)
    assert "not configured" in error.message


def test_empty_url_token_counts_as_no_credentials() -> None:
    error = refused(lambda: token_auth().authenticate({}, json.dumps(EVENT).encode(), ""))
    assert error.message == "no credentials"


# --- JWT ------------------------------------------------------------------------------------


@pytest.mark.parametrize("wrap", ["{}", '"{}"', "{}\n", '"{}"\r\n'])
def test_jwt_accepted_plain_or_quoted(
    rsps: responses.RequestsMock, clock: FakeClock, wrap: str
) -> None:
    payload = claims(iss=ISSUER)
    body = wrap.format(sign_jwt(payload)).encode()
    result = jwt_auth(clock, issuer=ISSUER).authenticate({}, body, None)
    assert result.method == "jwt" and result.webhook_id is None
    assert json.loads(result.body) == payload


def test_jwt_without_time_claims_or_issuer_check_accepted(
    rsps: responses.RequestsMock, clock: FakeClock
) -> None:
    result = jwt_auth(clock).authenticate({}, sign_jwt(dict(EVENT)).encode(), None)
    assert json.loads(result.body) == EVENT


def test_jwt_audience_not_checked(rsps: responses.RequestsMock, clock: FakeClock) -> None:
    token = sign_jwt(claims(aud="someone-else"))
    assert jwt_auth(clock).authenticate({}, token.encode(), None).method == "jwt"


@pytest.mark.parametrize("extra", [{"exp": -30}, {"nbf": 30}, {"iat": 30}])
def test_jwt_time_claims_have_sixty_seconds_leeway(
    rsps: responses.RequestsMock, clock: FakeClock, extra: dict[str, int]
) -> None:
    relative = {name: int(time.time()) + delta for name, delta in extra.items()}
    token = sign_jwt(claims(**relative))
    assert jwt_auth(clock).authenticate({}, token.encode(), None).method == "jwt"


FORGERIES = ("wrong-key", "tampered-claims", "expired", "nbf-in-future", "wrong-iss",
             "missing-iss", "missing-kid", "empty-kid", "hs256-with-public-key", "alg-none",
             "rs512", "garbage-header")


def _jwt_forgeries() -> dict[str, tuple[str, str]]:
    """(token, expected message) by case, made when the test runs: times are relative."""
    now = int(time.time())
    token = sign_jwt(claims(iss=ISSUER))
    header, _, signature = token.split(".")
    tampered_payload = b64url(json.dumps(claims(iss=ISSUER, body={"x": 1})).encode()).decode()
    cases = {
        "wrong-key": (sign_jwt(claims(iss=ISSUER), key=OTHER_KEY), "invalid JWT"),
        "tampered-claims": (f"{header}.{tampered_payload}.{signature}", "invalid JWT"),
        "expired": (sign_jwt(claims(iss=ISSUER, exp=now - 120)), "JWT expired"),
        "nbf-in-future": (sign_jwt(claims(iss=ISSUER, nbf=now + 120)), "JWT not yet valid"),
        "wrong-iss": (sign_jwt(claims(iss="https://evil.example")), "JWT issuer not accepted"),
        "missing-iss": (sign_jwt(claims()), "JWT issuer not accepted"),
        "missing-kid": (sign_jwt(claims(iss=ISSUER), kid=None), "JWT key id missing"),
        "empty-kid": (sign_jwt(claims(iss=ISSUER), kid=""), "JWT key id missing"),
        "hs256-with-public-key": (forged_jwt("HS256", PUBLIC_PEM), "JWT algorithm not allowed"),
        "alg-none": (forged_jwt("none", None), "JWT algorithm not allowed"),
        "rs512": (
            jwt.encode(claims(iss=ISSUER), SIGNING_KEY, algorithm="RS512", headers={"kid": "k1"}),
            "JWT algorithm not allowed",
        ),
        "garbage-header": ("bm90LWpzb24." + token.split(".", 1)[1], "invalid JWT"),
    }
    assert tuple(cases) == FORGERIES
    return cases


@pytest.mark.parametrize("case", FORGERIES)
def test_jwt_forgeries_refused(rsps: responses.RequestsMock, clock: FakeClock, case: str) -> None:
    token, message = _jwt_forgeries()[case]
    auth = jwt_auth(clock, issuer=ISSUER)
    error = refused(
        lambda: auth.authenticate({}, token.encode(), None),
        401,
        token,
        token.split(".")[-1] or token,
    )
    assert error.message == message


def test_hs256_forgery_never_fetches_keys(rsps: responses.RequestsMock, clock: FakeClock) -> None:
    token = forged_jwt("HS256", PUBLIC_PEM)
    refused(lambda: jwt_auth(clock).authenticate({}, token.encode(), None))
    assert len(rsps.calls) == 0


def test_jwt_with_unknown_kid_refused(rsps: responses.RequestsMock, clock: FakeClock) -> None:
    token = sign_jwt(claims(), kid="k2")
    error = refused(lambda: jwt_auth(clock).authenticate({}, token.encode(), None))
    assert error.message == "unknown JWT key id"


def test_jwt_not_configured_refused(clock: FakeClock) -> None:
    auth = WebhookAuthenticator(AuthSettings(webhook_token=URL_TOKEN), clock=clock)
    error = refused(lambda: auth.authenticate({}, sign_jwt(claims()).encode(), None))
    assert error.message == "JWT authentication not configured"


@pytest.mark.parametrize(
    "body", [b"", b"{}", json.dumps(EVENT).encode(), b'"not.a jwt"', b"a.b", b'"a.b.c', b"\xff"]
)
def test_body_without_credentials_refused(
    rsps: responses.RequestsMock, clock: FakeClock, body: bytes
) -> None:
    error = refused(lambda: jwt_auth(clock).authenticate({}, body, None))
    assert error.message == "no credentials"
    assert len(rsps.calls) == 0


# --- key set fetching and caching -----------------------------------------------------------


def test_key_set_fetched_once_with_timeout_and_cached(
    rsps: responses.RequestsMock, clock: FakeClock
) -> None:
    auth = jwt_auth(clock)
    for _ in range(3):
        auth.authenticate({}, sign_jwt(claims()).encode(), None)
        clock.now += 1000
    assert len(rsps.calls) == 1
    assert rsps.calls[0].request.req_kwargs["timeout"] == 5


def test_withdrawn_key_stops_being_trusted_once_the_cache_is_an_hour_old(
    rsps: responses.RequestsMock, clock: FakeClock
) -> None:
    auth, body = loaded_jwt_auth(clock)
    rsps.replace(responses.GET, JWKS_URL, json=jwks(jwk(OTHER_KEY, "k2")))  # k1 withdrawn
    clock.now += 3599
    assert auth.authenticate({}, body, None).method == "jwt"
    clock.now += 1
    error = refused(lambda: auth.authenticate({}, body, None))
    assert error.message == "unknown JWT key id"
    assert len(rsps.calls) == 2


def test_cached_keys_serve_a_day_while_the_key_set_is_unreachable(
    rsps: responses.RequestsMock, clock: FakeClock
) -> None:
    auth, body = loaded_jwt_auth(clock)
    rsps.replace(responses.GET, JWKS_URL, body=requests.ConnectionError("down"))
    start = clock.now
    for elapsed in (3600, 3630, 3660, 86_399):
        clock.now = start + elapsed
        assert auth.authenticate({}, body, None).method == "jwt"
    assert len(rsps.calls) == 4  # the first load, then at most once a minute: 3600, 3660, 86399
    unknown_kid = sign_jwt(claims(), kid="k9").encode()
    clock.now = start + 86_399 + 60  # a key id the cache lacks needs the set: 503, not 401
    refused(lambda: auth.authenticate({}, unknown_kid, None), 503)
    clock.now = start + 86_400 + 60
    error = refused(lambda: auth.authenticate({}, body, None), 503)
    assert error.message == "JWT key set unavailable"


def test_unknown_kid_refetches_at_most_once_a_minute(
    rsps: responses.RequestsMock, clock: FakeClock
) -> None:
    auth = jwt_auth(clock)
    unknown = sign_jwt(claims(), kid="k2").encode()
    refused(lambda: auth.authenticate({}, unknown, None))  # first fetch
    assert len(rsps.calls) == 1
    start = clock.now
    for elapsed in (1, 30, 59):
        clock.now = start + elapsed
        refused(lambda: auth.authenticate({}, unknown, None))
    assert len(rsps.calls) == 1
    clock.now = start + 60
    refused(lambda: auth.authenticate({}, unknown, None))
    assert len(rsps.calls) == 2
    clock.now += 59
    refused(lambda: auth.authenticate({}, unknown, None))
    assert len(rsps.calls) == 2


def test_rotated_key_found_by_refetch(rsps: responses.RequestsMock, clock: FakeClock) -> None:
    auth = jwt_auth(clock)
    auth.authenticate({}, sign_jwt(claims()).encode(), None)
    rsps.replace(responses.GET, JWKS_URL, json=jwks(jwk(SIGNING_KEY, "k1"), jwk(OTHER_KEY, "k2")))
    rotated = sign_jwt(claims(), key=OTHER_KEY, kid="k2").encode()
    refused(lambda: auth.authenticate({}, rotated, None))
    clock.now += 60
    assert auth.authenticate({}, rotated, None).method == "jwt"
    assert auth.authenticate({}, sign_jwt(claims()).encode(), None).method == "jwt"
    assert len(rsps.calls) == 2


def test_key_set_refetched_concurrently_only_once(
    rsps: responses.RequestsMock, clock: FakeClock
) -> None:
    auth = jwt_auth(clock)
    body = sign_jwt(claims()).encode()
    start = threading.Barrier(16)

    def call(_: int) -> str:
        start.wait()
        return auth.authenticate({}, body, None).method

    with ThreadPoolExecutor(max_workers=16) as pool:
        assert list(pool.map(call, range(16))) == ["jwt"] * 16
    assert len(rsps.calls) == 1


@pytest.mark.parametrize(
    "reply",
    [
        {"body": requests.ConnectionError("refused")},
        {"body": requests.Timeout("slow")},
        {"status": 500, "json": {"error": "boom"}},
        {"body": "not json"},
        {"json": ["not", "an", "object"]},
        {"json": {"keys": []}},
        {"json": {"keys": "nope"}},
        {"json": jwks({"kty": "oct", "k": "c2VjcmV0", "kid": "k1"})},
        {"json": jwks({k: v for k, v in jwk(SIGNING_KEY, "k1").items() if k != "kid"})},
        {"json": jwks({**jwk(SIGNING_KEY, "k1"), "use": "enc"})},
        {"json": jwks({**json.loads(RSAAlgorithm.to_jwk(SIGNING_KEY)), "kid": "k1"})},
    ],
    ids=[
        "connection",
        "timeout",
        "http-500",
        "not-json",
        "not-object",
        "no-keys",
        "keys-not-list",
        "only-hmac-key",
        "no-kid",
        "encryption-key",
        "private-key",
    ],
)
def test_unusable_key_set_answers_503(
    rsps: responses.RequestsMock, clock: FakeClock, reply: dict[str, Any]
) -> None:
    rsps.replace(responses.GET, JWKS_URL, **reply)
    token = sign_jwt(claims())
    error = refused(lambda: jwt_auth(clock).authenticate({}, token.encode(), None), 503, token)
    assert error.message == "JWT key set unavailable"


def test_unreachable_key_set_is_retried_at_most_once_a_minute(
    rsps: responses.RequestsMock, clock: FakeClock
) -> None:
    rsps.replace(responses.GET, JWKS_URL, body=requests.ConnectionError("down"))
    auth = jwt_auth(clock)
    body = sign_jwt(claims()).encode()
    refused(lambda: auth.authenticate({}, body, None), 503)
    clock.now += 30
    refused(lambda: auth.authenticate({}, body, None), 503)
    assert len(rsps.calls) == 1
    rsps.replace(responses.GET, JWKS_URL, json=jwks(jwk(SIGNING_KEY, "k1")))
    clock.now += 30
    assert auth.authenticate({}, body, None).method == "jwt"
    assert len(rsps.calls) == 2
