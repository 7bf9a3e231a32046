"""URL pieces every blueprint shares: ids in routes, and where to return after signing in."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import url_for

from plugin.rules.text import has_control
from plugin.store.models import MAX_ID

ID = f"int(max={MAX_ID})"  # an id larger than a column holds is 404, like an unknown one


def safe_next(target: str | None) -> str:
    """A local path to return to after sign-in (never another host, never a header break)."""
    if (not target or not target.startswith("/") or target.startswith("//") or "\\" in target
            or has_control(target) or any(c.isspace() for c in target)):
        return url_for("pages.index")
    return target if not urlsplit(target).netloc else url_for("pages.index")
