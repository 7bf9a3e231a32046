"""LTI 1.3 launch from Canvas: OIDC login, launch, the tool's key set and developer key."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from pylti1p3.contrib.flask import FlaskOIDCLogin, FlaskRequest
from pylti1p3.exception import (
    LtiException,
    LtiInvalidNonceException,
    OIDCException,
    ToolConfException,
)

from plugin.canvas.events import parse_id
from plugin.extensions import services
from plugin.lti.roles import STAFF, launch_kind
from plugin.lti.storage import DatabaseLaunchStorage, DatabaseSessionService
from plugin.lti.tool import KeySetUnavailable, Tool, ToolLaunch, build_tool, developer_key
from plugin.web.access import current_scope, signed_in_as, start_session
from plugin.web.security import protect_form

bp = Blueprint("lti", __name__, url_prefix="/lti")
log = logging.getLogger(__name__)
ROLES = "https://purl.imsglobal.org/spec/lti/claim/roles"
CUSTOM = "https://purl.imsglobal.org/spec/lti/claim/custom"
LAUNCH_PREFIX = "lti1p3-launch-"
# What a malformed but signed-looking request can raise inside the library: refused, not a 500.
REFUSALS = (LtiException, OIDCException, ToolConfException, ValueError, TypeError,
            AttributeError, KeyError)


@dataclass(frozen=True)
class Admission:
    scope: dict[str, Any]
    who: str


def init_app(app: Flask) -> None:
    """Register the blueprint; build the tool once when LTI is configured."""
    settings = app.extensions["canvas_ladok"].settings
    if settings.lti.enabled:
        app.extensions["canvas_ladok_lti"] = build_tool(settings)
    app.register_blueprint(bp)


@bp.before_request
def _only_when_configured():
    if "canvas_ladok_lti" not in current_app.extensions:
        abort(404)


def _tool() -> Tool:
    return current_app.extensions["canvas_ladok_lti"]


def _storage() -> tuple[FlaskRequest, DatabaseLaunchStorage, DatabaseSessionService]:
    req = FlaskRequest()
    storage = DatabaseLaunchStorage(services().store)
    return req, storage, DatabaseSessionService(req, storage)


def page(status: int, title: str, message: str, **extra: Any):
    """A plain page for people, with its status code."""
    return render_template("lti/message.html", title=title, message=message, **extra), status


def refused(step: str, exc: Exception):
    """Log why (never the token itself) and answer a 4xx page (503 when the platform is down)."""
    log.warning("LTI %s refused: %s: %s", step, type(exc).__name__,
                str(exc)[:300])  # a reason may quote a whole token; logs escape controls
    if isinstance(exc, KeySetUnavailable):
        return page(503, _("Canvas could not be reached"),
                    _("The launch could not be checked because Canvas's signing keys could not "
                      "be fetched. Try again in a minute."))
    return page(400, _("The launch from Canvas was refused"),
                _("canvas-ladok could not verify that this request came from Canvas. Open "
                  "canvas-ladok again from the course navigation in Canvas; if it keeps "
                  "happening, tell the administrator the time it happened."))


@bp.get("/jwks")
def jwks():
    """The tool's public key."""
    return jsonify(keys=[_tool().public_jwk])


@bp.get("/config.json")
def config_json():
    """The JSON to paste into a Canvas LTI developer key."""
    return jsonify(developer_key(_tool().settings))


@bp.route("/login", methods=["GET", "POST"])
def login():
    """OIDC third-party login: remember a state and a nonce, send the browser to Canvas."""
    req, storage, sessions = _storage()
    oidc = FlaskOIDCLogin(req, _tool().conf, session_service=sessions,
                          launch_data_storage=storage)
    try:
        # The state is stored too, so the launch can use it up (a replay finds it gone).
        return oidc.pass_params_to_launch({"login": True}).redirect(_tool().launch_url)
    except REFUSALS as exc:
        return refused("login", exc)


@bp.post("/launch")
def launch():
    """Validate the id_token (the library), use up its state and nonce, start a session."""
    req, storage, sessions = _storage()
    message = ToolLaunch(req, _tool().conf, session_service=sessions,
                         launch_data_storage=storage)
    try:
        claims = message.get_launch_data()
        if not sessions.use_state_and_nonce(request.form.get("state", ""), claims["nonce"]):
            raise LtiInvalidNonceException("state or nonce already used")
    except REFUSALS as exc:
        return refused("launch", exc)
    admitted = admit(claims)
    if not isinstance(admitted, Admission):
        return admitted
    start_session(admitted.scope, admitted.who, lti=True)
    log.info("LTI launch: %s session for Canvas course %s", admitted.scope["kind"],
             admitted.scope["course"])
    return redirect(url_for("lti.entered", launch=message.get_launch_id()))


