"""The real web server (gunicorn with the project's config) facing hostile clients: no query
string or raw control character in its logs, no redirect echoing a token, slow clients cut
off so /healthz still answers."""

from __future__ import annotations

import re
import socket
import time

import pytest
import requests

from plugin.serve import gunicorn_conf

pytestmark = [pytest.mark.slow,
              pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]
SLOW_CLIENTS = 2 * gunicorn_conf.workers * gunicorn_conf.threads  # twice the threads
HEALTHZ_LIMIT = 30.0


def raw_request(port: int, data: bytes, timeout: float = 10.0) -> bytes:
    """Send `data` as is and return everything the server answers until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def wait_for_log(server, needle: str, timeout: float = 20.0) -> str:
    """The server's log once it contains `needle` (logs are written as requests end)."""
    deadline = time.monotonic() + timeout
    while needle not in (text := server.log.read_text(errors="replace")):
        assert time.monotonic() < deadline, f"{needle!r} never logged:\n{text[-3000:]}"
        time.sleep(0.05)
    return text


def test_logs_hold_no_query_string_and_no_raw_control_character(start_server):
    server = start_server()
    forged = raw_request(server.port, b"GET /healthz%0aINFO%20forged%1b[31m?token=SECRET1 "
                         b"HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert forged.startswith(b"HTTP/1.1 404")
    malformed = raw_request(server.port, b"GET /webhooks/canvas?token=SECRET2 HTTP/1.1 x\r\n\r\n")
    assert malformed.startswith(b"HTTP/1.1 400")
    raw_request(server.port, b"GET /end-marker HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    log = wait_for_log(server, "/end-marker")
    assert "SECRET1" not in log and "SECRET2" not in log  # the query strings' tokens
    assert "\x1b" not in log and "\nINFO forged" not in log
    assert "/healthz\\x0aINFO forged\\x1b[31m" in log
    assert "Invalid request" in log  # the malformed line was logged, without its query


def test_a_merged_slashes_redirect_does_not_echo_the_query(start_server):
    server = start_server()
    answer = raw_request(server.port, b"POST /webhooks//canvas?token=SECRET3 HTTP/1.1\r\n"
                         b"Host: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").decode()
    head = answer.split("\r\n\r\n")[0]
    assert head.startswith("HTTP/1.1 308") and "SECRET3" not in answer
    assert "\r\nLocation: http://x/webhooks/canvas\r\n" in head + "\r\n"


def test_slow_clients_cannot_starve_healthz(start_server):
    server = start_server()
    slow = []
    for _ in range(SLOW_CLIENTS):  # headers, then 1 byte of a 100-byte body, then nothing
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=HEALTHZ_LIMIT)
        sock.sendall(b"POST /webhooks/canvas?token=x HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
        slow.append(sock)
    try:
        started = time.monotonic()
        try:
            response = requests.get(f"{server.url}/healthz", timeout=HEALTHZ_LIMIT)
        except requests.Timeout:
            pytest.fail(f"/healthz did not answer in {HEALTHZ_LIMIT} s behind slow clients")
        assert response.status_code == 200, time.monotonic() - started
        answer = slow[0].recv(65536)
        assert answer.startswith(b"HTTP/1.1 408"), answer
    finally:
        for sock in slow:
            sock.close()


def test_a_keep_alive_connection_is_closed_after_its_request_budget(start_server):
    server = start_server()
    budget = gunicorn_conf.keepalive_requests
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        reader = sock.makefile("rb")
        for number in range(1, budget + 1):
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            head = read_head(reader)
            assert head.startswith(b"HTTP/1.1 200"), head
            reader.read(int(re.search(rb"(?i)content-length: (\d+)", head).group(1)))
            closing = re.search(rb"(?i)\r\nconnection: close\r\n", head) is not None
            assert closing == (number == budget), number
        assert reader.read() == b""  # the server closed it


def read_head(reader) -> bytes:
    """The status line and headers of the next response."""
    lines = []
    while (line := reader.readline()) not in (b"\r\n", b""):
        lines.append(line)
    return b"".join(lines)


@pytest.mark.parametrize("proxies, location", [
    (0, "http://localhost/webhooks/canvas"),
    (1, "https://ladok.example.edu/webhooks/canvas"),
])
def test_forwarded_headers_count_only_behind_trusted_proxies(settings, store, proxies,
                                                             location):
    import dataclasses

    from plugin import create_app

    app = create_app({"SETTINGS": dataclasses.replace(settings, trusted_proxies=proxies)})
    response = app.test_client().post(
        "/webhooks//canvas", headers={"X-Forwarded-Proto": "https",
                                      "X-Forwarded-Host": "ladok.example.edu"})
    app.extensions["canvas_ladok"].store.dispose()
    assert response.status_code == 308 and response.headers["Location"] == location
