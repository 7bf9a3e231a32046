"""The one Ladok REST client: `requests` over TLS with the integration certificate.

Every call names Ladok's media type (`application/vnd.ladok-resultat+json`; the catalogue's
`application/vnd.ladok-kataloginformation+json`), has a timeout, and is retried with doubling
waits when Ladok answers 5xx, times out or cannot be reached. A write is retried only when it
surely did not arrive (no connection, or 503); when its answer is lost after sending it is
reported as uncertain, never sent twice. Searches are paged and always carry an `OrderBy`,
without which Ladok's pages overlap. Bulk writes go in batches; a batch Ladok refuses is split
until each refusal is one student's own, so one refusal never holds back the others.
"""

from __future__ import annotations

import json
import logging
import os
import ssl
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter

from plugin.ladok.errors import (
    LadokCertificateError,
    LadokError,
    LadokNotConfigured,
    LadokRefusal,
    LadokUnavailable,
)
from plugin.ladok.model import (
    OPEN_STATES,
    CourseRound,
    DraftUpdate,
    GradeScale,
    LadokResult,
    LadokUser,
    NewDraft,
    StudyResult,
    WriteOutcome,
)
from plugin.settings.certificate import (
    CertificateError,
    ClientCertificate,
    client_ssl_context,
    load_client_certificate,
)

if TYPE_CHECKING:
    from plugin.settings import Settings

log = logging.getLogger(__name__)

RESULTAT = "application/vnd.ladok-resultat+json"
KATALOG = "application/vnd.ladok-kataloginformation+json"
ORDER_BY = ("PERSONNUMMER_ASC", "EFTERNAMN_ASC", "FORNAMN_ASC")  # a total, stable order
TIMEOUT = (10.0, 60.0)  # connect, read (seconds); bulk writes of 100 results take a while
RETRIES = 4
BACKOFF = 0.5  # the first wait; then 1, 2, 4 seconds
MAX_WAIT = 30.0
PAGE_SIZE = 400
BATCH_SIZE = 100

Item = TypeVar("Item", NewDraft, DraftUpdate)


class _CertificateAdapter(HTTPAdapter):
    """Connections through one SSLContext: our certificate, and only the CAs chosen for it.

    requests would otherwise load its own CA bundle (or `REQUESTS_CA_BUNDLE`) into whatever
    context it is given; here the context alone decides."""

    def __init__(self, context: Any, **kwargs: Any):
        self._context = context
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, ssl_context=self._context, **kwargs)

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        return super().proxy_manager_for(proxy, ssl_context=self._context, **kwargs)

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        # Instead of loading `verify`'s bundle into the context, as requests would:
        conn.cert_reqs, conn.ca_certs, conn.ca_cert_dir = "CERT_REQUIRED", None, None


def trusted_cafile(ca_file: str) -> str | None:
    """The CA bundle for Ladok's server: `ladok.ca_file`, else requests' own environment
    variables, else None (the system's CAs)."""
    return ca_file or os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get(
        "CURL_CA_BUNDLE") or None


