"""Security headers of the HTML pages; framing allowed only for LTI sessions, by Canvas."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, request, session

from ..settings import Settings


def canvas_origin(settings: Settings) -> str | None:
    """scheme://host[:port] of `canvas.url`, or None when it is not set."""
    parts = urlsplit(settings.canvas_url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def init_page_headers(app: Flask, settings: Settings) -> None:
    """CSP, nosniff and Referrer-Policy on every HTML response."""
    origin = canvas_origin(settings)

    @app.after_request
    def _headers(response: Response) -> Response:
        if response.mimetype != "text/html":
            return response
        framed = origin and (session.get("lti") or request.path.startswith("/lti/"))
        ancestors = origin if framed else "'none'"
        response.headers.setdefault(
            "Content-Security-Policy", f"default-src 'self'; frame-ancestors {ancestors}")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response
