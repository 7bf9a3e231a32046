"""Ladok benchmark: an export of N students' new results as drafts to the fake Ladok, against
the same export to files only.

Usage: python benchmarks/ladok.py [--students 2000] [--rounds 3]

The fake Ladok (tests/fake_ladok.py: HTTPS with a client certificate made here) runs in a
process of its own, so its work is not counted as the export's. Both exports decide the same
results (three modules per student; the course grades wait for attestation in both). Prints
the Ladok requests against their bound (reads: one per round, one for the grade scales, one
per module and page of study results; writes: at most one per 100 results) and the time of
the drafts export against the files-only one (target ≤ 2×), each the median of --rounds runs
on fresh SQLite databases. Setting up the data is not timed.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from export import (  # noqa: E402  (the export benchmark's data and timing)
    COURSE_START,
    NOW,
    Target,
    Took,
    make_target,
    open_store,
    prepare,
    settings_of,
    timed,
)

from plugin.export.run import run_export  # noqa: E402

MODULES = [("2205", "GU"), ("2215", "GU"), ("2225", "AF")]  # config/canvas-ladok.toml
PAGE = 400  # the client's page of study results
BATCH = 100  # the client's bulk write
MAX_RATIO = 2.0
WRITES = ("POST /resultat/studieresultat/skapa", "PUT /resultat/studieresultat/uppdatera")


def serve_fake(folder: str, students: int, pipe) -> None:
    """The fake Ladok with one round of `students` students (the benchmark's identities), in a
    process of its own: sends (url, ca, client pem, round uid), then on any message the
    requests it answered."""
    from tests.fake_ladok import FakeLadok, _shape
    from tests.fake_ladok_data import Student

    fake = FakeLadok(Path(folder) / "ladok").start()
    round_ = fake.data.add_round("DV1531", COURSE_START, MODULES)
    for index in range(students):
        fake.data.register(Student(str(uuid.uuid5(uuid.NAMESPACE_OID, str(index))),
                                   f"19900101{index:04d}", f"Förnamn{index}",
                                   f"Efternamn{index:05d}"), round_)
    pipe.send((fake.url, str(fake.ca_file), str(fake.client_pem), round_.uid))
    ready = time.process_time()
    pipe.recv()
    busy = time.process_time() - ready
    with fake.lock:
        counts = Counter(f"{s.method} {_shape(s.path)}" for s in fake.seen)
        lines = sum(len(s.body["Resultat"]) for s in fake.seen
                    if s.method in ("POST", "PUT") and isinstance(s.body, dict)
                    and "Resultat" in s.body)
    pipe.send((dict(counts), lines, busy))
    fake.stop()


def drafts_target(folder: Path, label: str, fake: tuple[str, str, str, str]) -> Target:
    """A measurement in "drafts" mode on the fake's round."""
    url, ca, pem, round_uid = fake
    target = make_target(folder, label, None, "normal")
    text = target.config.read_text(encoding="utf-8").replace(
        "final_grade_delay_days = 0", f'final_grade_delay_days = 0\nladok_rounds = ["{round_uid}"]')
    target.config.write_text(
        text + f'\n[ladok]\nurl = "{url}"\ncertificate = "{pem}"\nca_file = "{ca}"\n'
        f'mode = "drafts"\nlarosate_id = 99\n', encoding="utf-8")
    return target


def files_target(folder: Path, label: str) -> Target:
    """A files-only measurement deciding the same results (course grades wait here too)."""
    target = make_target(folder, label, None, "normal")
    text = target.config.read_text(encoding="utf-8")
    target.config.write_text(text.replace("final_grade_delay_days = 0",
                                          "final_grade_delay_days = 7"), encoding="utf-8")
    return target


def one_run(target: Target, students: int) -> tuple[Took, dict]:
    """Seed, then time one export; (wall and CPU seconds, its counts and Ladok stage)."""
    prepare(target, students)
    settings = settings_of(target)
    store = open_store(settings)
    try:
        took, summary = timed(lambda: run_export(store, settings, trigger="cli", now=NOW))
    finally:
        store.dispose()
    return took, {"counts": summary.counts, "ladok": summary.ladok}


def load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    files_times, drafts_times, ladok = [], [], {}
    with tempfile.TemporaryDirectory(prefix="ladok-bench-") as tmp:
        folder = Path(tmp)
        for n in range(args.rounds):
            files_s, files = one_run(files_target(folder, f"files{n}"), args.students)
            here, there = multiprocessing.Pipe()
            child = multiprocessing.get_context("spawn").Process(
                target=serve_fake, args=(str(folder / f"fake{n}"), args.students, there))
            child.start()
            fake = here.recv()
            drafts_s, ladok = one_run(drafts_target(folder, f"drafts{n}", fake), args.students)
            here.send("done")
            requests, lines, fake_cpu = here.recv()
            child.join()
            files_times.append(files_s)
            drafts_times.append(drafts_s)
            print(f"round {n + 1}: files {files_s.wall:.2f} s (CPU {files_s.cpu:.2f}), drafts "
                  f"{drafts_s.wall:.2f} s (CPU {drafts_s.cpu:.2f}; the fake Ladok's CPU "
                  f"{fake_cpu:.2f}) ({load()})", file=sys.stderr)
    stage = ladok["ladok"]
    results = files["counts"].get("new", 0)
    assert ladok["counts"] == files["counts"], (ladok["counts"], files["counts"])
    assert stage["sent"] == results and not stage["refused"] and not stage["error"], stage
    writes = sum(requests.get(k, 0) for k in WRITES)
    reads = sum(requests.values()) - writes
    instances = len(MODULES)  # the course grade waits for attestation: not searched
    read_bound = 1 + 1 + instances * math.ceil(args.students / PAGE)
    write_bound = math.ceil(results / BATCH)
    wall = [statistics.median(t.wall for t in times) for times in (drafts_times, files_times)]
    cpu = [statistics.median(t.cpu for t in times) for times in (drafts_times, files_times)]
    ratio = wall[0] / wall[1]
    print(f"Ladok export of {args.students} students, {results} new results "
          f"({lines} lines written to Ladok); {load()}")
    for kind, count in sorted(requests.items()):
        print(f"  {count:5d}  {kind}")
    print(f"reads  {reads:5d}  bound {read_bound:5d} (1 round + 1 grade scales + {instances} "
          f"modules x {math.ceil(args.students / PAGE)} pages)  "
          f"{'ok' if reads <= read_bound else 'FAIL'}")
    print(f"writes {writes:5d}  bound {write_bound:5d} (one per {BATCH} results)  "
          f"{'ok' if writes <= write_bound else 'FAIL'}")
    print(f"time   drafts {wall[0]:.2f} s, files only {wall[1]:.2f} s (medians of "
          f"{args.rounds}): ratio {ratio:.2f} (target <= {MAX_RATIO})  "
          f"{'ok' if ratio <= MAX_RATIO else 'FAIL'}")
    print(f"CPU    drafts {cpu[0]:.2f} s, files only {cpu[1]:.2f} s (this process; the fake "
          f"Ladok's own work is in its process): ratio {cpu[0] / cpu[1]:.2f}")
    good = reads <= read_bound and writes <= write_bound and ratio <= MAX_RATIO
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
