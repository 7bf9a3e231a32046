"""A real browser inside a fake Canvas page of another origin: launch, land, stay in scope."""

from __future__ import annotations

import datetime as dt
import html
import ipaddress
import json
import re
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID
from selenium.webdriver.support.ui import WebDriverWait
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from plugin import create_app
from plugin.intake.apply import apply_pending
from plugin.settings import load_settings
from plugin.store.db import Store
from plugin.store.migrate import upgrade
from tests.chrome import chrome, needs_browser
from tests.conftest import ADMIN_TOKEN, COURSE_TOML, WEBHOOK_TOKEN, post_event
from tests.fake_platform import (
    INSTRUCTOR,
    LEARNER,
    SECRET_KEY,
    TOOL_KEY,
    FakePlatform,
    auth_request,
    login_params,
    lti_toml,
    new_key,
)
from tests.helpers import term

pytestmark = [pytest.mark.browser, pytest.mark.slow, needs_browser]
WAIT_SECONDS = 20


def self_signed(tmp_path: Path) -> tuple[str, str]:
    """A certificate for localhost and 127.0.0.1, and its key (fixed validity dates)."""
    key = new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(dt.datetime(2000, 1, 1)).not_valid_after(dt.datetime(2099, 1, 1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


def auto_post(action: str, fields: dict[str, str]) -> Response:
    """A page that posts a form at once, as Canvas's launch pages do (its own inline script)."""
    inputs = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                     for k, v in fields.items())
    return Response(f'<form method="post" action="{html.escape(action)}">{inputs}</form>'
                    "<script>document.forms[0].submit()</script>", mimetype="text/html")


class Platform:
    """Fake Canvas over HTTPS: a course page framing the tool, authorization, key set."""

    def __init__(self, signer: FakePlatform):
        self.signer = signer
        self.tool_url = ""
        self.launch_as: dict = {}

    def __call__(self, environ, start_response):
        request = Request(environ)
        if request.path == "/jwks":
            response = Response(json.dumps(self.signer.jwks()), mimetype="application/json")
        elif request.path == "/course":
            response = Response('<h1>Canvas</h1><iframe name="tool" src="/start" '
                                'width="900" height="600"></iframe>', mimetype="text/html")
        elif request.path == "/start":
            response = auto_post(f"{self.tool_url}/lti/login", login_params())
        elif request.path == "/authorize":
            q = request.args
            assert q["redirect_uri"] == f"{self.tool_url}/lti/launch"
            token = self.signer.sign(self.signer.claims(q["nonce"], **self.launch_as))
            response = auto_post(q["redirect_uri"], {"id_token": token, "state": q["state"]})
        else:
            response = Response("not found", status=404)
        return response(environ, start_response)


def serve(app, context: ssl.SSLContext) -> SimpleNamespace:
    server = make_server("127.0.0.1", 0, app, threaded=True, ssl_context=context)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return SimpleNamespace(server=server, thread=thread, port=server.server_port)


@pytest.fixture
def world(tmp_path, monkeypatch) -> Iterator[SimpleNamespace]:
    """The fake platform on https://localhost:P, the tool on https://127.0.0.1:Q, a browser."""
    cert, key = self_signed(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", cert)  # the tool fetches the platform's key set
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    platform = Platform(FakePlatform())
    canvas = serve(platform, context)
    canvas_url = f"https://localhost:{canvas.port}"
    holder: dict = {}
    tool = serve(lambda environ, start: holder["app"](environ, start), context)
    platform.tool_url = f"https://127.0.0.1:{tool.port}"
    config = tmp_path / "canvas-ladok.toml"
    config.write_text(f'public_url = "{platform.tool_url}"\n' + COURSE_TOML.replace(
        "https://canvas.example.edu", canvas_url) + lti_toml(
        key_set_url=f"{canvas_url}/jwks", auth_login_url=f"{canvas_url}/authorize"))
    settings = load_settings(config, {
        "CANVAS_LADOK_DATABASE_URL": f"sqlite:///{tmp_path / 'browser.db'}",
        "CANVAS_LADOK_EXPORT_DIR": str(tmp_path / "exports"),
        "CANVAS_LADOK_WEBHOOK_TOKEN": WEBHOOK_TOKEN,
        "CANVAS_LADOK_SECRET_KEY": SECRET_KEY, "CANVAS_LADOK_LTI_PRIVATE_KEY": TOOL_KEY,
        "CANVAS_LADOK_ADMIN_TOKENS": ADMIN_TOKEN})
    store = Store(settings.database_url)
    upgrade(store)
    holder["app"] = app = create_app({"SETTINGS": settings})
    client = app.test_client()
    for event in term(2):
        assert post_event(client, event).status_code == 202
    apply_pending(store)
    driver = chrome("--ignore-certificate-errors")
    yield SimpleNamespace(driver=driver, platform=platform, canvas_url=canvas_url, app=app,
                          tool_url=platform.tool_url)
    driver.quit()
    for side in (canvas, tool):
        side.server.shutdown()
        side.thread.join()
    app.extensions["canvas_ladok"].store.dispose()
    store.dispose()


def open_in_canvas(world, **launch_as) -> str:
    """Open the fake course page; wait for the tool's page inside the frame; its path."""
    world.platform.launch_as = launch_as
    driver = world.driver
    driver.get(f"{world.canvas_url}/course")
    driver.switch_to.frame("tool")
    WebDriverWait(driver, WAIT_SECONDS).until(lambda d: d.execute_script(
        "return location.pathname.startsWith('/lti/') ? null : location.pathname"))
    return driver.execute_script("return location.pathname")


def status_of(driver, path: str) -> int:
    """The status of a same-origin GET from inside the frame, with the frame's cookies."""
    return driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0], {credentials: 'include'}).then(r => done(r.status));", path)


