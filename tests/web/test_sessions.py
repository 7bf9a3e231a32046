"""Sessions end when they should: signing out ends every copy of the cookie, a token removed
from the configuration ends the sessions it opened, signing in starts a clean session, and
signing out takes the form's CSRF token."""

from __future__ import annotations

import dataclasses

import pytest

from plugin import create_app
from tests.conftest import ADMIN_TOKEN, sign_in
from tests.web.test_pages import csrf_token, session_cookie

OTHER_TOKEN = "other-token"  # the first of the test's admin tokens


def sign_in_with(client, token: str):
    """Sign in through the form, as a person would."""
    response = client.post("/login", data={"token": token, "csrf_token": csrf_token(client)})
    assert response.status_code == 302, response.text
    return client


def copy_of(client, app):
    """Another browser holding a copy of `client`'s session cookie."""
    other = app.test_client()
    other.set_cookie("session", client.get_cookie("session").value)
    return other


def opens(client, path: str) -> bool:
    """Whether `path` opens for the client (not the sign-in page, not 404)."""
    return client.get(path).status_code == 200


def sign_out(client):
    return client.post("/logout", data={"csrf_token": csrf_token(client, "/")})


def test_signing_out_ends_every_copy_of_the_session_cookie(app, client, demo):
    sign_in_with(client, ADMIN_TOKEN)
    copy = copy_of(client, app)
    download = f"/exports/{demo}/files/rapporteringsunderlag.csv"
    assert opens(copy, "/courses/565") and opens(copy, download)
    assert sign_out(client).status_code == 302
    for browser in (client, copy):
        response = browser.get("/courses/565")
        assert response.status_code == 302 and response.location.startswith("/login")
        assert browser.get(download).status_code == 302


def test_signing_out_ends_a_course_session_from_canvas_everywhere(app, demo):
    teacher = sign_in(app.test_client(), {"kind": "course", "course": 565}, "Tess", lti=True)
    copy = copy_of(teacher, app)
    assert opens(copy, "/courses/565")
    sign_out(teacher)
    assert copy.get("/courses/565").status_code == 302


def test_removing_an_admin_token_ends_its_sessions_at_the_next_request(settings, store,
                                                                       demo):
    before = create_app({"SETTINGS": settings, "TESTING": True})
    removed = sign_in_with(before.test_client(), ADMIN_TOKEN)
    kept = sign_in_with(before.test_client(), OTHER_TOKEN)
    # The token is removed from CANVAS_LADOK_ADMIN_TOKENS and the service restarted.
    after = create_app({"SETTINGS": dataclasses.replace(settings, admin_tokens=(OTHER_TOKEN,)),
                        "TESTING": True})
    download = f"/exports/{demo}/files/rapporteringsunderlag.csv"
    for path in ("/", "/courses/565", "/exports", download):
        assert copy_of(removed, after).get(path).status_code == 302, path
        assert opens(copy_of(kept, after), path), path  # its token is still configured
    for app in (before, after):
        app.extensions["canvas_ladok"].store.dispose()


def test_signing_in_starts_a_clean_session(app, demo):
    teacher = sign_in(app.test_client(), {"kind": "course", "course": 565}, "Tess", lti=True)
    earlier = copy_of(teacher, app)
    response = teacher.post("/login", data={"token": ADMIN_TOKEN,
                                            "csrf_token": csrf_token(teacher)})
    cookie = session_cookie(response)
    assert "SameSite=Lax" in cookie and "Partitioned" not in cookie  # nothing of the LTI one
    assert any("Partitioned" in c and "01 Jan 1970" in c  # the framed cookie is deleted
               for c in response.headers.getlist("Set-Cookie"))
    assert opens(teacher, "/courses/1279362")  # the administrator's
    assert earlier.get("/courses/565").status_code == 302  # the earlier session is over


@pytest.mark.parametrize("form", [{}, {"csrf_token": "forged"}])
def test_signing_out_needs_the_forms_csrf_token(app, client, demo, form):
    sign_in_with(client, ADMIN_TOKEN)
    response = client.post("/logout", data=form)  # what another site's form could send
    assert response.status_code == 400
    assert opens(client, "/courses/565")  # still signed in
    assert sign_out(client).status_code == 302
    assert client.get("/courses/565").status_code == 302
