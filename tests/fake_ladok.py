"""A fake Ladok on loopback: HTTPS that requires a client certificate from its CA, answering
the calls canvas-ladok makes with Ladok's JSON shapes, paging and refusals.

Switches a test can throw, each for the next requests (after `after` answered normally):
`fail(status, times)` (5xx), `hang(times)` (no answer until the client gives up; with
`applied=True` the request is carried out first, so only its answer is lost), `garble(times)`
(the request is carried out, the answer is a page that is not JSON),
`refuse(student, text)` (a per-student refusal), `touch(result)` (someone else
changed a draft: the next update with the old `SenasteResultatandring` is stale),
`touch_after_read(result)` (the same, just after the next search has answered with it),
`klarmarkera(result)`, `attest(result)`, `deny(instance)` (the certificate may not report there),
`delay` (seconds every answer takes, so that clients overlap);
and the `stranger` files hold a client certificate from another CA, which the server refuses.
Every request is recorded in `seen`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.fake_ladok_data import (
    ATTESTERAD,
    KLARMARKERAD,
    LadokData,
    Refused,
    Student,
    rule,
)
from tests.ladok_pki import certificate_authority, issue

RESULTAT = "application/vnd.ladok-resultat+json"
KATALOG = "application/vnd.ladok-kataloginformation+json"
USER = "canvas-ladok@test.example.edu"
HANG_LIMIT = 30.0  # a hung answer is released at the latest after this, or at stop()


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    body: Any
    accept: str
    content_type: str


class FakeLadok:
    """The server, its certificates (written to `folder`) and its data."""

    def __init__(self, folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        ca = certificate_authority()
        self.ca_file = ca.write_cert(folder / "ladok-ca.pem")
        issue(ca, "localhost", server=True).write_pem(folder / "server.pem")
        self.client = issue(ca, "canvas-ladok integration")
        self.client_pem = self.client.write_pem(folder / "client.pem")
        self.stranger_pem = issue(certificate_authority("Some Other CA"),
                                  "canvas-ladok integration").write_pem(folder / "stranger.pem")
        self.data = LadokData()
        self.seen: list[Seen] = []
        self._handshake_failures = 0
        self._handshaking = 0  # handshakes under way: a refusal may be counted only after
        self.lock = threading.Lock()
        self._plan: list[int | str | None] = []
        self._touch_after_read: set[str] = set()
        self.delay = 0.0  # per request: None, a status, "hang"...
        self._stop = threading.Event()
        self._server: ThreadingHTTPServer | None = None

    # Life ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeLadok:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.folder / "server.pem")
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(self.ca_file)
        self._server = _Server(("127.0.0.1", 0), _Handler, self, context)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> FakeLadok:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # Switches -----------------------------------------------------------------------------

    def fail(self, status: int = 500, times: int = 1, after: int = 0) -> None:
        """`times` requests answer `status`, once `after` more have been answered."""
        self._schedule(status, times, after)

    def hang(self, times: int = 1, after: int = 0, applied: bool = False) -> None:
        """`times` requests get no answer (until HANG_LIMIT or stop); `applied`: they are
        carried out first, so only the answer is lost."""
        self._schedule("applied" if applied else "hang", times, after)

    def garble(self, times: int = 1, after: int = 0) -> None:
        """`times` requests are carried out and answered 200 with a page that is not JSON."""
        self._schedule("garbled", times, after)

    def _schedule(self, fault: int | str, times: int, after: int) -> None:
        with self.lock:
            self._plan.extend([None] * after + [fault] * times)

    def refuse(self, student: Student, text: str = "Studenten har hinder",
               felgrupp: str = "commons.fel.grupp.domanregel") -> None:
        """Every write for this student is refused with Ladok's words `text`."""
        with self.lock:
            self.data.refusals[student.uid] = rule(text, felgrupp)

    def touch(self, result_uid: str) -> None:
        """Someone changed the draft in Ladok: its `SenasteResultatandring` moves on."""
        with self.lock:
            self.data.results[result_uid].changed = self.data.stamp()

    def touch_after_read(self, result_uid: str) -> None:
        """Someone changes the draft just after the next search has shown it."""
        with self.lock:
            self._touch_after_read.add(result_uid)

    def klarmarkera(self, result_uid: str) -> None:
        with self.lock:
            self.data.results[result_uid].status = KLARMARKERAD

    def attest(self, result_uid: str, day: dt.date) -> None:
        with self.lock:
            result = self.data.results[result_uid]
            result.status, result.decided = ATTESTERAD, day.isoformat()

    def deny(self, instance_uid: str) -> None:
        """The certificate may not report on this module (or course instance)."""
        with self.lock:
            self.data.denied.add(instance_uid)

    # Looking --------------------------------------------------------------------------------

    @property
    def handshake_failures(self) -> int:
        """TLS handshakes the server refused, once the ones under way have ended (a client
        sees the refusal before the server's thread has counted it)."""
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            with self.lock:
                if not self._handshaking:
                    break
            time.sleep(0.005)
        with self.lock:
            return self._handshake_failures

    def calls(self, method: str, pattern: str) -> list[Seen]:
        """The recorded requests of `method` whose path matches the regex `pattern`."""
        with self.lock:
            return [s for s in self.seen if s.method == method and re.search(pattern, s.path)]

    def results_of(self, student: Student) -> list:
        """The student's results in Ladok (all rounds, all states)."""
        with self.lock:
            return [r for sr in self.data.study_results.values() if sr.student.uid == student.uid
                    for r in sr.results]

    # Answering (under the lock) ---------------------------------------------------------------

    def answer(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        route = ROUTES.get((method, _shape(path)))
        if route is None:
            return 404, Refused(404, "commons.fel.grupp.okand_resurs", "Okänd resurs").body
        try:
            return 200, route(self, path, body)
        except Refused as refusal:
            return refusal.status, refusal.body

    def next_fault(self) -> int | str | None:
        with self.lock:
            return self._plan.pop(0) if self._plan else None

    def _round(self, path: str, body: Any) -> dict:
        return self.data.round_json(path.split("/")[3])

    def _scales(self, path: str, body: Any) -> dict:
        return {"Betygsskala": list(self.data.scales.values())}

    def _whoami(self, path: str, body: Any) -> dict:
        return {"Anvandarnamn": USER, "Uid": "00000000-0000-0000-0000-000000000001",
                "LarosateID": 99, "Fornamn": "canvas-ladok", "Efternamn": "integration"}

    def _search(self, path: str, body: Any) -> dict:
        instance = path.split("/")[5]
        rows, total = self.data.search(instance, _object(body))
        answer = {"Resultat": [self.data.study_result_json(sr, instance) for sr in rows],
                  "TotaltAntalPoster": total}
        for uid in [u for u in self._touch_after_read
                    if self.data.results[u].instance_uid == instance]:
            self.data.results[uid].changed = self.data.stamp()
            self._touch_after_read.discard(uid)
        return answer

    def _create(self, path: str, body: Any) -> dict:
        lines = _lines(body)
        made = [self.data.create(line) for line in lines]
        keys = [(r.study_result_uid, r.instance_uid) for r in made]
        if len(set(keys)) != len(keys):
            raise rule("Samma student och modul förekommer två gånger",
                       "commons.fel.grupp.felaktigt_varde")
        for result in made:  # all lines passed: commit them together
            self.data.results[result.uid] = result
            self.data.study_results[result.study_result_uid].results.append(result)
        return {"Resultat": [self.data.result_json(r) for r in made]}

    def _update(self, path: str, body: Any) -> dict:
        changed = [self.data.update(line) for line in _lines(body)]
        for new in changed:
            old = self.data.results[new.uid]
            old.grade_id, old.scale_id, old.exam_date, old.changed = (
                new.grade_id, new.scale_id, new.exam_date, new.changed)
        return {"Resultat": [self.data.result_json(self.data.results[r.uid]) for r in changed]}

    def _permission(self, path: str, body: Any) -> dict:
        items = _object(body).get("KontrolleraRapporteringsrattighetlista") or []
        return {"KontrolleraRapporteringsrattighetlista": self.data.may_report(items)}


def _shape(path: str) -> str:
    return re.sub(r"/[0-9a-f]{8}-[0-9a-f-]{27}(?=/|$)", "/{uid}", path)


def _object(body: Any) -> dict:
    if not isinstance(body, dict):
        raise rule("Anropet saknar en JSON-kropp", "commons.fel.grupp.felaktigt_format")
    return body


def _lines(body: Any) -> list[dict]:
    lines = _object(body).get("Resultat")
    if not isinstance(lines, list) or not lines or not all(isinstance(x, dict) for x in lines):
        raise rule("Resultat saknas", "commons.fel.grupp.felaktigt_format")
    return lines


ROUTES = {
    ("GET", "/resultat/kurstillfalle/{uid}/moment"): FakeLadok._round,
    ("GET", "/resultat/grunddata/betygsskala"): FakeLadok._scales,
    ("GET", "/kataloginformation/anvandare/autentiserad"): FakeLadok._whoami,
    ("PUT", "/resultat/studieresultat/rapportera/utbildningsinstans/{uid}/sok"):
        FakeLadok._search,
    ("POST", "/resultat/studieresultat/skapa"): FakeLadok._create,
    ("PUT", "/resultat/studieresultat/uppdatera"): FakeLadok._update,
    ("PUT", "/resultat/resultatrattighet/kontrollerarapporteringsmojlighet"):
        FakeLadok._permission,
}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, handler, fake: FakeLadok, context: ssl.SSLContext):
        super().__init__(address, handler)
        self.fake, self.context = fake, context

    def finish_request(self, request, client_address) -> None:
        # The TLS handshake happens here, in the connection's own thread. Without NODELAY each
        # answer's body waits for the client's delayed ACK of its headers (40 ms on loopback).
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.fake.lock:
            self.fake._handshaking += 1
        try:
            request = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            with self.fake.lock:
                self.fake._handshake_failures += 1
            return
        finally:
            with self.fake.lock:
                self.fake._handshaking -= 1
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address) -> None:
        pass  # a client that hangs up mid-answer is not the fake's concern


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        fake = self.server.fake
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        accept, ctype = self.headers.get("Accept", ""), self.headers.get("Content-Type", "")
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        with fake.lock:
            fake.seen.append(Seen(method, self.path, body, accept, ctype))
        fault = fake.next_fault()
        if fake.delay:
            fake._stop.wait(fake.delay)
        wanted = KATALOG if self.path.startswith("/kataloginformation/") else RESULTAT
        if fault in ("applied", "garbled"):
            with fake.lock:
                fake.answer(method, self.path, body)
        if fault == "garbled":
            self._send(200, "<html>Underhåll pågår</html>", "text/html")
            return
        if isinstance(fault, str):
            fake._stop.wait(HANG_LIMIT)
            self.close_connection = True
            return
        status: int | None = fault
        if status is not None:
            answer = {"FelUID": "x", "Felkategori": "commons.fel.kategori.applikationsfel",
                      "Meddelande": "Tekniskt fel"}
        elif wanted not in accept:
            status, answer = 406, {"Meddelande": f"Accept must name {wanted}"}
        elif raw and not ctype.startswith(wanted):
            status, answer = 415, {"Meddelande": f"Content-Type must be {wanted}"}
        else:
            with fake.lock:
                status, answer = fake.answer(method, self.path, body)
        self._send(status, answer, wanted)

    def _send(self, status: int, answer: Any, media: str) -> None:
        text = answer if isinstance(answer, str) else json.dumps(answer, ensure_ascii=False)
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", f"{media};charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
