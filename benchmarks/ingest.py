"""Ingest benchmark: the webhook under gunicorn against a no-op route, side by side.

Starts the project's gunicorn settings (plugin/serve/gunicorn_conf.py: the same
workers and threads) on loopback twice in one run: once a no-op Flask app whose one route
answers 202 to POST, once the real app on a durable temporary SQLite file (WAL, the shipped
`sqlite_synchronous = "normal"`) or --database-url. Each is driven for --seconds by the same
load generator: --connections keep-alive HTTP/1.1 connections spread over --processes
processes, each connection posting unique grade_change events signed with Standard Webhooks
(secret from CANVAS_LADOK_WEBHOOK_SECRET, or a generated one). With `--tool wrk` (the default
`auto` when wrk is installed) wrk drives both servers instead, its Lua script building and
signing a unique event for every request; the Python generator is the fallback, and the
first line says which generator ran.

Prints events/s, p50 and p99 latency of each, the ratio real / no-op (target >= 0.5), the
CPU the load generator used, so a saturated generator shows, and (from /proc) each server's
CPU per answered event: their ratio is the cost behind the throughput ratio and varies less
when neighbours on a shared machine come and go. Rounds alternate the two servers; each round
is printed, then the medians. At the end the real server's stored events are counted against
the 202 `accepted` answers: none may be missing (a 202 means the event is committed).

    python benchmarks/ingest.py [--rounds 7] [--seconds 6] [--connections 8] [--processes 2]
                                [--tool auto|wrk|python]
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
SETTLED_SECONDS = 0.5  # a server counts as started once its processes use under
SETTLED_CPU_SHARE = 0.05  # this share of a core for this long


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

    def wait_settled(self, timeout: float = 60.0) -> None:
        """Wait until the server's processes are idle: the real server's workers start their
        page render processes after they answer, and that start (importing the application)
        is not the cost of an event."""
        deadline = time.monotonic() + timeout
        before = server_cpu_seconds(self.process.pid)
        while before is not None and time.monotonic() < deadline:
            time.sleep(SETTLED_SECONDS)
            now = server_cpu_seconds(self.process.pid)
            if now - before < SETTLED_CPU_SHARE * SETTLED_SECONDS:
                return
            before = now

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


def drive(args: tuple) -> tuple[list[float], int, int, int, float]:
    """One load process: `connections` closed-loop connections until `end` (a time.time()).

    Returns the latencies of 202 answers, the counts of other answers, of errors and of 202s
    not "accepted", and the CPU used."""
    import threading

    port, secret, connections, first_id, start, end = args
    signer = Signer(secret, port)
    latencies: list[float] = []
    others = [0, 0, 0]  # non-202 answers, connection errors, 202s not "accepted"
    lock = threading.Lock()

    def connection(index: int) -> None:
        mine: list[float] = []
        bad = errors = duplicates = 0
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
                duplicates += b'"accepted"' not in response.body
            else:
                bad += 1
        if sock is not None:
            sock.close()
        with lock:
            latencies.extend(mine)
            others[0] += bad
            others[1] += errors
            others[2] += duplicates

    cpu = time.process_time()
    threads = [threading.Thread(target=connection, args=(i,)) for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, others[0], others[1], others[2], time.process_time() - cpu


@dataclass
class Result:
    events_per_second: float
    p50_ms: float
    p99_ms: float
    others: int
    errors: int
    client_cpu_share: float  # load generator CPU seconds per wall second (2.0 = two cores)
    accepted: int  # 202 "accepted" answers
    duplicates: int = 0  # other 202 answers ("duplicate", "ignored"): none expected
    sent: int = 0  # requests sent, answered or not (wrk stops with requests in flight)
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
    others, errors, duplicates = (sum(p[i] for p in parts) for i in (1, 2, 3))
    result = summarise(latencies, seconds, others, errors,
                       sum(p[4] for p in parts) / seconds)
    result.accepted -= duplicates
    result.duplicates = duplicates
    result.sent = len(latencies) + others + errors  # an error may follow a stored event
    return result


def summarise(latencies: list[float], seconds: float, others: int, errors: int,
              cpu_share: float) -> Result:
    """Events per second and latency percentiles of sorted 202 latencies."""
    if not latencies:
        return Result(0.0, float("nan"), float("nan"), others, errors, cpu_share, 0)
    quantiles = statistics.quantiles(latencies, n=100, method="inclusive")
    return Result(len(latencies) / seconds, quantiles[49] * 1000, quantiles[98] * 1000,
                  others, errors, cpu_share, len(latencies))


# --- wrk (when installed) -------------------------------------------------------------------

# wrk runs this script in each of its threads; every request is a new grade_change event with
# its own webhook-id and student (run, thread and a counter make both unique), signed with
# Standard Webhooks through the OpenSSL library wrk itself is linked with (LuaJIT's FFI).
WRK_SCRIPT = r"""
local ffi = require("ffi")
ffi.cdef[[
typedef struct evp_md_st EVP_MD;
const EVP_MD *EVP_sha256(void);
unsigned char *HMAC(const EVP_MD *md, const void *key, int key_len, const unsigned char *d,
                    size_t n, unsigned char *out, unsigned int *out_len);
int EVP_EncodeBlock(unsigned char *t, const unsigned char *f, int n);
int EVP_DecodeBlock(unsigned char *t, const unsigned char *f, int n);
]]
local C = ffi.C

