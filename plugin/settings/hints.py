"""What to say about an unknown key or CANVAS_LADOK_* variable: where the value belongs instead
(a secret in the environment, a key of an enclosing or other table), or the closest known name.

`tables` maps each table of the file to its keys: "" is the top level, "courses.modules" the
modules of a course. A new table of settings needs nothing here beyond its entry there."""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Iterable, Mapping

# How close a name must be to count as a misspelling (difflib's ratio): `trusted_proxy` is
# 0.93 from `trusted_proxies`, `colour` 0.62 from `courses`.
CLOSE = 0.75
# Secrets are matched more strictly: a near miss of an ordinary key is not a secret.
CLOSE_SECRET = 0.85
PREFIX = "CANVAS_LADOK_"
Tables = Mapping[str, Collection[str]]


def closest(name: str, known: Iterable[str], cutoff: float = CLOSE) -> str | None:
    """The known name `name` most likely misspells, or None when none is close."""
    found = difflib.get_close_matches(name, sorted(set(known)), n=1, cutoff=cutoff)
    return found[0] if found else None


def table_of(key: str) -> tuple[str, str]:
    """(table, name) of a dotted key as problems name it: `courses[0].modules[1].credit` →
    (`courses.modules`, `credit`)."""
    table, _, name = re.sub(r"\[\d+\]", "", key).rpartition(".")
    return table, name


def _spelled(key: str) -> str:
    return re.sub(r"[.\-]", "_", key).upper()


def _secret(key: str, secrets: Collection[str], cutoff: float | None = None) -> str | None:
    """The secret variable `key` tries to set: `canvas.token`, `canvas_token`, `mail.password`
    → CANVAS_LADOK_CANVAS_TOKEN, -_CANVAS_TOKEN, -_SMTP_PASSWORD; fuzzy only with `cutoff`."""
    parts = {name.removeprefix(PREFIX): name for name in secrets}
    spelled = _spelled(key)
    if cutoff is not None:
        near = closest(spelled, parts, cutoff)
        return parts[near] if near else None
    if spelled in parts:
        return parts[spelled]
    last = spelled.rsplit("_", 1)[-1]
    if last in ("URL", "KEY", "ID"):  # too common an ending to tell a secret by
        return None
    ending = [part for part in parts if part.endswith(f"_{last}")]
    near = closest(spelled, ending, cutoff=0)  # `mail.password`: SMTP's, not the certificate's
    return parts[near] if near else None


def _parent(table: str) -> str | None:
    """The table a key of `table` belongs to when written above `table`'s header."""
    if not table:
        return None
    return table.rpartition(".")[0]


def _misplaced(name: str, table: str, tables: Tables) -> str | None:
    parent = _parent(table)
    if parent is None or name not in tables.get(parent, ()):
        return None
    if parent:
        return (f"unknown key here: `{name}` belongs to [[{parent}]]; write it above the "
                f"first [[{table}]] of that course")
    return (f"unknown key here: `{name}` is a top-level key; write it above the file's first "
            "[table] header")


def unknown_key(key: str, tables: Tables, secrets: Collection[str]) -> str:
    """The reason for the unknown key `key`, saying where it belongs or what it misspells;
    `secrets` are the names of the secret variables."""
    table, name = table_of(key)
    secret = _secret(key, secrets)
    if secret:
        return (f"unknown key: secrets are not read from the file; set the environment "
                f"variable {secret} instead")
    hint = _misplaced(name, table, tables)
    if hint:
        return hint
    others = [f"{t}.{name}" if t else name for t, keys in tables.items()
              if t != table and name in keys and not t.startswith("courses")]
    if others:
        return f"unknown key; did you mean `{others[0]}`?"
    near = closest(name, tables.get(table, ()))
    if near:
        return f"unknown key; did you mean `{near}`?"
    secret = _secret(key, secrets, CLOSE_SECRET)
    if secret:
        return f"unknown key; secrets are not read from the file: did you mean {secret}?"
    return "unknown key"


def unknown_variable(name: str, known: Iterable[str], tables: Tables) -> str:
    """The reason for an unknown CANVAS_LADOK_* variable: a key only the file sets, or the
    closest known variable."""
    spelled = name.removeprefix(PREFIX)
    for table, keys in tables.items():
        for key in keys:
            dotted = f"{table}.{key}" if table else key
            if _spelled(dotted) == spelled:
                return (f"unknown environment variable: `{dotted}` is set in the "
                        "configuration file only")
    near = closest(name, known)
    if near:
        return f"unknown environment variable; did you mean {near}?"
    return "unknown environment variable"
