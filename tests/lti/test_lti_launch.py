"""LTI 1.3 launch from Canvas: sessions by role, refusals, framing, the student's own page."""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import re

import jwt
import pytest

from plugin import create_app
from plugin.settings import LtiSettings, load_settings
from tests.conftest import sign_in, signed_in
from tests.fake_platform import (  # noqa: F401  (config_file, environ: the LTI tool)
    CLAIM,
    CLIENT_ID,
    INSTITUTION_ADMIN,
    INSTITUTION_INSTRUCTOR,
    INSTRUCTOR,
    KEY_SET_URL,
    LEARNER,
    LIS,
    MENTOR,
    SECRET_KEY,
    TEACHING_ASSISTANT,
    TOOL_KEY,
    TOOL_URL,
    FakePlatform,
    auth_request,
    config_file,
    environ,
    login_params,
    lti_config,
    new_key,
)


@pytest.fixture
def platform(rsps):
    platform = FakePlatform()
    rsps.get(KEY_SET_URL, json=platform.jwks())
    return platform


def start_login(client) -> dict[str, str]:
    """The OIDC login; the parameters the tool sends the platform (state, nonce...)."""
    response = client.post("/lti/login", data=login_params())
    assert response.status_code == 302, response.get_data(as_text=True)
    return auth_request(response.location)


def launch(client, platform, roles, token=None, state=None, **claims):
    """A whole launch: login, then the platform's form post of a signed id_token."""
    auth = start_login(client)
    token = token or platform.sign(platform.claims(auth["nonce"], roles, **claims))
    return client.post("/lti/launch", data={"id_token": token, "state": state or auth["state"]})


def session_of(client) -> dict:
    """The cookie's values and, when signed in, the session's scope and who."""
    with client.session_transaction() as session:
        values = dict(session)
    return {**values, **(signed_in(client) or {})}


def follow(client, response):
    """Follow the launch's redirect to /lti/entered; where it sends the browser next."""
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.location.startswith("/lti/entered?launch=")
    return client.get(response.location)


def test_teacher_launch_opens_a_session_for_their_course_and_lands_on_its_page(client, platform):
    response = launch(client, platform, [INSTRUCTOR, INSTITUTION_INSTRUCTOR], course=565, user=900)
    session = session_of(client)
    assert session["scope"] == {"kind": "course", "course": 565}
    assert session["lti"] is True and "Canvas user 900" in session["who"]
    assert follow(client, response).location == "/courses/565"


def test_teaching_assistant_launch_opens_a_course_session(client, platform):
    response = launch(client, platform, [TEACHING_ASSISTANT], course=1279362, user=901)
    assert session_of(client)["scope"] == {"kind": "course", "course": 1279362}
    assert follow(client, response).location == "/courses/1279362"


def test_institution_administrator_launch_opens_a_course_session(client, platform):
    launch(client, platform, [INSTITUTION_ADMIN], course=565, user=1)
    assert session_of(client)["scope"] == {"kind": "course", "course": 565}


def test_learner_launch_lands_on_their_own_page_and_nothing_else(client, platform):
    response = launch(client, platform, [LEARNER, INSTITUTION_INSTRUCTOR], course=565, user=1002)
    assert session_of(client)["scope"] == {"kind": "student", "course": 565, "user": 1002}
    assert follow(client, response).location == "/me"
    assert client.get("/me").status_code == 200
    for path in ("/courses/565", "/courses/565/students/1001", "/courses/565/students/1002",
                 "/courses/1279362", "/exports"):
        assert client.get(path).status_code == 404, path
    assert client.post("/courses/565/resync").status_code == 404


def test_teacher_has_no_student_page(client, platform):
    launch(client, platform, [INSTRUCTOR], course=565, user=900)
    assert client.get("/me").status_code == 404


def test_launch_without_a_matching_role_gets_a_403_page_in_plain_words(client, platform):
    response = launch(client, platform, [MENTOR])
    assert response.status_code == 403 and response.mimetype == "text/html"
    assert "role in this Canvas course" in response.get_data(as_text=True)
    assert "scope" not in session_of(client)


