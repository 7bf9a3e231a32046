"""One worksheet streamed row by row into an .xlsx file (XlsxWriter in constant-memory mode).

Rows go straight to a temporary file in the run's own folder (owner-only, removed with it),
so memory stays flat however many rows a run has. Text is always written as text, never as a
formula or an error code.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Collection, Sequence
from pathlib import Path

from xlsxwriter import Workbook

Cell = str | float | int | dt.date | None


class ResultSheet:
    """A one-sheet workbook at `path`; `text_columns` are formatted as text (ids)."""

    def __init__(self, path: Path, title: str, headers: Sequence[str],
                 widths: Sequence[float], text_columns: Collection[int]) -> None:
        """Start the workbook: header row, column widths, the header frozen."""
        self._book = Workbook(str(path), {"constant_memory": True,
                                          "tmpdir": str(path.parent)})
        self._sheet = self._book.add_worksheet(title)
        text = self._book.add_format({"num_format": "@"})
        self._date = self._book.add_format({"num_format": "yyyy-mm-dd"})
        self._formats = [text if c in text_columns else None for c in range(len(headers))]
        for column, width in enumerate(widths):
            self._sheet.set_column(column, column, width)
        self._sheet.freeze_panes(1, 0)
        for column, header in enumerate(headers):
            self._sheet.write_string(0, column, header)
        self._row = 0

    def append(self, cells: Sequence[Cell]) -> None:
        """Write the next row: text as text, numbers as numbers, dates with a date format."""
        self._row += 1
        row, sheet = self._row, self._sheet
        for column, (value, style) in enumerate(zip(cells, self._formats, strict=True)):
            if value is None:
                continue
            if isinstance(value, str):
                sheet.write_string(row, column, value, style)
            elif isinstance(value, dt.date):
                sheet.write_datetime(row, column, value, self._date)
            else:
                sheet.write_number(row, column, value, style)

    def save(self) -> None:
        """Assemble and write the file (its temporary row file is removed)."""
        self._book.close()

    def discard(self) -> None:
        """Give up an unsaved workbook: close its temporary row file."""
        rows = getattr(self._sheet, "row_data_fh", None)  # the caller removes its folder
        if rows is not None:
            with contextlib.suppress(OSError):
                rows.close()
