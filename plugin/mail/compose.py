"""Messages from the package's Jinja templates: a plain text part and an HTML alternative.

Every message is in Swedish first, then English: staff at a Swedish university read Swedish,
and visiting teachers and operators find the same content below it.
"""

from __future__ import annotations

import datetime as dt
import re
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from plugin.clock import utcnow

FROM_NAME = "canvas-ladok"
# A Swedish personal or coordination number (YYMMDD or YYYYMMDD, up to three separators or
# stray characters such as a space, a dash of any kind, an underscore or a zero-width space,
# four digits): never in a message, whatever text carried it (a name, an error message).
PERSONNUMMER = re.compile(
    r"(?<![\d-])((?:19|20)?\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]|6[1-9]|[78]\d|9[01]))"
    r"[\s+_\-\u2010-\u2015\u200b-\u200d\u2060\ufeff]{0,3}\d{4}(?!\d)")


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The Jinja environment over plugin/templates (HTML escaped, text not)."""
    return Environment(
        loader=PackageLoader("plugin", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default=False),
        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def mask_personnummer(text: str) -> str:
    """`text` with every personnummer-like number masked as on the pages (19900101-****)."""
    return PERSONNUMMER.sub(lambda m: f"{m.group(1)}-****", text)


def render(name: str, **context: Any) -> tuple[str, str]:
    """The text and HTML renderings of `mail/<name>.txt` and `mail/<name>.html`."""
    env = environment()
    text = env.get_template(f"mail/{name}.txt").render(**context)
    html = env.get_template(f"mail/{name}.html").render(**context)
    return mask_personnummer(text), mask_personnummer(html)


def build(sender: str, recipients: list[str] | tuple[str, ...], subject: str, text: str,
          html: str, *, message_id: str | None = None,
          now: dt.datetime | None = None) -> EmailMessage:
    """A multipart/alternative message; automatic (RFC 3834), so auto-replies stay away."""
    message = EmailMessage()
    message["From"] = f"{FROM_NAME} <{sender}>"
    message["To"] = ", ".join(recipients)
    message["Subject"] = mask_personnummer(subject)
    message["Date"] = format_datetime(now or utcnow())
    domain = sender.rpartition("@")[2]
    message["Message-ID"] = f"<{message_id}@{domain}>" if message_id else make_msgid(
        "canvas-ladok", domain)
    message["Content-Language"] = "sv, en"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message
