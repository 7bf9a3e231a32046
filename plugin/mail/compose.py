"""Messages from the package's Jinja templates: a plain text part and an HTML alternative.

Every message is in Swedish first, then English: staff at a Swedish university read Swedish,
and visiting teachers and operators find the same content below it.
"""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from plugin.clock import utcnow
from plugin.rules.identity import mask_in_text

FROM_NAME = "canvas-ladok"
# A Swedish personal or coordination number (YYMMDD or YYYYMMDD, up to three separators or
# stray characters such as a space, a dash of any kind, an underscore or a zero-width space,
# four digits): never in a message, whatever text carried it (a name, an error message).
@lru_cache(maxsize=1)
def environment() -> Environment:
    """The Jinja environment over plugin/templates (HTML escaped, text not)."""
    return Environment(
        loader=PackageLoader("plugin", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default=False),
        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(name: str, **context: Any) -> tuple[str, str]:
    """The text and HTML renderings of `mail/<name>.txt` and `mail/<name>.html`."""
    env = environment()
    text = env.get_template(f"mail/{name}.txt").render(**context)
    html = env.get_template(f"mail/{name}.html").render(**context)
    return mask_in_text(text), mask_in_text(html)


def build(sender: str, recipients: list[str] | tuple[str, ...], subject: str, text: str,
          html: str, *, message_id: str | None = None,
          now: dt.datetime | None = None) -> EmailMessage:
    """A multipart/alternative message; automatic (RFC 3834), so auto-replies stay away."""
    message = EmailMessage()
    message["From"] = f"{FROM_NAME} <{sender}>"
    message["To"] = ", ".join(recipients)
    message["Subject"] = mask_in_text(subject)
    message["Date"] = format_datetime(now or utcnow())
    domain = sender.rpartition("@")[2]
    message["Message-ID"] = f"<{message_id}@{domain}>" if message_id else make_msgid(
        "canvas-ladok", domain)
    message["Content-Language"] = "sv, en"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message
