"""The course pages' cached view: computed once per version, recomputed after every change."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading

import pytest

from plugin.canvas.client import CanvasClient
from plugin.canvas.events import parse
from plugin.demo.fill import fill_demo
from plugin.demo.live_events import assignment_event, grade_event, submission_event
from plugin.export.run import run_export
from plugin.intake.apply import apply_pending
from plugin.intake.gaps import fill_store
from plugin.intake.inbox import GroupCommit
from plugin.intake.resync import resync_course
from plugin.reports import course as course_view
from plugin.reports import course_cache as course_view_cache
from plugin.reports.course_cache import CourseViewCache
from plugin.store.models import User
from tests.conftest import COURSE_TOML, post_event
from tests.fake_canvas import FakeCanvas
from tests.helpers import course_toml
from tests.web.test_pages import cell_states

SHARING = 566  # another Canvas course room reporting to the same Ladok code as 565
LATER = dt.datetime(2026, 1, 10, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def config_file(tmp_path):
    """The test courses, and a second room of course 565's Ladok code."""
    path = tmp_path / "canvas-ladok.toml"
    path.write_text(COURSE_TOML + course_toml(canvas_id=SHARING, ladok_code="DV1531"))
    return path


@pytest.fixture
def computations(monkeypatch) -> list[int]:
    """The course ids of each course view computed (each dry run over a whole course)."""
    calls: list[int] = []
    real = course_view.run_export

    def counting(*args, **kwargs):
        calls.append(kwargs["course_id"])
        return real(*args, **kwargs)

    monkeypatch.setattr(course_view, "run_export", counting)
    return calls


@pytest.fixture
def demo(app, store, settings, canvas_users_unknown):
    return fill_demo(store, settings)


def states(client) -> dict[tuple[int, str], str]:
    """(user, component) -> state on the course page of 565 (every student on one page)."""
    response = client.get("/courses/565")
    assert response.status_code == 200
    return cell_states(response.text)


def submit(store, settings, events: list[dict]) -> None:
    """Store events through the inbox and apply them, as the service does."""
    inbox = GroupCommit(store, settings)
    for event in events:
        inbox.submit(parse(event), None)
    apply_pending(store)


def test_a_second_view_of_an_unchanged_course_is_not_recomputed(admin_client, demo,
                                                                computations):
    first = admin_client.get("/courses/565").text
    second = admin_client.get("/courses/565").text
    assert computations == [565]
    assert cell_states(second) == cell_states(first) != {}
    admin_client.get("/")  # the overview's counts come from the same cached views
    admin_client.get("/")
    assert computations == [565, 1279362, SHARING]  # each configured course once


def test_an_event_waiting_to_be_applied_is_counted_at_once(
        admin_client, demo, client, store, computations):
    before = admin_client.get("/courses/565").text
    assert "still waiting to be applied" not in before
    assert cell_states(before)[(1002, "2205")] == "withdrawing"
    assert post_event(client, grade_event(565, 302, 1002, "G", LATER)).status_code == 202
    after = admin_client.get("/courses/565").text
    assert "1 Canvas event is still waiting to be applied; the numbers below already count " \
           "it" in after
    assert cell_states(after)[(1002, "2205")] == "exported"  # decided as if applied
    assert computations == [565, 565]
    apply_pending(store)
    assert cell_states(admin_client.get("/courses/565").text) == cell_states(after)


def test_an_applied_event_makes_the_next_view_recompute(admin_client, demo, store, settings,
                                                        computations):
    assert states(admin_client)[(1002, "2205")] == "withdrawing"
    submit(store, settings, [grade_event(565, 302, 1002, "G", LATER, sis_id="19900101-1002")])
    assert states(admin_client)[(1002, "2205")] == "exported"
    assert computations == [565, 565]


def test_a_resync_write_makes_the_next_view_recompute(admin_client, app, store, settings,
                                                      rsps, computations):
    assert states(admin_client) == {}
    FakeCanvas(rsps, students=2, assignments=3)
    client = CanvasClient(settings.canvas_url, settings.canvas_token, sleep=lambda _: None)
    resync_course(store, settings, 565, client=client)
    assert states(admin_client)[(1002, "2205")] == "new"
    assert computations == [565, 565]


def test_an_identity_lookup_makes_the_next_view_recompute(admin_client, demo, store, settings,
                                                          rsps, computations):
    held_back = "held back: no sis_user_id"
    assert held_back in admin_client.get("/courses/565").text
    rsps.reset()  # Canvas now knows the student the demo's export asked about in vain
    fake = FakeCanvas(rsps, students=0)
    fake.users[1101] = fake.user_json(1101)
    with store.write() as session:
        session.get(User, 1101).looked_up_at = None
    client = CanvasClient(settings.canvas_url, settings.canvas_token, sleep=lambda _: None)
    assert fill_store(store, settings, 565, client) == {"students": 1}
    assert held_back not in admin_client.get("/courses/565").text
    assert computations == [565, 565]


