"""What Ladok shows for a student's result, as of the last run (Ladok connected only)."""

from __future__ import annotations

from typing import Any

from plugin.export.students import StudentView
from plugin.status import WITHDRAWN

NOT_IN_LADOK = "not_in_ladok"  # exported, but Ladok has not confirmed this version yet


def ladok_view(student: StudentView, code: str, connected: bool) -> dict[str, Any] | None:
    """{"state": utkast | klarmarkerad | attesterad | not_in_ladok, "attested_on", "problem"},
    or None when the course is not connected to Ladok or nothing was exported."""
    latest = student.ledger.get(code)
    if not connected or latest is None:
        return None
    row = student.ladok.get(code)
    confirmed = row is not None and row.version == latest.version
    if latest.status == WITHDRAWN and not (row and row.result_uid):
        return None
    state = row.state if row is not None and (confirmed or latest.status == WITHDRAWN) \
        else NOT_IN_LADOK
    problem = row.problem if row is not None and row.problem_version == latest.version else None
    return {"state": state or NOT_IN_LADOK,
            "attested_on": row.attested_on if row is not None and confirmed else None,
            "problem": problem}
