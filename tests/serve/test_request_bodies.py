"""The real web server (gunicorn with the project's config) and request bodies: a broken
chunked body is a 400 and no body above max_body_bytes is read, on every route that takes one."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from tests.conftest import ADMIN_TOKEN, SECRET_KEY
from tests.fake_platform import TOOL_KEY, lti_config
from tests.serve.test_exposed_server import raw_request

pytestmark = [pytest.mark.slow,
              pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]
LIMIT = 65536
ROUTES = ["/webhooks/canvas?token=test-webhook-token", "/login", "/lti/login", "/lti/launch",
          "/api/exports"]


@pytest.fixture
def server_env(server_env):
    """A server with pages, the admin API and LTI switched on, bodies up to LIMIT bytes."""
    Path(server_env["CANVAS_LADOK_CONFIG"]).write_text(lti_config())
    server_env.update({
        "CANVAS_LADOK_SECRET_KEY": SECRET_KEY, "CANVAS_LADOK_ADMIN_TOKENS": ADMIN_TOKEN,
        "CANVAS_LADOK_LTI_PRIVATE_KEY": TOOL_KEY, "CANVAS_LADOK_MAX_BODY_BYTES": str(LIMIT),
    })
    return server_env


def head(path: str, *lines: str) -> bytes:
    """A POST request's head, with the admin token for the API."""
    auth = [f"Authorization: Bearer {ADMIN_TOKEN}"] if path.startswith("/api/") else []
    return "\r\n".join([f"POST {path} HTTP/1.1", "Host: 127.0.0.1",
                        "Content-Type: application/x-www-form-urlencoded", *auth, *lines,
                        "", ""]).encode()


def status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def test_a_broken_chunked_body_is_a_400_on_every_route(start_server):
    server = start_server()
    for path in ROUTES:
        for chunk in (b"zz\r\nabc\r\n0\r\n\r\n", b"-5\r\nabcde\r\n0\r\n\r\n",
                      b"9" * 40 + b"\r\nabc\r\n0\r\n\r\n"):
            answer = raw_request(server.port, head(path, "Transfer-Encoding: chunked",
                                                   "Connection: close") + chunk)
            assert status(answer) == 400, (path, chunk, answer[:300])
    assert "Traceback" not in server.tail()


@pytest.mark.parametrize("path", ROUTES)
def test_a_body_above_the_limit_is_refused_before_it_is_read(start_server, path):
    server = start_server()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        # Says 150 MB and sends a few bytes: an answer now means nothing was waited for.
        sock.sendall(head(path, "Content-Length: 150000000") + b"token=x&")
        started = time.monotonic()
        answer = sock.recv(65536)
    assert status(answer) == 413, answer[:300]
    assert time.monotonic() - started < 3  # not the read timeout's 408


@pytest.mark.parametrize("path", ROUTES)
def test_a_chunked_body_is_read_no_further_than_the_limit(start_server, path):
    server = start_server()
    chunk = b"a" * 16384
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(LIMIT // len(chunk) + 2))
    answer = raw_request(server.port, head(path, "Transfer-Encoding: chunked",
                                           "Connection: close") + body + b"0\r\n\r\n")
    assert status(answer) == 413, answer[:300]
