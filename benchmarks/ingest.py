"""Ingest benchmark: the webhook under gunicorn against a no-op route, side by side.

Starts the project's gunicorn settings (plugin/serve/gunicorn_conf.py: the same
workers and threads) on loopback twice in one run: once a no-op Flask app whose one route
answers 202 to POST, once the real app on a durable temporary SQLite file (WAL, the shipped
`sqlite_synchronous = "normal"`) or --database-url. Each is driven for --seconds by the same
load generator: --connections keep-alive HTTP/1.1 connections spread over --processes
processes, each connection posting unique grade_change events signed with Standard Webhooks
(secret from CANVAS_LADOK_WEBHOOK_SECRET, or a generated one). With `--tool wrk` (or `auto`
when wrk is installed) wrk replays pre-signed unique requests instead.

Prints events/s, p50 and p99 latency of each, the ratio real / no-op (target >= 0.5), the
CPU the load generator used, so a saturated generator shows, and (from /proc) each server's
CPU per answered event: their ratio is the cost behind the throughput ratio and varies less
when neighbours on a shared machine come and go.

    python benchmarks/ingest.py [--rounds 7] [--seconds 6] [--connections 8] [--processes 2]
"""

from __future__ import annotations

import argparse
import base64
import json
import multiprocessing
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from demo_config import CONFIG

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

HOST = "127.0.0.1"
PATH = "/webhooks/canvas"
HOME_SHARD = 2107 * 10**13
WARMUP_SECONDS = 1.0
UNIQUE_PER_SECOND = 10_000  # signed unique events prepared for wrk per second of a real run


# --- servers (run in a child process: `ingest.py --serve real|noop --bind HOST:PORT`) ---------


def noop_app():
    """A Flask app with one route answering 202 to POST, nothing else."""
    from flask import Flask, jsonify

    app = Flask("noop")

    @app.post(PATH)
    def receive():
        return jsonify(status="accepted"), 202

    return app


def serve(kind: str, bind: str) -> None:
    """Run `kind` under the project's gunicorn settings until terminated."""
    from plugin.cli import load_or_exit, open_store
    from plugin.serve import server

    if kind == "real":
        settings = load_or_exit()
        open_store(settings).dispose()  # migrations, as `canvas-ladok web` does
        factory = partial(server.served_app, settings)
    else:
        factory = noop_app
    server.run(factory, bind)


