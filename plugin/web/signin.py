"""/login with an administrator token, /logout, and the language switch."""

from __future__ import annotations

import logging

from flask import abort, make_response, redirect, render_template, request, url_for
from flask_babel import gettext

from plugin.extensions import services
from plugin.web import sign_in_limit
from plugin.web.access import admin_token_number, end_session, start_session
from plugin.web.page_blueprints import page_blueprint
from plugin.web.security import LANGUAGE_COOKIE, LANGUAGES
from plugin.web.urls import safe_next

bp = page_blueprint("signin")
log = logging.getLogger(__name__)
YEAR = 365 * 24 * 3600


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The sign-in form; a valid administrator token starts an administrator session."""
    target = safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("signin/login.html", next=target)
    store, address = services().store, request.remote_addr or "unknown"
    attempt = sign_in_limit.take_attempt(store, address)
    if attempt is None:
        abort(429, gettext("Too many failed sign-ins from your address: wait a minute."))
    token = request.form.get("token", "")
    number = admin_token_number(token)
    if number is None:
        log.warning("failed sign-in from %s", address)
        error = gettext("That token is not accepted.")
        return render_template("signin/login.html", next=target, error=error), 403
    sign_in_limit.give_back(store, attempt)
    # Logs name the token by its place in the list, never by its value.
    start_session({"kind": "admin"}, f"administrator (token {number})", token=token)
    log.info("administrator (token %s) signed in from %s", number, address)
    return redirect(target)


@bp.post("/logout")
def logout():
    """End the session everywhere (every copy of its cookie)."""
    end_session()
    return redirect(url_for("signin.login"))


@bp.get("/language/<code>")
def language(code: str):
    """Remember the chosen language and go back."""
    if code not in LANGUAGES:
        abort(404)
    response = make_response(redirect(safe_next(request.args.get("next"))))
    response.set_cookie(LANGUAGE_COOKIE, code, max_age=YEAR, httponly=True, samesite="Lax",
                        secure=request.is_secure)
    return response
