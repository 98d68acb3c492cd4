"""CSV files people open in a spreadsheet, written so no cell runs as a formula.

A spreadsheet treats a cell that starts with = + - or @ as a formula (and some treat a leading
tab or carriage return the same way), so a child's identifier or a typed answer such as
`=HYPERLINK(...)` would run on the manager's computer. Every text cell that starts with one of
them is written with a single quote in front, which the spreadsheet shows as text (OWASP's "CSV
injection" advice). Numbers are left alone: a count of -1 runs nothing. Every CSV download in
Homeward goes through here (the statutory returns, the dashboard's tables).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> object:
    """The cell as written: text starting like a formula gets a leading single quote; None is
    an empty cell; anything else (numbers) as it is."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def rows_to_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """The whole file as text: the header, then each row, every cell neutralised. Lines end in
    CRLF (RFC 4180, which is what the csv module writes)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([neutralise(cell) for cell in header])
    writer.writerows([neutralise(cell) for cell in row] for row in rows)
    return out.getvalue()
