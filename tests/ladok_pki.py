"""Certificates for the fake Ladok, made in the test: a CA, the server's and the clients'."""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    NoEncryption,
    PrivateFormat,
    pkcs12,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class Issued:
    """A certificate and its key."""

    cert: x509.Certificate
    key: Any

    def write_pem(self, path: Path, password: str = "", key_first: bool = False) -> Path:
        """The certificate and its key in one PEM file (the key encrypted with `password`)."""
        crypt = BestAvailableEncryption(password.encode()) if password else NoEncryption()
        key = self.key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, crypt)
        cert = self.cert.public_bytes(Encoding.PEM)
        path.write_bytes(key + cert if key_first else cert + key)
        return path

    def write_cert(self, path: Path) -> Path:
        """The certificate alone (PEM), e.g. a CA bundle."""
        path.write_bytes(self.cert.public_bytes(Encoding.PEM))
        return path

    def write_p12(self, path: Path, password: str = "") -> Path:
        """The certificate and key as PKCS#12."""
        crypt = BestAvailableEncryption(password.encode()) if password else NoEncryption()
        path.write_bytes(pkcs12.serialize_key_and_certificates(
            b"ladok", self.key, self.cert, None, crypt))
        return path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test University")])


def _key(kind: str) -> Any:
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def certificate_authority(name: str = "Test Ladok CA") -> Issued:
    """A self-signed CA."""
    key = _key("ec")
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(_name(name)).issuer_name(_name(name))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return Issued(cert, key)


def issue(ca: Issued, common_name: str, server: bool = False, days: float = 365,
          starts: float = -1, kind: str = "ec") -> Issued:
    """A certificate signed by `ca`: for a server on loopback, or for a client."""
    key = _key(kind)
    now = dt.datetime.now(dt.UTC)
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (x509.CertificateBuilder().subject_name(_name(common_name))
               .issuer_name(ca.cert.subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now + dt.timedelta(days=starts))
               .not_valid_after(now + dt.timedelta(days=days))
               .add_extension(x509.ExtendedKeyUsage([usage]), critical=False))
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
    return Issued(builder.sign(ca.key, hashes.SHA256()), key)
