"""Chunked request bodies, read whole (up to max_body_bytes) before the application sees them.

A body sent with `Transfer-Encoding: chunked` has no length to check up front, and the server
decodes its chunks only as it is read, deep inside whatever parses it. Read here, a broken
chunk is one 400 and a body over the limit one 413, on every route, and every route gets a
plain body with its length (so MAX_CONTENT_LENGTH applies to it as to any other).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from typing import Any

from gunicorn.http.errors import NoMoreData, ParseException
from werkzeug.wrappers import Response

# What reading a broken chunked body raises: gunicorn's parse errors, a closed connection.
BROKEN = (ParseException, NoMoreData, OSError, ValueError)


def _answer(status: int, message: str) -> Response:
    return Response(json.dumps({"error": message}), status, mimetype="application/json",
                    headers={"Connection": "close"})


class WholeChunkedBody:
    """WSGI middleware: a chunked body becomes a plain one of at most `limit` bytes."""

    def __init__(self, app: Callable, limit: int) -> None:
        self.app, self.limit = app, limit

    def __call__(self, environ: dict[str, Any], start_response) -> Iterable[bytes]:
        if "chunked" not in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            return self.app(environ, start_response)
        try:
            raw = environ["wsgi.input"].read(self.limit + 1)
        except BROKEN:
            return _answer(400, "request body is not valid chunked encoding")(
                environ, start_response)
        if len(raw) > self.limit:
            return _answer(413, f"body larger than {self.limit} bytes")(environ, start_response)
        plain = {k: v for k, v in environ.items() if k != "HTTP_TRANSFER_ENCODING"}
        plain.update({"wsgi.input": io.BytesIO(raw), "CONTENT_LENGTH": str(len(raw))})
        return self.app(plain, start_response)
