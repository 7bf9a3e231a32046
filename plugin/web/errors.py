"""JSON error answers for every HTTP error, and 503 for database lock timeouts."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from flask import Flask, Response, jsonify, request
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from plugin.store.db import is_lock_timeout

RETRY_AFTER_SECONDS = 5


def error(status: int, message: str, **headers: str):
    """A JSON error response."""
    response = jsonify(error=message)
    response.status_code = status
    response.headers.update(headers)
    return response


def _redirect_without_query(response: Response) -> Response:
    """A routing redirect (`//path` → `/path`) never echoes the query: it may hold ?token=."""
    if isinstance(request.routing_exception, RequestRedirect) and response.location:
        location = urlunsplit(urlsplit(response.location)._replace(query=""))
        return error(response.status_code, f"moved to {location}", Location=location)
    return response


def register(app: Flask) -> None:
    """Answer HTTP errors as JSON; a lock timeout as 503 with Retry-After; a client that
    stops sending its request (the server's read timeout) as 408."""
    app.after_request(_redirect_without_query)

    @app.errorhandler(TimeoutError)
    @app.errorhandler(BlockingIOError)
    def _slow_client(_exc: OSError):
        return error(408, "request not received in time", Connection="close")

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