class Server:
    """A benchmark server in its own process group."""

    def __init__(self, kind: str, env: dict[str, str]) -> None:
        with socket.socket() as sock:
            sock.bind((HOST, 0))
            self.port = sock.getsockname()[1]
        self.kind = kind
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve", kind, "--bind", f"{HOST}:{self.port}"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True,
        )

    def wait_ready(self, request: bytes, timeout: float = 60.0) -> None:
        """Return once the route answers 202; exit with the server's stderr otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                sys.exit(f"{self.kind} server exited:\n{self.process.stderr.read().decode()}")
            try:
                with socket.create_connection((HOST, self.port), timeout=2) as sock:
                    sock.sendall(request)
                    if read_response(sock).status == 202:
                        return
            except OSError:
                time.sleep(0.1)
        self.stop()
        sys.exit(f"{self.kind} server not ready in {timeout:.0f} s")

    def stop(self) -> None:
        """SIGTERM the group (gunicorn shuts down gracefully), SIGKILL what lingers."""
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        except ProcessLookupError:
            pass


# --- requests -------------------------------------------------------------------------------


def grade_event(user: int, when: datetime) -> bytes:
    """A unique grade_change event for course 565, assignment 355 (kmom01), student `user`."""
    event = {
        "metadata": {
            "context_id": str(HOME_SHARD + 565), "context_type": "Course",
            "event_name": "grade_change", "event_time": when.isoformat(),
            "root_account_id": str(HOME_SHARD + 1), "user_id": str(HOME_SHARD + 987),
            "hostname": "canvas.example.edu", "producer": "canvas",
            "request_id": secrets.token_hex(16),
        },
        "body": {
            "assignment_id": str(HOME_SHARD + 355), "grade": "G", "grader_id":
            str(HOME_SHARD + 987), "grading_complete": True, "muted": False,
            "old_grade": None, "points_possible": 10, "score": 10,
            "student_id": str(HOME_SHARD + user), "user_id": str(HOME_SHARD + user),
            "student_sis_id": f"S{user}", "submission_id": str(HOME_SHARD + 10**6 + user),
        },
    }
    return json.dumps(event).encode()


class Signer:
    """Builds complete HTTP/1.1 requests signed with Standard Webhooks."""

    def __init__(self, secret: str, port: int) -> None:
        from standardwebhooks import Webhook

        self.webhook = Webhook(secret)
        self.head = f"POST {PATH} HTTP/1.1\r\nHost: {HOST}:{port}\r\n".encode()

    def request(self, msg_id: str, body: bytes) -> bytes:
        now = datetime.now(UTC)
        signature = self.webhook.sign(msg_id, now, body.decode())
        return self.head + (
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"webhook-id: {msg_id}\r\nwebhook-timestamp: {int(now.timestamp())}\r\n"
            f"webhook-signature: {signature}\r\n\r\n"
        ).encode() + body


@dataclass
class Response:
    status: int
    body: bytes
    closing: bool = False  # the server said Connection: close


def read_response(sock: socket.socket, buffer: bytearray | None = None) -> Response:
    """Read one HTTP/1.1 response with a Content-Length body."""
    data = buffer if buffer is not None else bytearray()
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed")
        data += chunk
    head, _, rest = bytes(data).partition(b"\r\n\r\n")
    match = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    length = int(match.group(1)) if match else 0
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed")
        rest += chunk
    data[:] = rest[length:]
    closing = re.search(rb"(?im)^connection:\s*close", head) is not None
    return Response(int(head.split(b" ", 2)[1]), rest[:length], closing)


# --- Python load generator ------------------------------------------------------------------


def drive(args: tuple) -> tuple[list[float], int, int, float]:
    """One load process: `connections` closed-loop connections until `end` (a time.time()).

    Returns the latencies of 202 answers, the count of other answers, errors, and CPU used."""
    import threading

    port, secret, connections, first_id, start, end = args
    signer = Signer(secret, port)
    latencies: list[float] = []
    others = [0, 0]  # non-202 answers, connection errors
    lock = threading.Lock()

    def connection(index: int) -> None:
        mine: list[float] = []
        bad = errors = 0
        counter = 0
        sock, buffer = None, bytearray()
        user_base = (first_id + index) * 10**7  # unique students and webhook-ids per run
        while time.time() < start:
            time.sleep(0.001)
        while (now := time.time()) < end:
            counter += 1
            user = user_base + counter
            body = grade_event(user, datetime.fromtimestamp(now, UTC))
            request = signer.request(f"msg_{user}", body)
            try:
                if sock is None:
                    sock, buffer = socket.create_connection((HOST, port)), bytearray()
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sent = time.perf_counter()
                sock.sendall(request)
                response = read_response(sock, buffer)
                elapsed = time.perf_counter() - sent
                if response.closing:  # a new connection for the next request, as HTTP says
                    sock.close()
                    sock = None
            except OSError:
                errors += 1
                if sock is not None:
                    sock.close()
                sock = None
                continue
            if response.status == 202:
                mine.append(elapsed)
            else:
                bad += 1
        if sock is not None:
            sock.close()
        with lock:
            latencies.extend(mine)
            others[0] += bad
            others[1] += errors

    cpu = time.process_time()
    threads = [threading.Thread(target=connection, args=(i,)) for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, others[0], others[1], time.process_time() - cpu


@dataclass
class Result:
    events_per_second: float
    p50_ms: float
    p99_ms: float
    others: int
    errors: int
    client_cpu_share: float  # load generator CPU seconds per wall second (2.0 = two cores)
    accepted: int
    accepted_in_warmup: int = 0  # including the readiness probe
    server_cpu_us: float | None = None  # the server's CPU per 202 answer, all its processes


def python_load(port: int, secret: str, seconds: float, connections: int,
                processes: int, run: int) -> Result:
    """Drive the server with `connections` connections over `processes` processes; `run`
    numbers the runs against one database so that every event of every run is unique."""
    processes = max(1, min(processes, connections))
    share = [connections // processes + (i < connections % processes) for i in range(processes)]
    first = [run * 10_000 + sum(share[:i]) for i in range(processes)]
    start = time.time() + 0.5
    end = start + seconds
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        parts = pool.map(drive, [(port, secret, n, first[i], start, end)
                                 for i, n in enumerate(share)])
    latencies = sorted(lat for part in parts for lat in part[0])
    return summarise(latencies, seconds, sum(p[1] for p in parts), sum(p[2] for p in parts),
                     sum(p[3] for p in parts) / seconds)


def summarise(latencies: list[float], seconds: float, others: int, errors: int,
              cpu_share: float) -> Result:
    """Events per second and latency percentiles of sorted 202 latencies."""
    if not latencies:
        return Result(0.0, float("nan"), float("nan"), others, errors, cpu_share, 0)
    quantiles = statistics.quantiles(latencies, n=100, method="inclusive")
    return Result(len(latencies) / seconds, quantiles[49] * 1000, quantiles[98] * 1000,
                  others, errors, cpu_share, len(latencies))


# --- wrk (optional) -------------------------------------------------------------------------

WRK_SCRIPT = r"""
-- Each wrk thread replays its own share of pre-signed unique requests.
local counter, requests, i = 0, {}, 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end
function init(args)
  local f, threads, n = assert(io.open(args[1], "rb")), tonumber(args[2]), 0
  for line in f:lines() do
    if n % threads == id then
      local msg, ts, sig, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
      requests[#requests + 1] = wrk.format("POST", nil, {
        ["Content-Type"] = "application/json", ["webhook-id"] = msg,
        ["webhook-timestamp"] = ts, ["webhook-signature"] = sig}, body)
    end
    n = n + 1
  end
  f:close()