@pytest.mark.parametrize("roles", [7, "Instructor", {"a": 1}])
def test_launch_with_roles_not_a_list_gets_the_403_page(client, platform, roles):
    assert launch(client, platform, roles).status_code == 403


@pytest.mark.parametrize("custom", [None, {}, {"canvas_course_id": "$Canvas.course.id",
                                                "canvas_user_id": "1"},
                                    {"canvas_course_id": "565", "canvas_user_id": "-3"},
                                    {"canvas_course_id": "5²", "canvas_user_id": "1"},
                                    {"canvas_course_id": "9" * 30, "canvas_user_id": "1"}])
def test_launch_without_usable_custom_fields_gets_a_400_page(client, platform, custom):
    response = launch(client, platform, [INSTRUCTOR], **{f"{CLAIM}/custom": custom})
    assert response.status_code == 400 and "custom fields" in response.get_data(as_text=True)


def test_launch_into_a_course_not_configured_names_its_canvas_id(client, platform):
    response = launch(client, platform, [INSTRUCTOR], course=777001)
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert "777001" in response.get_data(as_text=True)
    assert "scope" not in session_of(client)


def _other_key_same_kid(platform, auth):
    return platform.sign(platform.claims(auth["nonce"], [INSTRUCTOR]), key=new_key())


def _tampered(platform, auth):
    # A learner's genuine token whose body is rewritten to say Instructor.
    header, _, signature = platform.sign(platform.claims(auth["nonce"], [LEARNER])).split(".")
    body = json.dumps(platform.claims(auth["nonce"], [INSTRUCTOR])).encode()
    return ".".join([header, base64.urlsafe_b64encode(body).decode().rstrip("="), signature])


def _claims(**changes):
    return lambda platform, auth: platform.sign(
        platform.claims(auth["nonce"], [INSTRUCTOR], **changes))


