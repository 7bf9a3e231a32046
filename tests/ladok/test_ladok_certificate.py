"""The integration certificate: PEM or PKCS#12, clear errors, validity, and a TLS context that
leaves no key material readable anywhere."""

from __future__ import annotations

import datetime as dt
import os
import ssl

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from plugin.settings.certificate import (
    CertificateError,
    client_ssl_context,
    load_client_certificate,
)
from tests.ladok_pki import certificate_authority, issue

NOW = dt.datetime.now(dt.UTC)


@pytest.fixture(scope="module")
def ca():
    return certificate_authority()


@pytest.fixture(scope="module")
def issued(ca):
    return issue(ca, "canvas-ladok integration", kind="rsa")


@pytest.mark.parametrize("form", ["pem", "pem-key-first", "pem-encrypted", "p12", "p12-open"])
def test_pem_and_pkcs12_load_alike(tmp_path, issued, form):
    password = "" if form in ("pem", "pem-key-first", "p12-open") else "hemligt"
    if form.startswith("pem"):
        path = issued.write_pem(tmp_path / "c.pem", password, key_first=form.endswith("first"))
    else:
        path = issued.write_p12(tmp_path / "c.p12", password)
    loaded = load_client_certificate(path, password)
    assert loaded.certificate == issued.cert and "CN=canvas-ladok integration" in loaded.subject
    assert NOW + dt.timedelta(days=360) < loaded.not_after < NOW + dt.timedelta(days=366)
    assert "key=" not in repr(loaded)


@pytest.mark.parametrize("case, message", [
    ("missing", "not found"),
    ("only-cert", "holds no private key"),
    ("garbage", "neither PEM nor a PKCS#12 file"),
    ("pem-no-password", "the private key is encrypted: set its password in "
                        "CANVAS_LADOK_LADOK_CERT_PASSWORD"),
    ("pem-wrong-password", "cannot be opened (wrong password"),
    ("p12-wrong-password", "wrong password?"),
    ("mismatch", "no certificate in it belongs to its private key"),
])
def test_an_unusable_certificate_says_why_without_secrets(tmp_path, ca, issued, case, message):
    path, password = tmp_path / "c", "fel-lösenord"
    if case == "only-cert":
        issued.write_cert(path)
    elif case == "garbage":
        path.write_bytes(b"\x00\x01 not a certificate")
    elif case == "pem-no-password":
        issued.write_pem(path, "hemligt")
        password = ""
    elif case == "pem-wrong-password":
        issued.write_pem(path, "hemligt")
    elif case == "p12-wrong-password":
        issued.write_p12(path, "hemligt")
    elif case == "mismatch":  # a certificate with somebody else's key
        key = issue(ca, "other").key
        path.write_bytes(issued.cert.public_bytes(Encoding.PEM) + key.private_bytes(
            Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    with pytest.raises(CertificateError) as info:
        load_client_certificate(path, password)
    assert message in str(info.value) and str(path) in str(info.value)
    assert password not in str(info.value) or not password


def test_validity_is_told_and_an_expired_certificate_refused(tmp_path, ca):
    fresh = load_client_certificate(issue(ca, "x", days=200).write_pem(tmp_path / "a.pem"))
    assert fresh.problem(NOW) is None
    later = fresh.not_after - dt.timedelta(days=120, hours=1)
    assert fresh.validity(later) == (f"valid until {fresh.not_after:%Y-%m-%d %H:%M} UTC "
                                     "(120 days left)")
    ending = fresh.not_after - dt.timedelta(days=10)
    assert fresh.validity(ending).endswith("order its successor from Ladok support now")
    old = load_client_certificate(issue(ca, "x", days=-2, starts=-30).write_pem(tmp_path / "c"))
    assert old.problem(NOW).startswith(f"expired on {old.not_after:%Y-%m-%d}")
    early = load_client_certificate(issue(ca, "x", starts=3).write_pem(tmp_path / "d.pem"))
    assert early.problem(NOW).startswith("not valid before")


def _watch_key_files(monkeypatch) -> list[tuple[str, int, bytes]]:
    """What load_cert_chain is handed: path, mode and content at that moment."""
    handed: list[tuple[str, int, bytes]] = []
    original = ssl.SSLContext.load_cert_chain

    def watching(self, certfile, keyfile=None, password=None):
        with open(certfile, "rb") as fh:
            handed.append((certfile, os.stat(certfile).st_mode & 0o777, fh.read()))
        return original(self, certfile, keyfile, password)

    monkeypatch.setattr(ssl.SSLContext, "load_cert_chain", watching)
    return handed


@pytest.mark.parametrize("memfd", [True, False])
def test_the_key_reaches_tls_encrypted_and_leaves_nothing_behind(tmp_path, monkeypatch, issued,
                                                                 memfd):
    if not memfd:
        monkeypatch.delattr(os, "memfd_create", raising=False)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    handed = _watch_key_files(monkeypatch)
    identity = load_client_certificate(issued.write_pem(tmp_path / "c.pem"))
    client_ssl_context(identity)
    [(path, mode, content)] = handed
    assert b"BEGIN ENCRYPTED PRIVATE KEY" in content and b"BEGIN PRIVATE KEY" not in content
    assert path.startswith("/proc/self/fd/") if memfd else mode == 0o600
    assert os.listdir(tmp_path / "tmp") == []  # the temporary folder is gone too
    assert not any("ladok-client" in os.readlink(f"/proc/self/fd/{fd}")
                   for fd in os.listdir("/proc/self/fd") if _link(fd))


def _link(fd: str) -> bool:
    try:
        os.readlink(f"/proc/self/fd/{fd}")
        return True
    except OSError:
        return False
