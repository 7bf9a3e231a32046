"""Fixtures of the web tests: the demo course in every state."""

from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

from plugin.demo.fill import fill_demo


@pytest.fixture
def demo(app, store, settings, canvas_users_unknown):
    """The demo course in every state; the id of its first export run."""
    return fill_demo(store, settings)


@pytest.fixture
def live_url(app):
    """The application served on a loopback port for the browser."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()