REFUSALS = {
    "forged": (_other_key_same_kid, "Can't decode id_token"),
    "tampered": (_tampered, "Can't decode id_token"),
    "unknown kid": (lambda p, a: p.sign(p.claims(a["nonce"], [INSTRUCTOR]), kid="rotated-away"),
                    "Unable to find public key"),
    "wrong iss": (_claims(iss="https://evil.example"), "not found in settings"),
    "wrong aud": (_claims(aud="99999"), "Client id not registered"),
    "expired": (_claims(iat=1_000_000_000, exp=1_000_000_300), "expired"),
    "unknown deployment": (_claims(**{f"{CLAIM}/deployment_id": "1:other"}),
                           "is not recognised"),
    "azp of another party": (_claims(aud=[CLIENT_ID, "other"], azp="other"), "azp"),
    "several audiences, no azp": (_claims(aud=[CLIENT_ID, "other"]), "azp"),
    "azp not ours": (_claims(azp="other"), "azp"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_launch_refusal_is_a_4xx_page_logged_without_the_token(client, platform, caplog, case):
    make_token, reason = REFUSALS[case]
    auth = start_login(client)
    token = make_token(platform, auth)
    with caplog.at_level(logging.INFO):
        response = client.post("/lti/launch", data={"id_token": token, "state": auth["state"]})
    assert 400 <= response.status_code < 500 and response.mimetype == "text/html"
    assert "scope" not in session_of(client)
    assert reason in caplog.text
    assert token not in caplog.text and token.split(".")[2] not in caplog.text


def test_several_audiences_are_accepted_when_azp_names_this_tool(client, platform):
    response = launch(client, platform, [INSTRUCTOR], aud=[CLIENT_ID, "other"], azp=CLIENT_ID)
    assert response.status_code == 302
    assert session_of(client)["scope"] == {"kind": "course", "course": 565}


@pytest.mark.parametrize("role", [f"{LIS}/membership/Learner#Instructor",
                                  f"{LIS}/x/membership#Instructor"])
def test_a_role_that_only_looks_like_instructor_starts_no_staff_session(client, platform, role):
    launch(client, platform, [role], user=1001)
    assert session_of(client).get("scope", {}).get("kind") != "course"
    assert client.get("/courses/565").status_code in (302, 404)


def test_a_name_from_canvas_cannot_forge_a_log_line(client, platform, caplog):
    launch(client, platform, [INSTRUCTOR], name="Ada\nWARNING forged line\x1b[31m\u2028x")
    page = client.get("/courses/565").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    with caplog.at_level(logging.INFO):
        assert client.post("/courses/565/resync", data={"csrf_token": token}).status_code == 302
    [line] = [r.getMessage() for r in caplog.records if "requested by" in r.getMessage()]
    assert "Ada\\x0aWARNING forged line\\x1b[31m\\x2028x (Canvas user 1001)" in line
    assert "\nWARNING forged" not in caplog.text and "\x1b" not in caplog.text


def test_replayed_nonce_is_refused(client, platform, caplog):
    auth = start_login(client)
    token = platform.sign(platform.claims(auth["nonce"], [INSTRUCTOR]))
    first = client.post("/lti/launch", data={"id_token": token, "state": auth["state"]})
    assert first.status_code == 302
    with caplog.at_level(logging.WARNING):
        again = client.post("/lti/launch", data={"id_token": token, "state": auth["state"]})
    assert again.status_code == 400 and "Invalid Nonce" in caplog.text
    assert token not in caplog.text


def test_nonce_of_another_login_in_the_same_browser_is_used_once(client, platform, caplog):
    first, second = start_login(client), start_login(client)
    token = platform.sign(platform.claims(first["nonce"], [INSTRUCTOR]))
    assert client.post("/lti/launch", data={"id_token": token,
                                            "state": first["state"]}).status_code == 302
    replay = platform.sign(platform.claims(first["nonce"], [INSTRUCTOR]))
    with caplog.at_level(logging.WARNING):
        response = client.post("/lti/launch", data={"id_token": replay, "state": second["state"]})
    assert response.status_code == 400 and "Invalid Nonce" in caplog.text


def test_state_not_matching_the_browsers_cookie_is_refused(client, platform, caplog):
    auth = start_login(client)
    token = platform.sign(platform.claims(auth["nonce"], [INSTRUCTOR]))
    with caplog.at_level(logging.WARNING):
        response = client.post("/lti/launch", data={"id_token": token,
                                                    "state": "state-forged-elsewhere"})
    assert response.status_code == 400 and "State not found" in caplog.text
    assert "scope" not in session_of(client)


def test_launch_state_expires(client, platform, monkeypatch, caplog):
    import datetime as dt

    from plugin.lti import storage

    auth = start_login(client)
    later = storage.utcnow() + dt.timedelta(seconds=storage.LIFETIME_SECONDS + 1)
    monkeypatch.setattr(storage, "utcnow", lambda: later)
    token = platform.sign(platform.claims(auth["nonce"], [INSTRUCTOR]))
    with caplog.at_level(logging.WARNING):
        response = client.post("/lti/launch", data={"id_token": token, "state": auth["state"]})
    assert response.status_code == 400 and "Invalid Nonce" in caplog.text


@pytest.mark.parametrize("body", [
    {}, {"state": "x"}, {"id_token": "a.b", "state": "x"}, {"id_token": "W10.W10.W10"},
    {"id_token": "!!.??.**", "state": "s"},
])
def test_malformed_launch_is_a_400_page(client, platform, body):
    auth = start_login(client)
    body.setdefault("state", auth["state"])
    response = client.post("/lti/launch", data=body)
    assert response.status_code == 400 and response.mimetype == "text/html"


@pytest.mark.parametrize("params", [{}, {"iss": "https://unknown.example", "login_hint": "x"},
                                    {"iss": "https://canvas.test.instructure.com"}])
def test_bad_login_is_a_400_page(client, params):
    response = client.get("/lti/login", query_string=params)
    assert response.status_code == 400 and response.mimetype == "text/html"


def test_key_set_unreachable_answers_503(client, rsps, caplog):
    rsps.get(KEY_SET_URL, status=502)
    platform = FakePlatform()
    with caplog.at_level(logging.WARNING):
        response = launch(client, platform, [INSTRUCTOR])
    assert response.status_code == 503 and "key set unavailable" in caplog.text


def test_without_a_client_id_every_lti_route_answers_404(settings, store):
    app = create_app({"SETTINGS": dataclasses.replace(settings, lti=LtiSettings()),
                      "TESTING": True})
    client = app.test_client()
    for method, path in (("GET", "/lti/login"), ("POST", "/lti/login"), ("POST", "/lti/launch"),
                         ("GET", "/lti/jwks"), ("GET", "/lti/config.json"),
                         ("GET", "/lti/entered"), ("GET", "/lti/open")):
        assert client.open(path, method=method).status_code == 404, path
    app.extensions["canvas_ladok"].store.dispose()


def test_config_json_is_the_canvas_developer_key(client):
    key = client.get("/lti/config.json").json
    assert key["oidc_initiation_url"] == f"{TOOL_URL}/lti/login"
    assert key["target_link_uri"] == f"{TOOL_URL}/lti/launch"
    assert key["public_jwk_url"] == f"{TOOL_URL}/lti/jwks"
    assert key["custom_fields"] == {"canvas_course_id": "$Canvas.course.id",
                                    "canvas_user_id": "$Canvas.user.id"}
    extension = key["extensions"][0]
    assert extension["privacy_level"] == "public"
    assert extension["platform"] == "canvas.instructure.com"
    [placement] = extension["settings"]["placements"]
    assert placement["placement"] == "course_navigation"
    assert placement["default"] == "disabled" and placement["visibility"] == "members"
    assert placement["message_type"] == "LtiResourceLinkRequest"


def test_jwks_is_the_public_half_of_the_tools_private_key(client):
    keys = client.get("/lti/jwks").json["keys"]
    assert len(keys) == 1 and "d" not in keys[0] and keys[0]["kid"]
    public = jwt.algorithms.RSAAlgorithm.from_jwk(keys[0])
    token = jwt.encode({"sub": "x"}, TOOL_KEY, algorithm="RS256")
    assert jwt.decode(token, public, algorithms=["RS256"]) == {"sub": "x"}


def _cookie(response, name: str) -> str:
    """The Set-Cookie header of the cookie whose name starts with `name`."""
    return next(h for h in response.headers.getlist("Set-Cookie") if h.startswith(name))


def test_launch_session_cookie_is_samesite_none_secure_partitioned(client, platform):
    response = launch(client, platform, [INSTRUCTOR])
    cookie = _cookie(response, "session")
    assert "SameSite=None" in cookie and "Secure" in cookie and "Partitioned" in cookie
    assert "HttpOnly" in cookie


def test_a_session_not_from_lti_keeps_samesite_lax(app):
    from plugin.web.access import start_session

    @app.get("/test-admin-sign-in")
    def _sign_in():
        start_session({"kind": "admin"}, "admin")
        return "ok"

    cookie = _cookie(app.test_client().get("/test-admin-sign-in"), "session")
    assert "SameSite=Lax" in cookie and "Partitioned" not in cookie and "Secure" not in cookie


def test_signing_out_deletes_the_framed_cookie_too(app, client, platform):
    @app.get("/test-sign-out")
    def _sign_out():
        from flask import session
        session.clear()
        return "ok"

    launch(client, platform, [INSTRUCTOR])
    deletions = client.get("/test-sign-out").headers.getlist("Set-Cookie")
    assert len(deletions) == 2 and all("Expires=Thu, 01 Jan 1970" in d for d in deletions)
    assert any("Partitioned" in d and "SameSite=None" in d for d in deletions)
    assert "scope" not in session_of(client)


def _frame_ancestors(response) -> str:
    return re.search(r"frame-ancestors ([^;]+)", response.headers["Content-Security-Policy"])[1]


def test_lti_pages_may_be_framed_by_canvas_only(client, platform):
    refused = launch(client, platform, [MENTOR])
    assert _frame_ancestors(refused) == "https://canvas.example.edu"
    launch(client, platform, [LEARNER], user=1001)
    page = client.get("/me")
    assert _frame_ancestors(page) == "https://canvas.example.edu"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]


def test_student_session_not_from_lti_may_not_be_framed(client):
    sign_in(client, {"kind": "student", "course": 565, "user": 1001})
    assert _frame_ancestors(client.get("/me")) == "'none'"


def test_behind_a_trusted_proxy_the_state_cookie_is_cross_site(tmp_path, environ, store):  # noqa: F811
    path = tmp_path / "proxied.toml"
    path.write_text(lti_config(extra_top="trusted_proxies = 1\n"))
    app = create_app({"SETTINGS": load_settings(path, environ), "TESTING": True})
    response = app.test_client().post("/lti/login", data=login_params(),
                                      headers={"X-Forwarded-Proto": "https"})
    cookie = _cookie(response, "lti1p3-state")
    assert "Secure" in cookie and "SameSite=None" in cookie and "Partitioned" in cookie
    plain = app.test_client().post("/lti/login", data=login_params())
    assert "Secure" not in _cookie(plain, "lti1p3-state")
    app.extensions["canvas_ladok"].store.dispose()


def new_tab_link(app, response) -> str:
    """The one-time link the page in Canvas's frame offers when its cookie was blocked."""
    framed = app.test_client()  # the next request inside the frame arrives without cookies
    page = framed.get(response.location)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'target="_blank"' in html and "<script" not in html
    return re.search(r'href="(/lti/open\?launch=[^"]+)"', html)[1].replace("&amp;", "&")


def test_blocked_cookie_offers_a_one_time_link_to_a_new_tab(app, client, platform):
    link = new_tab_link(app, launch(client, platform, [LEARNER], user=1001))
    tab = app.test_client()
    opened = tab.get(link)
    assert opened.status_code == 302 and opened.location == "/me"
    assert session_of(tab)["scope"] == {"kind": "student", "course": 565, "user": 1001}
    assert app.test_client().get(link).status_code == 400  # used up


def test_the_new_tab_asks_before_replacing_another_signed_in_person(app, client, platform):
    link = new_tab_link(app, launch(client, platform, [INSTRUCTOR], course=565, user=900))
    tab = sign_in(app.test_client(), {"kind": "admin"}, "administrator")  # the admin's browser
    asked = tab.get(link)
    html = asked.get_data(as_text=True)
    assert asked.status_code == 200 and "administrator" in html and "Ada Lärare" in html
    assert tab.get("/courses/1279362").status_code == 200  # still the administrator
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)[1]
    launch_id = re.search(r'name="launch" value="([^"]+)"', html)[1]
    assert tab.post("/lti/open", data={"launch": launch_id}).status_code == 400  # no CSRF token
    switched = tab.post("/lti/open", data={"launch": launch_id, "csrf_token": token})
    assert switched.status_code == 302 and switched.location == "/courses/565"
    assert tab.get("/courses/1279362").status_code == 404  # now the teacher of 565
    assert tab.get(link).status_code == 400  # used up


def test_the_new_tab_of_the_person_already_signed_in_opens_without_asking(app, client,
                                                                          platform):
    first = launch(client, platform, [INSTRUCTOR], course=565, user=900)
    link = new_tab_link(app, launch(client, platform, [INSTRUCTOR], course=565, user=900))
    client.get(first.location)  # the first launch's session, in the same browser
    opened = client.get(link)
    assert opened.status_code == 302 and opened.location == "/courses/565"


def test_entered_again_sends_a_signed_in_person_to_their_start(client, platform):
    response = launch(client, platform, [LEARNER], user=1001)
    assert client.get(response.location).location == "/me"
    assert client.get(response.location).location == "/me"
    sign_in(client, {"kind": "admin"})
    assert client.get(response.location).location == "/"


def test_entered_with_the_cookie_uses_up_the_launch(app, client, platform):
    response = launch(client, platform, [INSTRUCTOR])
    assert client.get(response.location).location == "/courses/565"
    assert app.test_client().get(response.location.replace("entered", "open")).status_code == 400


def test_responses_without_a_session_do_not_vary_by_cookie(client):
    assert "Cookie" not in client.get("/healthz").headers.get("Vary", "")
