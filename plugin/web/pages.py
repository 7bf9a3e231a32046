"""The pages people read: courses overview, a course, a student."""

from __future__ import annotations

from flask import abort, current_app, get_template_attribute, render_template, request
from flask_babel import get_locale

from plugin.extensions import services
from plugin.reports.course import CourseView, StudentRow
from plugin.reports.course_cache import CourseViewCache
from plugin.reports.student import student_report
from plugin.reports.system import pending_events, system_status
from plugin.rules.identity import is_identity
from plugin.web.health import health_status
from plugin.web.page_blueprints import course_or_404, page_blueprint, visible_courses
from plugin.web.template_helpers import components
from plugin.web.urls import ID

bp = page_blueprint("pages")
FILTERS = ("all", "problems", "waiting")
PAGE_SIZE = 250  # students per page of the table: a 2,000-student course renders fast
SORTS = {
    "name": lambda r: (r.name.casefold(), r.user_id),
    "id": lambda r: r.user_id,
    "progress": lambda r: (-r.earned, r.name.casefold()),
}


def view_cache() -> CourseViewCache:
    """This application's cache of course views (one per process, as the app is)."""
    extensions = current_app.extensions
    if "course_views" not in extensions:
        extensions.setdefault("course_views", CourseViewCache(services().store))
    return extensions["course_views"]


@bp.get("/")
def index():
    """The courses the session may see, with per-module counts, problems and the system strip."""
    svc = services()
    courses = visible_courses()
    system = system_status(svc.store, svc.settings)  # as it stood when the page was asked for
    views = view_cache().views(svc.settings, courses)
    return render_template("pages/overview.html", views=[views[c.canvas_id] for c in courses],
                           system=system, health=health_status(svc.store))


def table_rows(view: CourseView, show: str, query: str, sort: str) -> list[StudentRow]:
    """The students table after the filter, the search (part of a name, a whole Canvas id or
    a whole identity) and sort."""
    rows = view.rows
    if show == "problems":
        rows = [r for r in rows if r.problems]
    elif show == "waiting":
        rows = [r for r in rows if r.waiting]
    needle = query.strip().casefold()
    if needle:
        rows = [r for r in rows if needle in r.name.casefold() or needle == str(r.user_id)
                or is_identity(needle, r.identity)]
    return sorted(rows, key=SORTS[sort])


def row_renderer(view: CourseView, course):
    """Renders a students-table line once per view and language; later pages reuse it.

    The lines are most of the page's work (a course page shows up to PAGE_SIZE of them).
    """
    language = str(get_locale() or "en")
    comps = components(view)
    macro = get_template_attribute("macros.html", "student_row")

    def render(row: StudentRow):
        key = (language, row.user_id)
        html = view.row_html.get(key)
        if html is None:
            html = view.row_html[key] = macro(row, comps, course)
        return html

    return render


def _choice(name: str, allowed, default: str) -> str:
    value = request.args.get(name, default)
    return value if value in allowed else default


@bp.get(f"/courses/<{ID}:canvas_id>")
def course(canvas_id: int):
    """Progress chart, students table, problem lists and the actions of one course."""
    course = course_or_404(canvas_id)
    svc = services()
    waiting = pending_events(svc.store)
    view = view_cache().view(svc.settings, course)
    show = _choice("show", FILTERS, "all")
    sort = _choice("sort", SORTS, "name")
    query = request.args.get("q", "")[:200]
    rows = table_rows(view, show, query, sort)
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), pages)
    shown = rows[(page - 1) * PAGE_SIZE:page * PAGE_SIZE]
    return render_template(
        "pages/course.html", view=view, course=course, rows=shown, matching=len(rows), page=page,
        pages=pages, first=(page - 1) * PAGE_SIZE + 1,
        show=show, sort=sort, query=query, waiting=waiting,
        id_field=svc.settings.student_id_field, row_html=row_renderer(view, course))


@bp.get(f"/courses/<{ID}:canvas_id>/students/<{ID}:user_id>")
def student(canvas_id: int, user_id: int):
    """Each moment, module and the course grade of one student: earned or why not."""
    course = course_or_404(canvas_id)
    svc = services()
    report = student_report(svc.store, svc.settings, course, user_id)
    if report is None:
        abort(404)
    return render_template("pages/student.html", course=course, report=report,
                           id_field=svc.settings.student_id_field,
                           waiting=pending_events(svc.store))