def _custom_id(custom: Any, name: str) -> int | None:
    return parse_id(custom.get(name) if isinstance(custom, dict) else None) or None  # 0: none


def admit(claims: dict[str, Any]):
    """The session a validated launch opens, or the page saying why it opens none."""
    roles = claims.get(ROLES)
    kind = launch_kind(roles if isinstance(roles, list) else [])
    if kind is None:
        log.info("LTI launch without a staff or learner role in the course")
        return page(403, _("No access"), _(
            "canvas-ladok is for the course's teachers, teaching assistants and students. "
            "Your role in this Canvas course is none of these, so there is nothing to show you."))
    course_id = _custom_id(claims.get(CUSTOM), "canvas_course_id")
    user_id = _custom_id(claims.get(CUSTOM), "canvas_user_id")
    if course_id is None or user_id is None:
        log.warning("LTI launch without the custom fields canvas_course_id/canvas_user_id")
        return page(400, _("Canvas sent no course"), _(
            "The launch lacks the Canvas course or user id. The administrator should check "
            "the developer key's custom fields."))
    if services().settings.course(course_id) is None:
        return page(404, _("Course not set up"), _(
            "This Canvas course is not set up in canvas-ladok. Give the administrator its "
            "Canvas id: %(id)s.", id=course_id), course_id=course_id)
    who = f"{claims.get('name') or claims.get('email') or 'Canvas user'} (Canvas user {user_id})"
    if kind == STAFF:
        return Admission({"kind": "course", "course": course_id}, who)
    return Admission({"kind": "student", "course": course_id, "user": user_id}, who)


def landing(scope: dict[str, Any]) -> str:
    """Where a session's person starts: the course page, a student's own page, or the start."""
    if scope.get("kind") == "student":
        return url_for("me.status")
    if scope.get("kind") == "course":
        return f"/courses/{scope['course']}"
    return "/"


def _restored(launch_id: str) -> Admission | None:
    if not launch_id.startswith(LAUNCH_PREFIX) or len(launch_id) > 100:
        return None
    claims = DatabaseLaunchStorage(services().store).get_value(launch_id)
    admitted = admit(claims) if isinstance(claims, dict) else None
    return admitted if isinstance(admitted, Admission) else None


def _expired():
    return page(400, _("This link has expired"), _(
        "Open canvas-ladok again from the course navigation in Canvas."))


@bp.get("/entered")
def entered():
    """After a launch: on to the start page when the session cookie arrived, else offer a tab."""
    launch_id = request.args.get("launch", "")
    admitted = _restored(launch_id)
    scope = current_scope()
    if admitted is None:
        return redirect(landing(scope)) if scope else _expired()
    if scope == admitted.scope:
        _storage()[2].forget_launch(launch_id)
        return redirect(landing(scope))
    # The browser kept no cookie inside Canvas's frame (third-party cookies blocked).
    return page(200, _("Open in a new tab"), _(
        "Your browser does not let canvas-ladok keep you signed in inside Canvas."),
        new_tab=url_for("lti.open_in_tab", launch=launch_id))


@bp.route("/open", methods=["GET", "POST"])
def open_in_tab():
    """The launch once more, in a tab of its own: a one-time link, valid a few minutes.

    A browser already signed in as someone else is asked first, never switched silently.
    """
    launch_id = request.values.get("launch", "")
    admitted = _restored(launch_id)
    if admitted is None:
        return _expired()
    current = signed_in_as()
    if request.method == "POST":
        protect_form()
    elif current is not None and current != (admitted.scope, admitted.who):
        return page(200, _("You are signed in as someone else"), _(
            "This browser is signed in to canvas-ladok as %(current)s. Continue as "
            "%(new)s from Canvas? That signs %(current)s out here.", current=current[1],
            new=admitted.who), switch=launch_id, stay=landing(current[0]))
    if not _storage()[2].forget_launch(launch_id):
        return _expired()
    start_session(admitted.scope, admitted.who, lti=True)
    return redirect(landing(admitted.scope))
