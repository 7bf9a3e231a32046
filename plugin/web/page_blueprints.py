"""What makes a blueprint one of pages: the sign-in guard and CSRF, errors as pages, and the
courses the session may see."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from plugin.extensions import services
from plugin.rules.course_config import CourseConfig
from plugin.web.access import course_allowed, current_scope, is_admin
from plugin.web.security import protect_form


def _guard():
    """503 without a secret key; sign-in for anonymous visitors; CSRF on every form post."""
    if not services().settings.secret_key:  # a page saying how to switch them on
        return render_template("pages_off.html"), 503
    scope = current_scope()
    if request.endpoint not in PUBLIC_ENDPOINTS:
        if scope is None:
            return redirect(url_for("signin.login", next=request.full_path.rstrip("?")))
        if scope["kind"] == "student":  # a student sees only their own page: nothing here exists
            abort(404)
    if request.method == "POST":
        protect_form()
    return None


PUBLIC_ENDPOINTS = {"signin.login", "signin.language", "signin.logout"}


def html_error(exc: HTTPException, home: bool = True):
    """An HTTP error as a page; `home` links back to the courses."""
    return render_template("error.html", code=exc.code, message=exc.description,
                           home=home), exc.code


def page_blueprint(name: str) -> Blueprint:
    """A blueprint of pages: guarded, with errors as HTML pages."""
    bp = Blueprint(name, __name__)
    bp.before_request(_guard)
    bp.register_error_handler(HTTPException, html_error)
    return bp


def course_or_404(canvas_id: int) -> CourseConfig:
    """The configured course the session may see; 404 otherwise (also for other courses)."""
    course = services().settings.course(canvas_id)
    if course is None or not course_allowed(canvas_id):
        abort(404)
    return course


def visible_courses() -> list[CourseConfig]:
    """The configured courses the session may see."""
    courses = services().settings.courses
    return list(courses) if is_admin() else [c for c in courses if course_allowed(c.canvas_id)]
