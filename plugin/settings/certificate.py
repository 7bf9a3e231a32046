"""The Ladok integration certificate: read from PEM or PKCS#12, described, and put into TLS.

Python's `ssl` loads a client key only from a file. The key is therefore handed over in an
anonymous in-memory file (`memfd`) where the system has one, else in an owner-only temporary
file removed at once, and in both cases encrypted with a one-time random password: no readable
key material is left anywhere, however briefly.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import secrets
import ssl
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
    pkcs12,
)

PASSWORD_ENV = "CANVAS_LADOK_LADOK_CERT_PASSWORD"
EXPIRY_WARNING_DAYS = 30  # a certificate this close to its end is worth a warning
_PEM_KEY = re.compile(
    rb"-----BEGIN ((?:RSA |EC |DSA |ENCRYPTED )?PRIVATE KEY)-----.+?-----END \1-----", re.S)


class CertificateError(Exception):
    """The certificate cannot be used; the message names the file, never a secret."""


@dataclass(frozen=True)
class ClientCertificate:
    """The integration's certificate, its private key and any intermediate certificates."""

    certificate: x509.Certificate
    key: Any = field(repr=False)
    chain: tuple[x509.Certificate, ...] = ()
    source: str = ""

    @property
    def subject(self) -> str:
        """The subject as RFC 4514 text (`CN=…,O=…`)."""
        return self.certificate.subject.rfc4514_string()

    @property
    def issuer(self) -> str:
        """The issuer as RFC 4514 text."""
        return self.certificate.issuer.rfc4514_string()

    @property
    def not_before(self) -> dt.datetime:
        """The start of validity (UTC)."""
        return _utc(self.certificate, "not_valid_before")

    @property
    def not_after(self) -> dt.datetime:
        """The end of validity (UTC)."""
        return _utc(self.certificate, "not_valid_after")

    def problem(self, now: dt.datetime) -> str | None:
        """Why the certificate cannot be used at `now`, or None."""
        if now < self.not_before:
            return f"not valid before {self.not_before:%Y-%m-%d %H:%M} UTC"
        if now >= self.not_after:
            return (f"expired on {self.not_after:%Y-%m-%d}: order a new certificate from "
                    "Ladok support")
        return None

    def validity(self, now: dt.datetime) -> str:
        """`valid until 2026-05-01 (120 days left)`, with a warning when the end is near."""
        days = (self.not_after - now).days
        text = f"valid until {self.not_after:%Y-%m-%d %H:%M} UTC ({days} days left)"
        if days < EXPIRY_WARNING_DAYS:
            text += ": order its successor from Ladok support now"
        return text


def _utc(cert: x509.Certificate, name: str) -> dt.datetime:
    aware = getattr(cert, f"{name}_utc", None)  # cryptography >= 42
    return aware if aware is not None else getattr(cert, name).replace(tzinfo=dt.UTC)


def load_client_certificate(path: str | os.PathLike, password: str = "") -> ClientCertificate:
    """The certificate and key in `path` (PEM with both, or PKCS#12), or CertificateError."""
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise CertificateError(f"{name}: not found") from None
    except OSError as exc:
        raise CertificateError(f"{name}: cannot be read: {exc.strerror}") from None
    if b"-----BEGIN" in data:
        key, certs = _read_pem(data, password, name)
    else:
        key, certs = _read_pkcs12(data, password, name)
    return _pair(key, certs, name)


def _read_pem(data: bytes, password: str, name: str) -> tuple[Any, list[x509.Certificate]]:
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise CertificateError(f"{name}: holds no PEM certificate") from None
    match = _PEM_KEY.search(data)
    if match is None:
        raise CertificateError(f"{name}: holds no private key (the PEM file must hold the "
                               "certificate and its key)")
    try:
        key = load_pem_private_key(match.group(0), password.encode() or None)
    except TypeError:  # encrypted without a password, or a password for a plain key
        if password:
            key = load_pem_private_key(match.group(0), None)
        else:
            raise CertificateError(f"{name}: the private key is encrypted: set its password "
                                   f"in {PASSWORD_ENV}") from None
    except ValueError:
        raise CertificateError(f"{name}: the private key cannot be opened (wrong password in "
                               f"{PASSWORD_ENV}?)") from None
    return key, certs


def _read_pkcs12(data: bytes, password: str, name: str) -> tuple[Any, list[x509.Certificate]]:
    for attempt in ([password.encode()] if password else [None, b""]):
        try:
            key, cert, extra = pkcs12.load_key_and_certificates(data, attempt)
        except ValueError:
            continue
        return key, ([cert] if cert else []) + list(extra)
    hint = "wrong password?" if password else f"is its password in {PASSWORD_ENV}?"
    raise CertificateError(f"{name}: neither PEM nor a PKCS#12 file that opens ({hint})")


def _pair(key: Any, certs: list[x509.Certificate], name: str) -> ClientCertificate:
    if key is None:
        raise CertificateError(f"{name}: holds no private key")
    wanted = _spki(key.public_key())
    leaf = next((c for c in certs if _spki(c.public_key()) == wanted), None)
    if leaf is None:
        raise CertificateError(f"{name}: no certificate in it belongs to its private key")
    return ClientCertificate(leaf, key, tuple(c for c in certs if c is not leaf), name)


def _spki(public_key: Any) -> bytes:
    return public_key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def client_ssl_context(identity: ClientCertificate, cafile: str | None = None) -> ssl.SSLContext:
    """A TLS context that presents `identity` and trusts `cafile` (else the system's CAs)."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile)
    one_time = secrets.token_bytes(32)
    pem = b"".join(c.public_bytes(Encoding.PEM) for c in (identity.certificate, *identity.chain))
    pem += identity.key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8,
                                      BestAvailableEncryption(one_time))
    with _transient_file(pem) as path:
        context.load_cert_chain(path, password=one_time)
    return context


@contextlib.contextmanager
def _transient_file(data: bytes) -> Iterator[str]:
    """A path to `data` that no other user can read and that is gone afterwards."""
    if hasattr(os, "memfd_create") and os.path.isdir("/proc/self/fd"):
        fd = os.memfd_create("ladok-client", os.MFD_CLOEXEC)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            yield f"/proc/self/fd/{fd}"
        finally:
            os.close(fd)
        return
    folder = tempfile.mkdtemp(prefix="ladok-")  # 0700
    path = os.path.join(folder, "client.pem")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        os.rmdir(folder)
