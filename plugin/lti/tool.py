"""The LTI tool built from the settings: the library's configuration, key set and launch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives import serialization
from pylti1p3.contrib.flask import FlaskMessageLaunch
from pylti1p3.exception import LtiException, LtiMessageValidationException
from pylti1p3.registration import Registration
from pylti1p3.tool_config import ToolConfDict

from plugin.settings import Settings

KEY_SET_TIMEOUT_SECONDS = 5
TITLE = "canvas-ladok"
CUSTOM_FIELDS = {"canvas_course_id": "$Canvas.course.id", "canvas_user_id": "$Canvas.user.id"}


class KeySetUnavailable(LtiException):
    """The platform's key set could not be fetched: the platform's fault, not the user's."""


@dataclass(frozen=True)
class Tool:
    """What every LTI request needs, built once per application."""

    settings: Settings
    conf: ToolConfDict
    public_jwk: dict[str, Any]

    @property
    def launch_url(self) -> str:
        return f"{self.settings.public_url}/lti/launch"


def public_pem(private_pem: str) -> str:
    """The PEM public key of a PEM private key."""
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def build_tool(settings: Settings) -> Tool:
    """The library's configuration: one issuer, one client id, its deployments and our key."""
    lti = settings.lti
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(lti.auth_login_url))
    conf = ToolConfDict({lti.issuer: {
        "client_id": lti.client_id,
        "auth_login_url": lti.auth_login_url,
        # Required by the library for services; a launch never asks for a token.
        "auth_token_url": f"{origin}/login/oauth2/token",
        "key_set_url": lti.key_set_url,
        "deployment_ids": list(lti.deployment_ids),
    }})
    public = public_pem(settings.lti_private_key)
    conf.set_private_key(lti.issuer, settings.lti_private_key)
    conf.set_public_key(lti.issuer, public)
    return Tool(settings, conf, dict(Registration.get_jwk(public)))


class ToolLaunch(FlaskMessageLaunch):
    """The library's launch validation; the key set fetched with a timeout, `exp` required,
    and `azp` checked as LTI 1.3 asks (the library does not)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.set_jwt_verify_options({"verify_aud": False, "require": ["exp", "iat"]})

    def validate_registration(self):
        super().validate_registration()
        body = self._get_jwt_body()
        ours, aud, azp = self._registration.get_client_id(), body.get("aud"), body.get("azp")
        # A token for several audiences must name us as the party it was issued to.
        if (azp is not None or (isinstance(aud, list) and len(aud) > 1)) and azp != ours:
            raise LtiMessageValidationException(
                "azp is not this tool's client id (a token for several audiences needs it)")
        return self

    def fetch_public_key(self, key_set_url: str):
        try:
            response = requests.get(key_set_url, timeout=KEY_SET_TIMEOUT_SECONDS)
            response.raise_for_status()
            return response.json()
        except (requests.RequestException, ValueError) as exc:
            raise KeySetUnavailable(f"platform key set unavailable: {type(exc).__name__}") from exc


def developer_key(settings: Settings) -> dict[str, Any]:
    """The JSON to paste into a Canvas LTI developer key."""
    base = settings.public_url
    launch = f"{base}/lti/launch"
    return {
        "title": TITLE,
        "description": "Course results from Canvas to Ladok: progress, exports and each "
                       "student's own status.",
        "oidc_initiation_url": f"{base}/lti/login",
        "target_link_uri": launch,
        "public_jwk_url": f"{base}/lti/jwks",
        "scopes": [],
        "custom_fields": dict(CUSTOM_FIELDS),
        "extensions": [{
            "platform": "canvas.instructure.com",
            "domain": urlsplit(base).netloc,
            "tool_id": TITLE,
            "privacy_level": "public",
            "settings": {
                "text": "Ladok",
                "placements": [{
                    "placement": "course_navigation",
                    "message_type": "LtiResourceLinkRequest",
                    "target_link_uri": launch,
                    "text": "Ladok",
                    "default": "disabled",
                    "visibility": "members",
                }],
            },
        }],
    }