class LadokClient:
    """Calls to Ladok's REST API; `requests` counts every HTTP request sent, retries included."""

    def __init__(self, base_url: str, identity: ClientCertificate, *, ca_file: str = "",
                 larosate_id: int | None = None, timeout: tuple[float, float] = TIMEOUT,
                 retries: int = RETRIES, backoff: float = BACKOFF,
                 sleep: Callable[[float], Any] = time.sleep, page_size: int = PAGE_SIZE,
                 batch_size: int = BATCH_SIZE):
        self.base_url = base_url.rstrip("/")
        self.larosate_id = larosate_id
        self.timeout, self.retries, self.backoff, self.sleep = timeout, retries, backoff, sleep
        self.page_size, self.batch_size = page_size, batch_size
        self.requests = 0
        self.session = requests.Session()
        adapter = _CertificateAdapter(client_ssl_context(identity, trusted_cafile(ca_file)))
        self.session.mount("https://", adapter)

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> LadokClient:
        """A client for `settings.ladok`, or LadokNotConfigured / LadokCertificateError."""
        ladok = settings.ladok
        if not ladok.configured:
            raise LadokNotConfigured(
                f"Ladok is not configured: set ladok.url and ladok.certificate in "
                f"{settings.config_path}")
        try:
            identity = load_client_certificate(ladok.certificate, settings.ladok_cert_password)
        except CertificateError as exc:
            raise LadokCertificateError(f"ladok.certificate: {exc}") from None
        return cls(ladok.url, identity, ca_file=ladok.ca_file, larosate_id=ladok.larosate_id,
                   **kwargs)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> LadokClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Reads ------------------------------------------------------------------------------

    def whoami(self) -> LadokUser:
        """Whom Ladok knows the certificate as (a catalogue call)."""
        data = self._call("GET", "/kataloginformation/anvandare/autentiserad", media=KATALOG)
        return LadokUser.from_json(_object(data, "a user"))

    def course_round(self, round_uid: str) -> CourseRound:
        """The round, its own education instance and its modules with their grade scales."""
        data = self._call("GET", f"/resultat/kurstillfalle/{round_uid}/moment")
        return CourseRound.from_json(round_uid, _object(data, "a course round"))

    def grade_scales(self) -> dict[int, GradeScale]:
        """Every grade scale by its id, with its grades' ids."""
        data = _object(self._call("GET", "/resultat/grunddata/betygsskala"), "grade scales")
        scales = (GradeScale.from_json(s) for s in data.get("Betygsskala") or []
                  if isinstance(s, dict))
        return {s.id: s for s in scales}

    def study_results_page(self, instance_uid: str, round_uids: Sequence[str], *,
                           states: Sequence[str] = OPEN_STATES, page: int = 1,
                           limit: int | None = None) -> tuple[list[StudyResult], int]:
        """One page of `study_results` and the total Ladok counts (e.g. to sample a round)."""
        rows, total = next(self._pages(instance_uid, round_uids, states, (), page, limit))
        return [StudyResult.from_json(r) for r in rows], total

    def study_results(self, instance_uid: str, round_uids: Sequence[str], *,
                      states: Sequence[str] = OPEN_STATES,
                      student_uids: Sequence[str] = ()) -> list[StudyResult]:
        """The study results on a module (or a round's own instance) of the students on
        `round_uids`, every page, in states `states`; only `student_uids` when given."""
        if not round_uids:
            return []
        found: dict[str, StudyResult] = {}
        for rows, total in self._pages(instance_uid, round_uids, states, student_uids):
            before = len(found)
            for row in rows:
                study_result = StudyResult.from_json(row)
                found.setdefault(study_result.uid, study_result)
            if not rows or len(found) >= total or len(found) == before:
                break
        return list(found.values())

    def _pages(self, instance_uid: str, round_uids: Sequence[str], states: Sequence[str],
               student_uids: Sequence[str], page: int = 1,
               limit: int | None = None) -> Iterator[tuple[list, int]]:
        path = f"/resultat/studieresultat/rapportera/utbildningsinstans/{instance_uid}/sok"
        while True:
            body: dict[str, Any] = {
                "Filtrering": list(states), "KurstillfallenUID": list(round_uids),
                "OrderBy": list(ORDER_BY), "Page": page, "Limit": limit or self.page_size}
            if student_uids:
                body["StudenterUID"] = list(student_uids)
            data = _object(self._call("PUT", path, body), "study results")
            rows = [r for r in data.get("Resultat") or [] if isinstance(r, dict)]
            total = data.get("TotaltAntalPoster")
            yield rows, total if isinstance(total, int) else len(rows)
            page += 1

    def may_report(self, user: str, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str],
                                                                             bool]:
        """For (study result UID, education instance UID) pairs: may `user` report there?"""
        if not pairs:
            return {}
        body = {"Anvandarnamn": user, "KontrolleraRapporteringsrattighetlista": [
            {"StudieresultatUID": s, "UtbildningsinstansAttRapporteraPaUID": i}
            for s, i in pairs]}
        data = _object(self._call(
            "PUT", "/resultat/resultatrattighet/kontrollerarapporteringsmojlighet", body),
            "reporting rights")
        answers = {(str(a.get("StudieresultatUID")),
                    str(a.get("UtbildningsinstansAttRapporteraPaUID"))): a.get("HarRattighet")
                   is True
                   for a in data.get("KontrolleraRapporteringsrattighetlista") or []
                   if isinstance(a, dict)}
        return {pair: answers.get(pair, False) for pair in pairs}

    # Writes -----------------------------------------------------------------------------

    def create_drafts(self, drafts: Sequence[NewDraft]) -> WriteOutcome[NewDraft]:
        """Create drafts ("utkast") in bulk: `batch_size` a request."""
        return self._write_all("POST", "/resultat/studieresultat/skapa", drafts)

    def update_drafts(self, updates: Sequence[DraftUpdate]) -> WriteOutcome[DraftUpdate]:
        """Change drafts in bulk, each guarded by the `SenasteResultatandring` it was read
        with (a draft changed since is refused as that student's own refusal)."""
        return self._write_all("PUT", "/resultat/studieresultat/uppdatera", updates)

    def _write_all(self, method: str, path: str, items: Sequence[Item]) -> WriteOutcome[Item]:
        if self.larosate_id is None:
            raise LadokNotConfigured("ladok.larosate_id is needed to write to Ladok")
        outcome: WriteOutcome[Item] = WriteOutcome()
        for start in range(0, len(items), self.batch_size):
            self._write(method, path, list(items[start:start + self.batch_size]), outcome)
        return outcome

    def _write(self, method: str, path: str, batch: list[Item],
               outcome: WriteOutcome[Item]) -> None:
        if outcome.error is not None:  # Ladok went away: the rest waits for the next run
            outcome.unsent.extend(batch)
            return
        body = {"LarosateID": self.larosate_id, "Resultat": [i.to_json() for i in batch]}
        try:
            data = _object(self._call(method, path, body, write=True), "the written results")
        except LadokRefusal as refused:
            if _per_line(refused) and len(batch) == 1:
                outcome.refused.append((batch[0], refused.refusal))
                return
            if _per_line(refused):
                # Ladok refuses a whole batch for one line: halve it until each refusal is
                # alone, so the other lines go in.
                self._write(method, path, batch[:len(batch) // 2], outcome)
                self._write(method, path, batch[len(batch) // 2:], outcome)
                return
            error: LadokError = refused  # the request itself is wrong: no line went in
        except LadokError as exc:
            error = exc
        else:
            _confirm(batch, data, outcome)
            return
        # Only an answer lost after sending, or one that cannot be read, may hide a write.
        sent = not isinstance(error, (LadokRefusal, LadokCertificateError,
                                      LadokNotConfigured)) and (
            not isinstance(error, LadokUnavailable) or error.uncertain)
        (outcome.uncertain if sent else outcome.unsent).extend(batch)
        outcome.error = error

    # HTTP -------------------------------------------------------------------------------

    def _call(self, method: str, path: str, body: Any = None, *, media: str = RESULTAT,
              write: bool = False) -> Any:
        """Ladok's JSON answer, after the retries this call allows."""
        url = self.base_url + path
        headers = {"Accept": media}
        data = None
        if body is not None:
            headers["Content-Type"] = f"{media};charset=UTF-8"
            data = json.dumps(body).encode()
        attempt = 0
        while True:
            final = attempt >= self.retries
            attempt += 1
            try:
                response = self._send(method, url, data, headers)
            except _Retryable as fault:
                if final or (write and fault.sent):
                    raise LadokUnavailable(f"Ladok unreachable ({fault}) at {self.base_url}",
                                           uncertain=write and fault.sent) from None
                self._wait(attempt, method, path, str(fault))
                continue
            status = response.status_code
            if status >= 500 or status == 429:
                if final or (write and status not in (429, 503)):
                    raise LadokUnavailable(
                        f"Ladok answered {status} to {method} {path}", status,
                        uncertain=write and status not in (429, 503))
                self._wait(attempt, method, path, f"HTTP {status}", response)
                continue
            return _answer(response, method, path)

    def _send(self, method: str, url: str, data: bytes | None,
              headers: dict[str, str]) -> requests.Response:
        if not url.startswith("https://"):
            raise LadokNotConfigured(f"ladok.url must be an https:// URL, got "
                                     f"{self.base_url!r}")
        self.requests += 1
        try:
            return self.session.request(method, url, data=data, headers=headers,
                                        timeout=self.timeout, allow_redirects=False)
        except requests.exceptions.SSLError as exc:
            raise LadokCertificateError(_tls_problem(exc)) from None
        except requests.exceptions.ConnectTimeout:
            raise _Retryable("connect timeout", sent=False) from None
        except requests.exceptions.ReadTimeout:
            raise _Retryable("no answer in time", sent=True) from None
        except requests.exceptions.ConnectionError as exc:
            if _tls_alert(exc):
                raise LadokCertificateError(_tls_problem(exc)) from None
            raise _Retryable(_connection_fault(exc), sent=not _never_connected(exc)) from None

    def _wait(self, attempt: int, method: str, path: str, fault: str,
              response: requests.Response | None = None) -> None:
        delay = min(MAX_WAIT, self.backoff * 2 ** (attempt - 1))
        after = response.headers.get("Retry-After", "") if response is not None else ""
        if after.isdigit():
            delay = min(MAX_WAIT, max(delay, float(after)))
        log.warning("Ladok %s %s failed (%s); retrying in %.1f s", method, path, fault, delay)
        self.sleep(delay)


class _Retryable(Exception):
    def __init__(self, text: str, sent: bool):
        super().__init__(text)
        self.sent = sent


def _confirm(batch: list[Item], data: dict, outcome: WriteOutcome[Item]) -> None:
    """Each item with the result Ladok answered for it (uncertain when it answered none)."""
    answered = [LadokResult.from_json(r) for r in data.get("Resultat") or []
                if isinstance(r, dict)]
    for item in batch:
        result = next((r for r in answered if item.matches(r)), None)
        if result is None:
            outcome.uncertain.append(item)
        else:
            outcome.confirmed.append((item, result))


def _per_line(refused: LadokRefusal) -> bool:
    """A refusal by one of Ladok's rules, which may concern one line of a batch (rather than
    a refused certificate, a wrong address or an unacceptable request)."""
    return refused.status in (400, 403, 409, 422) and bool(refused.refusal.felgrupp)


def _object(data: Any, what: str) -> dict:
    if not isinstance(data, dict):
        raise LadokError(f"Ladok's answer is not {what} (expected a JSON object)")
    return data


def _answer(response: requests.Response, method: str, path: str) -> Any:
    status = response.status_code
    try:
        body = response.json() if response.content else None
    except ValueError:
        body = None
    if 400 <= status < 500:
        raise LadokRefusal.from_answer(status, body)
    if status >= 300:
        raise LadokError(f"Ladok answered {status} to {method} {path}: check ladok.url")
    if body is None:
        raise LadokError(f"Ladok's answer to {method} {path} is not JSON")
    return body


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, its causes and the errors wrapped in their arguments."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        item = todo.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        todo += [a for a in getattr(item, "args", ()) if isinstance(a, BaseException)]
        todo += [e for e in (item.__cause__, item.__context__, getattr(item, "reason", None))
                 if isinstance(e, BaseException)]


def _tls_alert(exc: BaseException) -> bool:
    return any(isinstance(e, ssl.SSLError) for e in _chain(exc))


def _tls_problem(exc: BaseException) -> str:
    text = " ".join(str(e) for e in _chain(exc))
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return ("Ladok's server certificate is not trusted: set ladok.ca_file to the CA "
                "bundle that signs it")
    return ("Ladok refused the TLS connection: is ladok.certificate the integration "
            "certificate Ladok issued for this environment?")


def _never_connected(exc: BaseException) -> bool:
    return any(isinstance(e, urllib3.exceptions.NewConnectionError) for e in _chain(exc))


def _connection_fault(exc: BaseException) -> str:
    return "connection refused" if _never_connected(exc) else "connection lost"

