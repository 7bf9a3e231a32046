"""Bearer-token guard for the admin API."""

from __future__ import annotations

import hmac

from flask import request

from plugin.extensions import services
from plugin.web.errors import error


def check_admin_token():
    """None when the request carries a configured admin token, else a 401/403 response."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return error(401, "admin token required (Authorization: Bearer ...)",
                     **{"WWW-Authenticate": "Bearer"})
    token = token.strip().encode()
    valid = [hmac.compare_digest(token, t.encode()) for t in services().settings.admin_tokens]
    if not any(valid):
        return error(403, "admin token not accepted")
    return None
