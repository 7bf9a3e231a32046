"""Hand one message to the configured SMTP server (smtp, smtp+starttls or smtps)."""

from __future__ import annotations

import base64
import smtplib
import socket
import ssl
from email.message import EmailMessage

from plugin.settings import Settings
from plugin.settings.sections import SmtpServer

TIMEOUT_SECONDS = 30.0


class MailError(Exception):
    """Mail could not be handed over; the message is one line, safe to log and to show."""


class _Answering:
    """Keeps the server's answer to the message itself (smtplib drops it)."""

    answer: str = ""

    def data(self, msg):
        code, text = super().data(msg)
        self.answer = f"{code} {_text(text)}"
        return code, text

    def login_any(self, user: str, password: str) -> None:
        """smtplib's login, which encodes credentials as ASCII; otherwise AUTH PLAIN in
        UTF-8 (RFC 4616), so a password may hold any character."""
        if (user + password).isascii():
            self.login(user, password)
            return
        self.ehlo_or_helo_if_needed()
        if "plain" not in self.esmtp_features.get("auth", "").lower().split():
            raise smtplib.SMTPNotSupportedError("non-ASCII credentials need AUTH PLAIN")
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode("ascii")
        code, reply = self.docmd("AUTH", f"PLAIN {token}")
        if code != 235:
            raise smtplib.SMTPAuthenticationError(code, reply)


class _SMTP(_Answering, smtplib.SMTP):
    pass


class _SMTPS(_Answering, smtplib.SMTP_SSL):
    pass


def _text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())


def _connect(server: SmtpServer, context: ssl.SSLContext) -> _Answering:
    if server.scheme == "smtps":
        return _SMTPS(server.host, server.port, timeout=TIMEOUT_SECONDS, context=context)
    smtp = _SMTP(server.host, server.port, timeout=TIMEOUT_SECONDS)
    if server.scheme == "smtp+starttls":
        smtp.starttls(context=context)
    return smtp


def send(settings: Settings, message: EmailMessage,
         context: ssl.SSLContext | None = None) -> str:
    """Send `message` to its To addresses; the server's answer, or MailError saying why not.

    TLS certificates are verified against the system's trusted authorities. Some refused
    recipients (while others were accepted) are named in the answer."""
    server = settings.mail.server
    if server is None:
        raise MailError("mail is not configured (mail.smtp_url is empty)")
    if server.username and not settings.smtp_password:
        raise MailError(f"smtp_url names the user {server.username!r} but "
                        "CANVAS_LADOK_SMTP_PASSWORD is not set")
    where = f"{server.host}:{server.port}"
    try:
        smtp = _connect(server, context or ssl.create_default_context())
    except Exception as exc:  # every failure becomes one clear line
        raise MailError(_explain(exc, where, server)) from None
    try:
        if server.username:
            smtp.login_any(server.username, settings.smtp_password)
        refused = smtp.send_message(message)
        answer = smtp.answer
    except Exception as exc:
        raise MailError(_explain(exc, where, server)) from None
    finally:
        # Once the server accepted the message, what it answers to QUIT (or whether it
        # answers at all) changes nothing: the message is sent and must not be sent again.
        _say_goodbye(smtp)
    if refused:
        answer += "; refused: " + ", ".join(
            f"{address} ({code} {_text(text)})" for address, (code, text) in refused.items())
    return answer


def _say_goodbye(smtp: _Answering) -> None:
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        pass
    finally:
        smtp.close()


def _explain(exc: Exception, where: str, server: SmtpServer) -> str:
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return (f"{where} refused the login of {server.username!r}: "
                f"{exc.smtp_code} {_text(exc.smtp_error)}")
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return f"{where} refused every recipient: " + "; ".join(
            f"{address}: {code} {_text(text)}" for address, (code, text) in exc.recipients.items())
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return f"{where} refused the sender {exc.sender}: {exc.smtp_code} {_text(exc.smtp_error)}"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{where} answered {exc.smtp_code} {_text(exc.smtp_error)}"
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return f"{where} does not support what is needed: {exc}"
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return f"TLS with {where} failed: {getattr(exc, 'reason', None) or exc}"
    if isinstance(exc, socket.gaierror):
        return f"cannot reach {where}: unknown host"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return f"{where} closed the connection: {exc or 'no reason given'}"
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"cannot reach {where}: no answer within {TIMEOUT_SECONDS:.0f} s"
    if isinstance(exc, OSError):
        return f"cannot reach {where}: {exc.strerror or type(exc).__name__}"
    if isinstance(exc, smtplib.SMTPException | UnicodeError | ValueError):
        return f"{where}: {type(exc).__name__}: {_text(str(exc))}"
    return f"{where}: unexpected {type(exc).__name__}"