end
function request()
  i = i + 1
  if i > #requests then i = 1 end
  return requests[i]
end
function done(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d %d %f %f\n", summary.requests,
    summary.errors.status, summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout, summary.duration,
    latency:percentile(50), latency:percentile(99)))
end
"""


def wrk_load(port: int, secret: str, seconds: float, connections: int, threads: int,
             tmp: Path, unique: int) -> Result:
    """Drive the server with wrk, replaying `unique` pre-signed requests (then repeating)."""
    from standardwebhooks import Webhook

    webhook = Webhook(secret)
    now = datetime.now(UTC)
    run = time.time_ns()
    with (tmp / "requests.tsv").open("w") as out:
        for n in range(unique):
            user = 50_000 * 10**7 + n  # apart from the Python generator's students
            body = grade_event(user, now).decode()
            msg_id = f"msg_wrk_{run}_{n}"
            out.write(f"{msg_id}\t{int(now.timestamp())}\t"
                      f"{webhook.sign(msg_id, now, body)}\t{body}\n")
    script = tmp / "ingest.lua"
    script.write_text(WRK_SCRIPT)
    before = os.times()
    run_wrk = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:.0f}s", "-s", str(script),
         f"http://{HOST}:{port}{PATH}", "--", str(tmp / "requests.tsv"), str(threads)],
        capture_output=True, text=True, check=True,
    )
    after = os.times()
    match = re.search(r"RESULT (\d+) (\d+) (\d+) (\d+) ([\d.]+) ([\d.]+)", run_wrk.stdout)
    if not match:
        sys.exit(f"could not read wrk's output:\n{run_wrk.stdout}\n{run_wrk.stderr}")
    total, bad, errors, micros = (int(match.group(i)) for i in range(1, 5))
    duration = micros / 1e6
    cpu = (after.children_user + after.children_system
           - before.children_user - before.children_system)
    return Result((total - bad) / duration, float(match.group(5)) / 1000,
                  float(match.group(6)) / 1000, bad, errors, cpu / duration, total - bad)


# --- the run --------------------------------------------------------------------------------


def stored_events(database_url: str) -> int:
    """How many events the real server committed."""
    from sqlalchemy import func, select

    from plugin.store.db import Store
    from plugin.store.models import Event

    store = Store(database_url)
    try:
        with store.read() as session:
            return session.scalar(select(func.count()).select_from(Event)) or 0
    finally:
        store.dispose()


def server_cpu_seconds(pgid: int) -> float | None:
    """CPU seconds (user + system) used so far by the live processes of group `pgid`;
    None where there is no /proc."""
    try:
        pids = [name for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return None
    ticks = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                # after the command's closing parenthesis: state, ppid, pgrp, ... utime, stime
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[2]) == pgid:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def measure(kind: str, env: dict[str, str], args: argparse.Namespace, tool: str,
            tmp: Path, unique: int, round_no: int) -> Result:
    """Start one server, warm it up, drive it, stop it."""
    secret = env["CANVAS_LADOK_WEBHOOK_SECRET"]
    server = Server(kind, env)
    try:
        probe = Signer(secret, server.port).request(
            f"msg_probe_{kind}_{time.time_ns()}", grade_event(1, datetime.now(UTC)))
        server.wait_ready(probe)
        first = 100 * round_no  # unique students (and webhook-ids) in every round
        warmup = python_load(server.port, secret, WARMUP_SECONDS, args.connections,
                             args.processes, first + 1)
        cpu_before = server_cpu_seconds(server.process.pid)
        if tool == "wrk":
            result = wrk_load(server.port, secret, args.seconds, args.connections,
                              args.processes, tmp, unique)
        else:
            result = python_load(server.port, secret, args.seconds, args.connections,
                                 args.processes, first + 50)
        result.accepted_in_warmup = warmup.accepted + 1
        cpu_after = server_cpu_seconds(server.process.pid)
        if cpu_before is not None and cpu_after is not None and result.accepted:
            result.server_cpu_us = (cpu_after - cpu_before) / result.accepted * 1e6
        return result
    finally:
        server.stop()


def report(name: str, result: Result) -> None:
    """One line per server."""
    print(f"{name:<8} {result.events_per_second:9.0f} events/s   p50 {result.p50_ms:7.2f} ms   "
          f"p99 {result.p99_ms:7.2f} ms   non-202 {result.others}   errors {result.errors}   "
          f"load generator CPU {result.client_cpu_share:4.2f} cores" + (
              f"   server CPU {result.server_cpu_us:4.0f} µs/event"
              if result.server_cpu_us is not None else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="per server and round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--processes", type=int, default=2,
                        help="load generator processes (wrk: threads)")
    parser.add_argument("--tool", choices=["auto", "python", "wrk"], default="auto")
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    parser.add_argument("--serve", choices=["real", "noop"], help=argparse.SUPPRESS)
    parser.add_argument("--bind", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.bind)
        return
    tool = args.tool
    if tool == "auto":
        tool = "wrk" if shutil.which("wrk") else "python"
    elif tool == "wrk" and not shutil.which("wrk"):
        sys.exit("wrk is not installed")

    with tempfile.TemporaryDirectory(prefix="canvas-ladok-bench-") as tmp_name:
        tmp = Path(tmp_name)
        database_url = args.database_url or f"sqlite:///{tmp / 'ingest.db'}"
        secret = os.environ.get("CANVAS_LADOK_WEBHOOK_SECRET") or (
            "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode())
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("CANVAS_LADOK_") and k != "PROMETHEUS_MULTIPROC_DIR"}
        env.update({
            "CANVAS_LADOK_CONFIG": str(CONFIG),
            "CANVAS_LADOK_DATABASE_URL": database_url,
            "CANVAS_LADOK_EXPORT_DIR": str(tmp / "exports"),
            "CANVAS_LADOK_WEBHOOK_SECRET": secret,
        })
        from plugin.serve.gunicorn_conf import threads, workers

        print(f"gunicorn: {workers} workers x {threads} threads (plugin/serve/gunicorn_conf.py); "
              f"database: {'temporary SQLite (WAL)' if not args.database_url else 'given'}; "
              f"load: {tool}, {args.connections} connections, {args.processes} "
              f"{'threads' if tool == 'wrk' else 'processes'}, {args.seconds:g} s each; "
              f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} before the run")
        # Rounds alternate the two servers so that a noisy neighbour on a shared machine
        # weighs on both alike; the verdict is the median of the rounds' ratios.
        ratios, cpu_ratios, answered = [], [], 0
        for round_no in range(1, args.rounds + 1):
            # The no-op stores nothing, so its requests may repeat; the real server gets more
            # unique events than either server can take in the time (a slow no-op round on
            # a noisy machine must not make the real server replay duplicates).
            noop = measure("noop", env, args, tool, tmp, 5000, round_no)
            unique = int(max(noop.events_per_second, UNIQUE_PER_SECOND) * args.seconds * 1.2)
            real = measure("real", env, args, tool, tmp, unique, round_no)
            print(f"round {round_no}")
            report("no-op", noop)
            report("real", real)
            ratios.append(real.events_per_second / noop.events_per_second)
            if noop.server_cpu_us and real.server_cpu_us:
                cpu_ratios.append(noop.server_cpu_us / real.server_cpu_us)
            answered += real.accepted_in_warmup + real.accepted
        print(f"ratio real / no-op per round: {', '.join(f'{r:.2f}' for r in ratios)}; "
              f"median {statistics.median(ratios):.2f} (target >= 0.5)")
        if cpu_ratios:
            print(f"server CPU per event, no-op / real, per round: "
                  f"{', '.join(f'{r:.2f}' for r in cpu_ratios)}; median "
                  f"{statistics.median(cpu_ratios):.2f} (the cost behind the ratio, steadier "
                  f"than throughput on a shared machine)")
        print(f"real server: {answered} events answered 202 (warm-up included), "
              f"{stored_events(database_url)} stored")
        if tool == "wrk" and real.accepted > unique:
            print(f"note: wrk repeated requests after {unique} unique ones (duplicates)")
        if tool == "python" and noop.client_cpu_share > 0.6 * (os.cpu_count() or 1):
            print("note: the load generator used much of the machine's CPU during the no-op "
                  "run, so the no-op figure is a lower bound and the ratio an upper bound")


if __name__ == "__main__":
    main()
