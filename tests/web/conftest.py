"""Fixtures of the web tests: the demo course in every state."""

from __future__ import annotations

import pytest

from plugin.demo.fill import fill_demo


@pytest.fixture
def demo(app, store, settings, canvas_users_unknown):
    """The demo course in every state; the id of its first export run."""
    return fill_demo(store, settings)
