"""The `mail-test` command's message: proves the server, TLS, login and address work."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from plugin.clock import utcnow
from plugin.mail import compose, smtp
from plugin.settings import Settings
from plugin.settings.sections import is_address


def send_test(settings: Settings, address: str, now: dt.datetime | None = None) -> str:
    """Send the test message; one line saying what the server answered, or ValueError why not."""
    if not settings.mail.enabled:
        raise ValueError(f"mail is not configured: set mail.smtp_url and mail.sender in "
                         f"{settings.config_path}")
    if not is_address(address):
        raise ValueError(f"{address!r} is not an e-mail address")
    now = now or utcnow()
    server = settings.mail.server
    where = f"{server.scheme}://{server.host}:{server.port}"
    when = now.astimezone(ZoneInfo(settings.timezone)).strftime("%Y-%m-%d %H:%M")
    text, html = compose.render("test", when=when, server=where, sender=settings.mail.sender)
    message = compose.build(settings.mail.sender, [address],
                            "canvas-ladok: testmeddelande / test message", text, html, now=now)
    try:
        answer = smtp.send(settings, message)
    except smtp.MailError as exc:
        raise ValueError(str(exc)) from None
    return f"sent to {address} through {where}; the server answered: {answer}"
