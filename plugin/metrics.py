"""Prometheus metrics; multi-process aware when PROMETHEUS_MULTIPROC_DIR is set."""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

from plugin.canvas.events import EVENT_NAMES

EVENTS = Counter("canvas_ladok_events", "Canvas events received", ["event_name", "outcome"])
WEBHOOK_SECONDS = Histogram("canvas_ladok_webhook_seconds", "Webhook handling time",
                            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
RENDERERS_REPLACED = Counter("canvas_ladok_page_renderers_replaced",
                             "Page render processes replaced", ["reason"])  # hung, died


_EVENT_COUNTERS: dict[tuple[str, str], Any] = {}  # labels() validates and locks each call


def count_event(name: str, outcome: str) -> None:
    """Count one event; names outside the known set share one label."""
    key = (name if name in EVENT_NAMES else "other", outcome)
    counter = _EVENT_COUNTERS.get(key)
    if counter is None:
        counter = _EVENT_COUNTERS.setdefault(key, EVENTS.labels(*key))
    counter.inc()


def exposition() -> tuple[bytes, str]:
    """The metrics text and its content type."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
