"""A list as shown (filtered, sorted) to a file, for a spreadsheet or a script: CSV with
a header, or JSON records, each row with its group and the id it points at."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from rich.text import Text

from tui.widgets.lists import Row


def _plain(cell: object) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


def export_rows(
    rows: Sequence[Row], labels: Sequence[str], fmt: str, stem: str, folder: Path | None = None
) -> Path:
    """Write ``rows`` (columns ``labels``) as ``fmt`` (csv or json) to a new file named
    from ``stem`` and the time, in ``folder`` (the working directory); its path."""
    records = [
        {
            "group": row.group,
            **{label: _plain(cell).strip() for label, cell in zip(labels, row.cells, strict=False)},
            "id": row.target or "",
        }
        for row in rows
    ]
    safe = re.sub(r"[^\w.-]+", "-", stem).strip("-")
    path = (folder or Path.cwd()) / f"{safe}-{datetime.now():%Y%m%d-%H%M%S}.{fmt}"
    with path.open("x", newline="", encoding="utf-8") as out:
        if fmt == "json":
            json.dump(records, out, indent=2, ensure_ascii=False)
        else:
            writer = csv.DictWriter(out, fieldnames=["group", *labels, "id"])
            writer.writeheader()
            writer.writerows(records)
    return path
