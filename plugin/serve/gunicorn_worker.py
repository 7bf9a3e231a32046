"""gunicorn's threaded worker with read and write timeouts on every client connection.

gthread waits for a connection's first bytes in its poller, but once a request has begun a
thread reads it to the end: a client that sends its headers and then trickles (or stops
sending) its body holds that thread, and a handful of such clients hold them all. With a
socket timeout a read that waits longer than `read_timeout` fails, the request is answered
408 and the connection closed. A buffering reverse proxy in front (docs/reverse-proxy.md)
keeps slow clients away from the workers altogether.

A thread rendering a page holds the interpreter lock for whole switch intervals, and a webhook
thread waits that long each time it comes back from the database or the socket: with a
shorter interval the webhook keeps its pace while people read pages in the same process.
"""

from __future__ import annotations

import socket
import struct
import sys

from gunicorn.workers.base import Worker as BaseWorker
from gunicorn.workers.gthread import ThreadWorker

from plugin.serve import gunicorn_conf


def _timeval(seconds: float) -> bytes:
    whole = int(seconds)
    return struct.pack("ll", whole, int((seconds - whole) * 1_000_000))


SWITCH_INTERVAL = 0.0005  # seconds; Python's default is 0.005


class Worker(ThreadWorker):
    """gthread; each client socket gets SO_RCVTIMEO and SO_SNDTIMEO once, when first seen,
    and a keep-alive connection ends after `keepalive_requests` requests."""

    def init_process(self) -> None:
        sys.setswitchinterval(SWITCH_INTERVAL)
        super().init_process()

    def enqueue_req(self, conn) -> None:
        if not getattr(conn, "timeouts_set", False):
            timeout = _timeval(gunicorn_conf.read_timeout)
            conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeout)
            conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeout)
            conn.timeouts_set = True
        super().enqueue_req(conn)

    def handle_quit(self, sig, frame) -> None:
        # gthread shuts its thread pool down here, inside the signal handler: when SIGQUIT
        # (or SIGINT) lands while the main thread is in that pool's submit(), which holds the
        # lock shutdown() needs, the worker hangs until the master kills it. Leaving without
        # it is as quick: the pool's idle threads are ended as the interpreter exits.
        BaseWorker.handle_quit(self, sig, frame)

    def handle_request(self, req, conn) -> bool:
        if req.req_number >= gunicorn_conf.keepalive_requests:
            req.must_close = True  # answered with Connection: close
        return super().handle_request(req, conn)
