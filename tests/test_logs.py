"""Every log message of the service stays one line, whatever it quotes."""

from __future__ import annotations

import logging

import pytest


@pytest.mark.parametrize("logger", ["plugin.anything", "gunicorn.error", "sqlalchemy", ""])
def test_control_characters_in_any_log_message_are_escaped(app, caplog, logger):
    with caplog.at_level(logging.INFO):
        logging.getLogger(logger).warning("sign-in from %s: %r", "a\nFORGED\x1b[2J", "b\rc")
    [record] = caplog.records
    assert record.getMessage() == "sign-in from a\\x0aFORGED\\x1b[2J: 'b\\rc'"
    assert "\n" not in caplog.text.rstrip("\n") and "\x1b" not in caplog.text
