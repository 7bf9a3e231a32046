"""Inserting many plain rows at the driver's speed (the export run's ledger rows)."""

from __future__ import annotations

from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Table, insert


def insert_many(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert `rows` (dicts with the same keys, hashable values) in one driver executemany.

    Core's executemany processes every value of every row in Python; here each column's bind
    processing (the UTC datetimes, say) runs once per distinct value, and the driver gets
    plain tuples (or dicts, for a named paramstyle).
    """
    if not rows:
        return
    dialect = connection.dialect
    keys = list(rows[0])
    compiled = insert(table).compile(dialect=dialect, column_keys=keys)
    order = list(compiled.positiontup) if compiled.positiontup else keys
    params = list(map(itemgetter(*order), rows)) if len(order) > 1 else [
        (row[order[0]],) for row in rows]
    for index, name in enumerate(order):
        process = table.c[name].type.bind_processor(dialect)
        if process is not None:
            params = _processed(params, index, process)
    if not compiled.positiontup:
        params = [dict(zip(order, values, strict=True)) for values in params]
    connection.exec_driver_sql(compiled.string, params)


def _processed(params: list[tuple], index: int, process) -> list[tuple]:
    """`params` with the value at `index` bind-processed (each distinct value once)."""
    done: dict[Any, Any] = {}
    out = []
    for values in params:
        value = values[index]
        if value not in done:
            done[value] = process(value)
        out.append(values[:index] + (done[value],) + values[index + 1:])
    return out
