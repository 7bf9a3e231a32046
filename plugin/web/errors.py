"""JSON error answers for every HTTP error, and 503 for database lock timeouts."""

from __future__ import annotations

from flask import Flask, jsonify
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from ..db import is_lock_timeout

RETRY_AFTER_SECONDS = 5


def error(status: int, message: str, **headers: str):
    """A JSON error response."""
    response = jsonify(error=message)
    response.status_code = status
    response.headers.update(headers)
    return response


def register(app: Flask) -> None:
    """Answer HTTP errors as JSON; a lock timeout as 503 with Retry-After."""

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        return error(exc.code or 500, exc.description or exc.name)

    @app.errorhandler(OperationalError)
    def _db(exc: OperationalError):
        if is_lock_timeout(exc):
            return error(503, "database busy, retry later", **{"Retry-After":
                                                               str(RETRY_AFTER_SECONDS)})
        app.logger.exception("database error")
        return error(503, "database unavailable", **{"Retry-After": str(RETRY_AFTER_SECONDS)})
