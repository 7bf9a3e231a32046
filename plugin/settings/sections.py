"""The `[lti]` and `[mail]` sections, `public_url`, and the checks of URLs, addresses and keys."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from plugin.settings.checks import Problems, wrong_type

CANVAS_CLOUD = "https://canvas.instructure.com"
LTI_DEFAULTS = {
    "issuer": CANVAS_CLOUD,
    "auth_login_url": "https://sso.canvaslms.com/api/lti/authorize_redirect",
    "key_set_url": "https://sso.canvaslms.com/api/lti/security/jwks",
}
LTI_KEYS: dict[str, type] = {
    "client_id": str, "deployment_ids": list, **{k: str for k in LTI_DEFAULTS},
}
MAIL_KEYS: dict[str, type] = {"smtp_url": str, "sender": str, "admins": list}
SMTP_SCHEMES = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
# Deliberately plain: one @, no spaces or angle brackets; the mail server has the last word.
ADDRESS = re.compile(r"^[^@\s<>(),;:\"\[\]]+@[^@\s<>(),;:\"\[\]]+\.[^@\s<>(),;:\"\[\]]+$")


@dataclass(frozen=True)
class LtiSettings:
    client_id: str = ""
    deployment_ids: tuple[str, ...] = ()
    issuer: str = LTI_DEFAULTS["issuer"]
    auth_login_url: str = LTI_DEFAULTS["auth_login_url"]
    key_set_url: str = LTI_DEFAULTS["key_set_url"]

    @property
    def enabled(self) -> bool:
        """LTI launches are offered only once a Canvas developer key is configured."""
        return bool(self.client_id)


@dataclass(frozen=True)
class SmtpServer:
    scheme: str  # "smtp", "smtp+starttls" or "smtps"
    host: str
    port: int
    username: str = ""


@dataclass(frozen=True)
class MailSettings:
    smtp_url: str = ""
    sender: str = ""
    admins: tuple[str, ...] = ()

    @property
    def enabled(self) -> bool:
        """Mail is sent only when a server is configured."""
        return bool(self.smtp_url)

    @property
    def server(self) -> SmtpServer | None:
        """The parsed `smtp_url` (validated at load time), or None."""
        return parse_smtp_url(self.smtp_url) if self.smtp_url else None


def is_address(text: Any) -> bool:
    """Whether `text` looks like a plain e-mail address (local@domain.tld)."""
    return isinstance(text, str) and bool(ADDRESS.match(text))


def check_http_url(problems: Problems, key: str, url: str) -> str:
    """`url` without its trailing slash, or a problem unless it is an http(s) URL with a host."""
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problems.add(key, f"must be an http:// or https:// URL, got {url!r}")
    elif parts.query or parts.fragment:
        problems.add(key, f"must not have a query or fragment, got {url!r}")
    return url.rstrip("/")


def parse_smtp_url(url: str) -> SmtpServer:
    """`smtp://`, `smtp+starttls://` or `smtps://` [user@]host[:port]; ValueError otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in SMTP_SCHEMES:
        raise ValueError("the scheme must be smtp://, smtp+starttls:// or smtps://")
    if not parts.hostname:
        raise ValueError("it names no host")
    if parts.password is not None:
        raise ValueError("the password belongs in CANVAS_LADOK_SMTP_PASSWORD, not the URL")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("it must be scheme://[user@]host[:port] and nothing more")
    port = parts.port or SMTP_SCHEMES[parts.scheme]  # .port raises ValueError when out of range
    return SmtpServer(parts.scheme, parts.hostname, port, unquote(parts.username or ""))


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)


def check_addresses(problems: Problems, key: str, value: Any) -> tuple[str, ...]:
    """A list of e-mail addresses, each checked."""
    if not isinstance(value, list):
        problems.add(key, "must be a list of e-mail addresses")
        return ()
    for item in value:
        if not is_address(item):
            problems.add(key, f"{item!r} is not an e-mail address")
    return tuple(v for v in value if is_address(v))


def _table(raw: Any, name: str, kinds: dict[str, type], problems: Problems) -> dict[str, Any]:
    if not isinstance(raw, dict):
        problems.add(name, "must be a table")
        return {}
    out = {}
    for key, value in raw.items():
        if key not in kinds:
            problems.unknown(f"{name}.{key}")
        elif not isinstance(value, kinds[key]):
            wrong_type(problems, f"{name}.{key}", value, kinds[key])
        else:
            out[key] = value
    return out


def build_lti(raw: Any, problems: Problems) -> LtiSettings:
    """The `[lti]` table."""
    values = _table(raw, "lti", LTI_KEYS, problems)
    ids = values.get("deployment_ids", [])
    if not all(isinstance(i, str) and i for i in ids):
        problems.add("lti.deployment_ids", "must be a list of non-empty strings")
        ids = []
    urls = {k: check_http_url(problems, f"lti.{k}", values.get(k, v))
            for k, v in LTI_DEFAULTS.items()}
    return LtiSettings(client_id=values.get("client_id", ""), deployment_ids=tuple(ids), **urls)


def build_mail(raw: Any, problems: Problems) -> MailSettings:
    """The `[mail]` table."""
    values = _table(raw, "mail", MAIL_KEYS, problems)
    url = values.get("smtp_url", "")
    if url:
        try:
            parse_smtp_url(url)
        except ValueError as exc:
            problems.add("mail.smtp_url", f"{_without_password(url)!r}: {exc}")
    sender = values.get("sender", "")
    if sender and not is_address(sender):
        problems.add("mail.sender", f"{sender!r} is not an e-mail address")
    if url and not sender:
        problems.add("mail.sender", "required when mail.smtp_url is set")
    admins = check_addresses(problems, "mail.admins", values.get("admins", []))
    return MailSettings(smtp_url=url, sender=sender, admins=admins)


def check_lti_key(problems: Problems, pem: str) -> None:
    """The tool's private key must be an RSA key in PEM, without a passphrase."""
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        problems.add("CANVAS_LADOK_LTI_PRIVATE_KEY", "not an unencrypted private key in PEM")
        return
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < 2048:
        problems.add("CANVAS_LADOK_LTI_PRIVATE_KEY", "must be an RSA key of at least 2048 bits")


def check_lti_needs(problems: Problems, lti: LtiSettings, public_url: str, pem: str,
                    secret_key: str) -> None:
    """An LTI tool needs its key, its public address and signed sessions."""
    if not lti.enabled:
        return
    if not pem:
        problems.add("CANVAS_LADOK_LTI_PRIVATE_KEY", "required when lti.client_id is set")
    if not public_url:
        problems.add("public_url", "required when lti.client_id is set")
    if not secret_key:
        problems.add("CANVAS_LADOK_SECRET_KEY", "required when lti.client_id is set")
    if not lti.deployment_ids:
        problems.add("lti.deployment_ids", "required when lti.client_id is set")
