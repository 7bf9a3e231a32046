"""The admin API under /api (Bearer tokens)."""

from __future__ import annotations

from flask import Blueprint

from .admin_auth import check_admin_token

bp = Blueprint("admin", __name__, url_prefix="/api")
bp.before_request(check_admin_token)


@bp.get("/ping")
def ping():
    """A trivial authenticated endpoint (lets clients check their token)."""
    return {"status": "ok"}