def test_an_export_run_makes_the_next_view_recompute(admin_client, demo, store, settings,
                                                     computations):
    assert states(admin_client)[(1103, "2205")] == "new"
    run_export(store, settings, course_id=565, trigger="cli")
    assert states(admin_client)[(1103, "2205")] == "exported"
    assert computations == [565, 565]


def test_a_run_in_another_room_of_the_ladok_code_makes_the_next_view_recompute(
        admin_client, demo, store, settings, computations):
    assert states(admin_client)[(1103, "2205")] == "new"
    events = []
    for moment in (1, 2, 3):
        events += [assignment_event(SHARING, 300 + moment, f"Kmom{moment:02d}", LATER),
                   submission_event(SHARING, 300 + moment, 1103, LATER),
                   grade_event(SHARING, 300 + moment, 1103, "G", LATER, sis_id="19970707-1103")]
    submit(store, settings, events)
    assert states(admin_client)[(1103, "2205")] == "new"  # the other room's writes alone: same
    run_export(store, settings, course_id=SHARING, trigger="cli")
    assert states(admin_client)[(1103, "2205")] == "elsewhere"
    assert computations == [565, 565]


def test_a_changed_course_configuration_is_computed_afresh(app, demo, store, settings,
                                                          computations):
    cache = CourseViewCache(store)
    course = settings.course(565)
    assert cache.view(settings, course) is cache.view(settings, course)
    renamed = dataclasses.replace(course, ladok_code="DV9999")  # nothing exported under it
    changed = dataclasses.replace(settings, courses=(renamed,))
    view = cache.view(changed, changed.course(565))
    assert view.course.ladok_code == "DV9999"
    assert view.modules["2205"]["exported"] == 0 < cache.view(settings, course).modules[
        "2205"]["exported"]
    assert computations == [565, 565, 565]


def test_the_clock_passing_the_attestation_date_makes_the_next_view_recompute(
        app, demo, store, settings, computations, monkeypatch):
    cache = CourseViewCache(store)
    course = settings.course(565)
    # A student whose modules are all exported: their course grade's due time is fixed by
    # that export (one with a module still to go, a correction too, counts from that run).
    view = cache.view(settings, course)
    settled = {r.user_id for r in view.rows
               if not any(s in ("new", "correction") for c, s in r.states.items()
                          if c != course.ladok_code)}
    first = next(w for w in view.summary.waiting if w["user_id"] in settled)
    due, user = dt.datetime.fromisoformat(first["course_grade_due"]), first["user_id"]

    def state_at(now: dt.datetime) -> str:
        monkeypatch.setattr(course_view_cache, "utcnow", lambda: now)
        row = next(r for r in cache.view(settings, course).rows if r.user_id == user)
        return row.states[course.ladok_code]

    assert state_at(due - dt.timedelta(seconds=1)) == "attestation"
    assert state_at(due - dt.timedelta(seconds=1)) == "attestation"
    assert state_at(due + dt.timedelta(seconds=1)) == "new"
    assert len(computations) == 3  # the first view, before the due time, after it


def test_concurrent_views_of_one_course_compute_once(app, demo, store, settings, monkeypatch):
    readers = 4
    asked, release = threading.Semaphore(0), threading.Event()
    computed: list[int] = []
    real_version = course_view_cache.version

    def version(*args):
        key = real_version(*args)
        asked.release()  # this reader knows the version and is about to look for the view
        return key

    def compute(store, settings, courses, now):
        computed.append(courses[0].canvas_id)
        release.wait(timeout=60)  # held until every reader is on its way
        return course_view.course_views(store, settings, courses, now=now)

    monkeypatch.setattr(course_view_cache, "version", version)
    cache = CourseViewCache(store, compute=compute)
    views: list = []
    course = settings.course(565)
    threads = [threading.Thread(target=lambda: views.append(cache.view(settings, course)))
               for _ in range(readers)]
    for thread in threads:
        thread.start()
    for _ in range(readers):
        assert asked.acquire(timeout=60)
    release.set()
    for thread in threads:
        thread.join(timeout=60)
    assert computed == [565]
    assert len(views) == readers and all(v is views[0] for v in views)


def test_the_cache_keeps_a_bounded_number_of_courses(app, demo, store, settings, computations):
    cache = CourseViewCache(store, size=1)
    first, other = settings.course(565), settings.course(SHARING)
    cache.view(settings, first)
    cache.view(settings, first)
    cache.view(settings, other)  # pushes the first course out
    cache.view(settings, first)
    assert computations == [565, SHARING, 565]
