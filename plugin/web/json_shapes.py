"""What the JSON API answers for export lines, dry runs and runs (pages list runs alike)."""

from __future__ import annotations

import dataclasses
import json

from plugin.store.models import ExportRun


def line_json(line) -> dict:
    """An export line as JSON."""
    out = dataclasses.asdict(line)
    out["exam_date"] = line.exam_date.isoformat()
    return out


def summary_json(summary) -> dict:
    """A dry run's results as JSON; `pending_events` received, not yet applied (the results
    are decided as if they were)."""
    return {
        "dry_run": True, "counts": summary.counts, "results": [line_json(x) for x in summary.lines],
        "held_back": summary.held_back, "waiting": summary.waiting,
        "manual": [{**m, "codes": [getattr(n, "code", None) for n in m["notes"]]}
                   for m in summary.manual],
        "pending_events": summary.pending_events,
        "pending_counted": summary.pending_counted,
        "unmapped_assignments": [{"course": c, "assignment_id": a}
                                 for c, a in sorted(summary.unmapped)],
        "renamed_assignments": [{**r, "code": getattr(r["note"], "code", None)}
                                for r in summary.renamed],
        "warnings": summary.warnings,
    }


def run_json(run: ExportRun) -> dict:
    """An export run as JSON."""
    return {
        "id": run.id, "created_at": run.created_at.isoformat(), "course": run.course_id,
        "trigger": run.trigger, "schedule_date": run.schedule_date, "job": run.job_id,
        "counts": json.loads(run.counts or "{}"), "files": json.loads(run.files or "[]"),
        "nothing_new": json.loads(run.files or "[]") == [],
    }
