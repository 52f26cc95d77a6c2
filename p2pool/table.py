"""Plain-text tables for the command line: columns padded to their widest cell, numbers right-aligned."""

from __future__ import annotations

from collections.abc import Sequence

_NUMERIC = set("0123456789.,-+ %")


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, header: bool = True) -> str:
    """``rows`` under ``headers`` (left out with ``header=False``), two spaces between columns."""
    lines = [list(headers)] if header else []
    lines += [list(row) for row in rows]
    if not lines:
        return ""
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    right = [bool(rows) and all(row[i] and set(row[i]) <= _NUMERIC for row in rows) for i in range(len(widths))]
    out = []
    for line in lines:
        cells = [cell.rjust(w) if r else cell.ljust(w) for cell, w, r in zip(line, widths, right, strict=True)]
        out.append("  ".join(cells).rstrip())
    if header:
        out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out)
