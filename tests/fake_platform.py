"""A fake Canvas LTI platform: its own RSA key pair, key set and signed id_tokens."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.conftest import COURSE_TOML

ISSUER = "https://canvas.test.instructure.com"
CLIENT_ID = "10000000000042"
DEPLOYMENT_ID = "17:8865aa05b4b79b64a91a86042e43af5ea8ae79eb"
AUTH_LOGIN_URL = "https://sso.canvas.test/api/lti/authorize_redirect"
KEY_SET_URL = "https://sso.canvas.test/api/lti/security/jwks"
TOOL_URL = "https://ladok.example.edu"
LIS = "http://purl.imsglobal.org/vocab/lis/v2"
INSTRUCTOR = f"{LIS}/membership#Instructor"
TEACHING_ASSISTANT = f"{LIS}/membership/Instructor#TeachingAssistant"
LEARNER = f"{LIS}/membership#Learner"
MENTOR = f"{LIS}/membership#Mentor"
INSTITUTION_ADMIN = f"{LIS}/institution/person#Administrator"
INSTITUTION_INSTRUCTOR = f"{LIS}/institution/person#Instructor"
CLAIM = "https://purl.imsglobal.org/spec/lti/claim"
# Fixed times, so no test reads the clock: issued in 2001, valid until 2096.
ISSUED_AT = 1_000_000_000
VALID_UNTIL = 4_000_000_000


def new_key() -> rsa.RSAPrivateKey:
    """A fresh 2048-bit RSA key."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key: rsa.RSAPrivateKey) -> str:
    """The private key in unencrypted PKCS#8 PEM."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def lti_toml(key_set_url: str = KEY_SET_URL, auth_login_url: str = AUTH_LOGIN_URL) -> str:
    """The [lti] table of a tool registered with the fake platform."""
    return (f'\n[lti]\nclient_id = "{CLIENT_ID}"\ndeployment_ids = ["{DEPLOYMENT_ID}"]\n'
            f'issuer = "{ISSUER}"\nauth_login_url = "{auth_login_url}"\n'
            f'key_set_url = "{key_set_url}"\n')


class FakePlatform:
    """Signs id_tokens as Canvas would, with a key made for the test."""

    def __init__(self, kid: str = "platform-key-1"):
        self.key = new_key()
        self.kid = kid

    def jwks(self) -> dict[str, Any]:
        """The platform's public key set."""
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}]}

    def claims(self, nonce: str, roles: list[str], course: int = 565, user: int = 1001,
               **overrides: Any) -> dict[str, Any]:
        """The id_token claims of a course navigation launch."""
        claims = {
            "iss": ISSUER, "aud": CLIENT_ID, "sub": uuid.uuid4().hex, "nonce": nonce,
            "iat": ISSUED_AT, "exp": VALID_UNTIL, "name": "Ada Lärare", "email": "ada@example.edu",
            f"{CLAIM}/message_type": "LtiResourceLinkRequest",
            f"{CLAIM}/version": "1.3.0",
            f"{CLAIM}/deployment_id": DEPLOYMENT_ID,
            f"{CLAIM}/target_link_uri": f"{TOOL_URL}/lti/launch",
            f"{CLAIM}/resource_link": {"id": uuid.uuid4().hex},
            f"{CLAIM}/roles": roles,
            f"{CLAIM}/context": {"id": uuid.uuid4().hex, "title": "Databaser"},
            f"{CLAIM}/custom": {"canvas_course_id": str(course), "canvas_user_id": str(user)},
        }
        claims.update(overrides)
        return claims

    def sign(self, claims: dict[str, Any], key: rsa.RSAPrivateKey | None = None,
             kid: str | None = None) -> str:
        """The id_token: claims signed RS256 under `kid`."""
        return jwt.encode(claims, key or self.key, algorithm="RS256",
                          headers={"kid": kid or self.kid})


def login_params() -> dict[str, str]:
    """What Canvas sends to the tool's OIDC initiation URL."""
    return {"iss": ISSUER, "login_hint": "535fa085f22b4655f48cd5a36a9215f64c062838",
            "target_link_uri": f"{TOOL_URL}/lti/launch", "client_id": CLIENT_ID,
            "lti_deployment_id": DEPLOYMENT_ID, "lti_message_hint": "hint"}


def auth_request(location: str) -> dict[str, str]:
    """The parameters of the tool's redirect to the platform's authorization endpoint."""
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


SECRET_KEY = "test-session-secret-key-0123456789"
TOOL_KEY = pem(new_key())


def lti_config(extra_top: str = "", **lti) -> str:
    """The test courses with the tool registered with the fake platform."""
    return f'public_url = "{TOOL_URL}"\n{extra_top}' + COURSE_TOML + lti_toml(**lti)


@pytest.fixture
def config_file(tmp_path):
    """The test courses' configuration with the tool registered (overrides the conftest's)."""
    path = tmp_path / "canvas-ladok.toml"
    path.write_text(lti_config())
    return path


@pytest.fixture
def environ(environ):
    """The conftest's environment with the session key and the tool's private key."""
    return {**environ, "CANVAS_LADOK_SECRET_KEY": SECRET_KEY,
            "CANVAS_LADOK_LTI_PRIVATE_KEY": TOOL_KEY}