local threads, next_thread = {}, 0
function setup(thread)
  thread:set("thread_no", next_thread)
  next_thread = next_thread + 1
  threads[#threads + 1] = thread
end

local run, key, key_len, shard, path
local digest, digest_len = ffi.new("unsigned char[32]"), ffi.new("unsigned int[1]")
local encoded = ffi.new("unsigned char[48]")
local event_time_at, event_time = -1, nil
sent, accepted, duplicates, others = 0, 0, 0, 0

function init(args)
  run, shard, path = tonumber(args[1]), args[2], args[3]
  local b64 = args[4]
  local raw = ffi.new("unsigned char[?]", #b64)
  local n = C.EVP_DecodeBlock(raw, b64, #b64)
  local _, pads = b64:gsub("=", "")
  key, key_len = raw, n - pads
end

local BODY = '{"metadata":{"context_id":"%s0000000000565","context_type":"Course",'
  .. '"event_name":"grade_change","event_time":"%s","root_account_id":"%s0000000000001",'
  .. '"user_id":"%s0000000000987","hostname":"canvas.example.edu","producer":"canvas",'
  .. '"request_id":"wrk-%d-%d-%d"},"body":{"assignment_id":"%s0000000000355","grade":"G",'
  .. '"grader_id":"%s0000000000987","grading_complete":true,"muted":false,"old_grade":null,'
  .. '"points_possible":10,"score":10,"student_id":"%s%s","user_id":"%s%s",'
  .. '"student_sis_id":"W%s","submission_id":"%s%s"}}'

function request()
  sent = sent + 1
  local now = os.time()
  if now ~= event_time_at then
    event_time_at, event_time = now, os.date("!%Y-%m-%dT%H:%M:%S+00:00", now)
  end
  -- 13 digits: 9, run (3), thread (2), counter (7): apart from the Python generator's ids
  local user = string.format("9%03d%02d%07d", run % 1000, thread_no % 100, sent % 10000000)
  local body = string.format(BODY, shard, event_time, shard, shard, run, thread_no, sent,
    shard, shard, shard, user, shard, user, user, shard, user)
  local msg_id = string.format("msg_wrk_%d_%d_%d", run, thread_no, sent)
  local signed = msg_id .. "." .. now .. "." .. body
  C.HMAC(C.EVP_sha256(), key, key_len, signed, #signed, digest, digest_len)
  local n = C.EVP_EncodeBlock(encoded, digest, digest_len[0])
  return wrk.format("POST", path, {
    ["Content-Type"] = "application/json", ["webhook-id"] = msg_id,
    ["webhook-timestamp"] = tostring(now),
    ["webhook-signature"] = "v1," .. ffi.string(encoded, n)}, body)
end

function response(status, headers, body)
  if status ~= 202 then
    others = others + 1
  elseif body:find('"accepted"', 1, true) then
    accepted = accepted + 1
  else
    duplicates = duplicates + 1
  end
end

function done(summary, latency, requests)
  local totals = {sent = 0, accepted = 0, duplicates = 0, others = 0}
  for _, thread in ipairs(threads) do
    for name in pairs(totals) do
      totals[name] = totals[name] + thread:get(name)
    end
  end
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d %f %f\n", totals.sent, totals.accepted,
    totals.duplicates, totals.others, e.connect + e.read + e.write + e.timeout,
    summary.duration, latency:percentile(50), latency:percentile(99)))
end
"""


def wrk_load(port: int, secret: str, seconds: float, connections: int, threads: int,
             tmp: Path, run: int) -> Result:
    """Drive the server with wrk for `seconds`; `run` numbers the runs against one database
    so that every event of every run is unique."""
    script = tmp / "ingest.lua"
    script.write_text(WRK_SCRIPT)
    key = secret.removeprefix("whsec_")
    key += "=" * (-len(key) % 4)  # the script's base64 decoder wants whole groups
    before = os.times()
    run_wrk = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
         "-s", str(script), f"http://{HOST}:{port}{PATH}",
         "--", str(run), str(HOME_SHARD // 10**13), PATH, key],
        capture_output=True, text=True, check=False,
    )
    after = os.times()
    match = re.search(r"RESULT (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) ([\d.]+) ([\d.]+)",
                      run_wrk.stdout)
    if run_wrk.returncode or not match:
        sys.exit(f"could not read wrk's output:\n{run_wrk.stdout}\n{run_wrk.stderr}")
    sent, accepted, duplicates, others, errors, micros = (int(match.group(i))
                                                          for i in range(1, 7))
    duration = micros / 1e6
    cpu = (after.children_user + after.children_system
           - before.children_user - before.children_system)
    return Result((accepted + duplicates) / duration, float(match.group(7)) / 1000,
                  float(match.group(8)) / 1000, others, errors, cpu / duration, accepted,
                  duplicates=duplicates, sent=sent)


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


def load(tool: str, port: int, secret: str, seconds: float, args: argparse.Namespace,
         tmp: Path, run: int) -> Result:
    """Drive a server with the chosen generator; `run` keeps the events of runs apart."""
    if tool == "wrk":
        return wrk_load(port, secret, seconds, args.connections, args.processes, tmp, run)
    return python_load(port, secret, seconds, args.connections, args.processes, run)


@dataclass
class Tally:
    """The real server's answers over all rounds, warm-ups and readiness probes included."""

    accepted: int = 0
    duplicates: int = 0
    in_flight: int = 0  # sent but not answered when the generator stopped

    def add(self, result: Result) -> None:
        self.accepted += result.accepted
        self.duplicates += result.duplicates
        self.in_flight += max(0, result.sent - result.accepted - result.duplicates
                              - result.others)


def measure(kind: str, env: dict[str, str], args: argparse.Namespace, tool: str,
            tmp: Path, round_no: int, tally: Tally) -> Result:
    """Start one server, warm it up, drive it, stop it."""
    secret = env["CANVAS_LADOK_WEBHOOK_SECRET"]
    server = Server(kind, env)
    try:
        probe = Signer(secret, server.port).request(
            f"msg_probe_{kind}_{time.time_ns()}", grade_event(1, datetime.now(UTC)))
        server.wait_ready(probe)
        tally.accepted += 1
        server.wait_settled()
        first = 100 * round_no  # unique students (and webhook-ids) in every round
        tally.add(load(tool, server.port, secret, WARMUP_SECONDS, args, tmp, first + 1))
        cpu_before = server_cpu_seconds(server.process.pid)
        result = load(tool, server.port, secret, args.seconds, args, tmp, first + 50)
        tally.add(result)
        cpu_after = server_cpu_seconds(server.process.pid)
        answered = result.accepted + result.duplicates
        if cpu_before is not None and cpu_after is not None and answered:
            result.server_cpu_us = (cpu_after - cpu_before) / answered * 1e6
        return result
    finally:
        server.stop()


def verify(stored: int, tally: Tally) -> str:
    """The verdict on lost events: every 202 `accepted` must be a stored event.

    wrk stops with requests in flight, which the server may still have committed: those are
    stored without a counted 202, so `stored` may exceed the count by at most that many."""
    if stored < tally.accepted:
        return f"LOST: {tally.accepted - stored} events answered 202 are not stored"
    if stored > tally.accepted + tally.in_flight:
        return f"UNEXPECTED: {stored - tally.accepted - tally.in_flight} stored events unsent"
    if stored == tally.accepted:
        return "none lost (stored = 202s counted)"
    return (f"none lost (the {stored - tally.accepted} over the count were in flight when the "
            f"generator stopped, of {tally.in_flight} in flight)")


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
              f"load generator: {tool}, {args.connections} connections, {args.processes} "
              f"{'threads' if tool == 'wrk' else 'processes'}, {args.seconds:g} s each; "
              f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} before the run")
        # Rounds alternate the two servers so that a noisy neighbour on a shared machine
        # weighs on both alike; the verdict is the median of the rounds' ratios.
        noops, reals, ratios, cpu_ratios = [], [], [], []
        tally, noop_tally = Tally(), Tally()
        for round_no in range(1, args.rounds + 1):
            noop = measure("noop", env, args, tool, tmp, round_no, noop_tally)
            real = measure("real", env, args, tool, tmp, round_no, tally)
            print(f"round {round_no}")
            report("no-op", noop)
            report("real", real)
            noops.append(noop.events_per_second)
            reals.append(real.events_per_second)
            ratios.append(real.events_per_second / noop.events_per_second)
            if noop.server_cpu_us and real.server_cpu_us:
                cpu_ratios.append(noop.server_cpu_us / real.server_cpu_us)
            sys.stdout.flush()
        print(f"median events/s: no-op {statistics.median(noops):.0f}, "
              f"real {statistics.median(reals):.0f}")
        print(f"ratio real / no-op per round: {', '.join(f'{r:.2f}' for r in ratios)}; "
              f"median {statistics.median(ratios):.2f} (target >= 0.5; load generator: {tool})")
        if cpu_ratios:
            print(f"server CPU per event, no-op / real, per round: "
                  f"{', '.join(f'{r:.2f}' for r in cpu_ratios)}; median "
                  f"{statistics.median(cpu_ratios):.2f} (the cost behind the ratio, steadier "
                  f"than throughput on a shared machine)")
        stored = stored_events(database_url)
        print(f"real server: {tally.accepted} events answered 202 accepted (warm-ups and "
              f"probes included), {tally.duplicates} other 202s, {stored} stored: "
              f"{verify(stored, tally)}")
        if tool == "python" and noop.client_cpu_share > 0.6 * (os.cpu_count() or 1):
            print("note: the load generator used much of the machine's CPU during the no-op "
                  "run, so the no-op figure is a lower bound and the ratio an upper bound")


if __name__ == "__main__":
    main()
