"""Two servers on one database: the OIDC login served by one, the launch by the other."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Response

from tests.fake_platform import (
    LEARNER,
    SECRET_KEY,
    TOOL_KEY,
    FakePlatform,
    auth_request,
    login_params,
    lti_config,
)
from tests.web_server import WebServer

pytestmark = pytest.mark.slow
BEHIND_TLS = {"X-Forwarded-Proto": "https"}  # as the TLS-terminating proxy in front says


@pytest.fixture
def platform() -> Iterator[tuple[FakePlatform, str]]:
    """The fake platform's key set on a loopback server (the servers fetch it themselves)."""
    platform = FakePlatform()
    body = json.dumps(platform.jwks())
    server = make_server("127.0.0.1", 0, lambda environ, start: Response(
        body, mimetype="application/json")(environ, start))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield platform, f"http://127.0.0.1:{server.server_port}/jwks"
    server.shutdown()
    thread.join()


@pytest.fixture
def servers(database_url: str, tmp_path: Path, platform) -> Iterator[list[WebServer]]:
    """Two `canvas-ladok web` servers (gunicorn, 2 workers each) sharing one database."""
    config = tmp_path / "canvas-ladok.toml"
    config.write_text(lti_config(extra_top="trusted_proxies = 1\n", key_set_url=platform[1]))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANVAS_LADOK_")}
    env.update({
        "CANVAS_LADOK_CONFIG": str(config), "CANVAS_LADOK_DATABASE_URL": database_url,
        "CANVAS_LADOK_EXPORT_DIR": str(tmp_path / "exports"),
        "CANVAS_LADOK_SECRET_KEY": SECRET_KEY, "CANVAS_LADOK_LTI_PRIVATE_KEY": TOOL_KEY,
    })
    started: list[WebServer] = []
    for name in ("a", "b"):
        metrics = tmp_path / f"metrics-{name}"
        metrics.mkdir()
        started.append(WebServer({**env, "PROMETHEUS_MULTIPROC_DIR": str(metrics)},
                                 tmp_path / f"server-{name}.log"))
        started[-1].wait_ready()
    yield started
    for server in started:
        server.kill()


def test_login_on_one_server_and_launch_on_the_other_succeeds(servers, platform):
    first, second = servers
    login = requests.post(f"{first.url}/lti/login", data=login_params(), headers=BEHIND_TLS,
                          allow_redirects=False, timeout=10)
    assert login.status_code == 302, login.text
    auth = auth_request(login.headers["Location"])
    browser = dict(login.cookies)  # the state cookie, as the browser keeps it
    token = platform[0].sign(platform[0].claims(auth["nonce"], [LEARNER], user=1001))
    form = {"id_token": token, "state": auth["state"]}
    launch = requests.post(f"{second.url}/lti/launch", data=form, cookies=browser,
                           headers=BEHIND_TLS, allow_redirects=False, timeout=10)
    assert launch.status_code == 302, launch.text
    browser.update(launch.cookies)
    entered = requests.get(first.url + launch.headers["Location"], cookies=browser,
                           headers=BEHIND_TLS, allow_redirects=False, timeout=10)
    assert entered.status_code == 302 and entered.headers["Location"] == "/me"
    page = requests.get(f"{second.url}/me", cookies=browser, headers=BEHIND_TLS, timeout=10)
    assert page.status_code == 200 and "No grades are recorded for you" in page.text
    replay = requests.post(f"{first.url}/lti/launch", data=form, cookies=browser,
                           headers=BEHIND_TLS, allow_redirects=False, timeout=10)
    assert replay.status_code == 400