def course_pages_present(app) -> bool:
    return any(rule.rule.startswith("/courses/") for rule in app.url_map.iter_rules())


def test_learner_inside_canvas_lands_on_their_own_page_and_nothing_else(world):
    path = open_in_canvas(world, roles=[LEARNER], course=565, user=1001)
    driver = world.driver
    assert path == "/me"
    assert "My results in DV1531" in driver.find_element("tag name", "h1").text
    assert "2205" in driver.page_source
    for other in ("/courses/565", "/courses/565/students/1002", "/courses/1279362"):
        assert status_of(driver, other) == 404, other
    assert status_of(driver, "/me") == 200


def test_teacher_inside_canvas_lands_on_the_course_page(world):
    if not course_pages_present(world.app):
        pytest.skip("course pages not present")
    path = open_in_canvas(world, roles=[INSTRUCTOR], course=565, user=900)
    driver = world.driver
    assert path == "/courses/565"
    assert status_of(driver, "/courses/565") == 200
    driver.execute_script("location.assign('/courses/565/students/1001')")  # inside the frame
    WebDriverWait(driver, WAIT_SECONDS).until(lambda d: d.execute_script(
        "return location.pathname === '/courses/565/students/1001' && "
        "document.readyState === 'complete'"))
    assert "Student 1" in driver.page_source
    assert status_of(driver, "/courses/565/students/1001") == 200
    assert status_of(driver, "/courses/1279362") == 404
    assert status_of(driver, "/me") == 404


def blocked_launch_link(world, **launch_as) -> str:
    """The one-time new-tab link a launch offers when Canvas's frame kept no cookie."""
    client = world.app.test_client()
    auth = auth_request(client.post("/lti/login", data=login_params()).location)
    signer = world.platform.signer
    token = signer.sign(signer.claims(auth["nonce"], **launch_as))
    entered = client.post("/lti/launch", data={"id_token": token, "state": auth["state"]})
    page = world.app.test_client().get(entered.location).get_data(as_text=True)
    return html.unescape(re.search(r'href="(/lti/open\?launch=[^"]+)"', page)[1])


def test_a_new_tab_asks_an_administrator_before_switching_to_the_teacher(world, tmp_path):
    driver, tool = world.driver, world.tool_url
    driver.get(f"{tool}/login")
    driver.find_element("name", "token").send_keys(ADMIN_TOKEN)
    driver.find_element("css selector", "form button[type=submit], form input[type=submit]") \
        .click()
    WebDriverWait(driver, WAIT_SECONDS).until(lambda d: d.execute_script(
        "return location.pathname === '/' && document.readyState === 'complete'"))
    link = blocked_launch_link(world, roles=[INSTRUCTOR], course=565, user=900)
    driver.get(f"{tool}{link}")
    assert "You are signed in as someone else" in driver.page_source
    assert "administrator (token 1)" in driver.find_element("tag name", "main").text
    driver.save_screenshot(str(tmp_path / "switch.png"))
    assert status_of(driver, "/courses/1279362") == 200  # nothing switched yet
    driver.find_element("css selector", "main form button").click()
    WebDriverWait(driver, WAIT_SECONDS).until(lambda d: d.execute_script(
        "return location.pathname === '/courses/565' && document.readyState === 'complete'"))
    assert status_of(driver, "/courses/1279362") == 404  # now the teacher of 565
