"""Plain-text tables for the command line: first column left-aligned, the others right-aligned."""

from __future__ import annotations

from typing import Sequence


def table(rows: Sequence[Sequence[object]], header: Sequence[str]) -> str:
    """Rows under a header and a rule of dashes, columns separated by two spaces.

    >>> print(table([["a", 1], ["bb", 22]], ["x", "y"]))
    x    y
    --  --
    a    1
    bb  22
    """
    cells = [[str(c) for c in r] for r in [header, *rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]

    def line(r: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()

    return "\n".join([line(cells[0]), line(["-" * w for w in widths])] + [line(r) for r in cells[1:]])
