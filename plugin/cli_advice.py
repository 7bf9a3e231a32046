"""The one line a command prints for an expected failure: what went wrong and what to do.

Expected failures are those of the outside world or of the setup (no Canvas token, Canvas or
Ladok or the database unreachable, a folder that cannot be written), never bugs: a bug keeps
its traceback. A new kind of failure (another remote service) adds its type to ADVISORS."""

from __future__ import annotations

import errno
from collections.abc import Callable

from sqlalchemy.exc import DBAPIError

from plugin.canvas.client import CanvasError, CanvasNotConfigured
from plugin.ladok.errors import (
    LadokCertificateError,
    LadokError,
    LadokNotConfigured,
    LadokUnavailable,
)
from plugin.settings import Settings

CANVAS_SETUP = "docs/canvas-setup.md"
LADOK_SETUP = "docs/ladok.md"


def _canvas(exc: CanvasError, settings: Settings) -> str:
    if isinstance(exc, CanvasNotConfigured):
        if "TOKEN" in str(exc):
            return (f"no Canvas API token: set CANVAS_LADOK_CANVAS_TOKEN to an access token "
                    f"of a Canvas user who may read the course ({CANVAS_SETUP}, section 2)")
        return (f"canvas.url is not set: set it in {settings.config_path} "
                f"(or CANVAS_LADOK_CANVAS_URL) to your Canvas's address")
    if exc.status == 401:
        return (f"{exc}: the token has expired or was revoked; create a new one and set "
                "CANVAS_LADOK_CANVAS_TOKEN")
    if exc.status == 403:
        return f"{exc}: give the token's user the permissions listed in {CANVAS_SETUP}"
    if exc.status == 404:
        return f"{exc}: check the course's canvas_id and canvas.url ({settings.canvas_url})"
    if exc.status is None:
        return (f"{exc}: check that canvas.url ({settings.canvas_url}) is right and that this "
                "machine reaches it, then try again")
    return f"{exc}: try again later"


def _ladok(exc: LadokError, settings: Settings) -> str:
    if isinstance(exc, LadokNotConfigured):
        return f"{exc}: set the [ladok] section in {settings.config_path} ({LADOK_SETUP})"
    if isinstance(exc, LadokCertificateError):
        return (f"{exc}: check ladok.certificate, CANVAS_LADOK_LADOK_CERT_PASSWORD and "
                f"ladok.ca_file ({LADOK_SETUP}); `canvas-ladok ladok-check` tells more")
    if isinstance(exc, LadokUnavailable):
        return (f"{exc}: check that ladok.url ({settings.ladok.url}) is right and that this "
                "machine reaches it, then try again")
    return f"{exc}: `canvas-ladok ladok-check` tells whether the set-up is right"


def _database(exc: DBAPIError, settings: Settings) -> str:
    from sqlalchemy.engine import make_url

    where = make_url(settings.database_url).render_as_string(hide_password=True)
    detail = str(exc.orig or exc).strip().splitlines()
    reason = detail[0] if detail else type(exc).__name__
    return (f"the database {where} cannot be used ({reason}): check database_url and that the "
            "database server runs and accepts this user")


# A file or folder that cannot be made or written: the setup's, not the program's fault.
FILE_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT,
               errno.ENOENT, errno.ENOTDIR, errno.EISDIR}


def _file(exc: OSError, settings: Settings) -> str | None:
    if exc.errno not in FILE_ERRNOS or not exc.filename:
        return None
    return (f"{exc.filename}: {exc.strerror}: check that the folder exists and that the user "
            "running canvas-ladok may write it")


ADVISORS: dict[type[BaseException], Callable[..., str | None]] = {
    CanvasError: _canvas,
    LadokError: _ladok,
    DBAPIError: _database,
    OSError: _file,
}


def advice(exc: BaseException, settings: Settings) -> str | None:
    """The line to print for an expected failure; None for anything else (a bug)."""
    for kind, advisor in ADVISORS.items():
        if isinstance(exc, kind):
            return advisor(exc, settings)
    return None
