"""Rows out whole, for other programs: CSV, a JSON array or JSON lines, on stdout or into a file.

One writer for every export (contact lists, campaign reports), so the formats read the
same everywhere. A file is written with ``write_atomic``: whoever opens it, even after a
crash, finds the previous export or this one, never half of it.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from zingd.durable import write_atomic

FORMATS = ("csv", "json", "jsonl")


def export(rows: Sequence[dict[str, Any]], fmt: str, csv_fields: Sequence[str], to: Path | None) -> Path | None:
    """Write ``rows`` in ``fmt`` to stdout, or to the file ``to``; returns the file's full path, if one.

    CSV has the ``csv_fields`` columns in that order (other keys left out, None as empty);
    JSON keeps every value as the daemon gave it.
    """
    buf = io.StringIO(newline="")
    if fmt == "csv":
        writer = csv.DictWriter(buf, fieldnames=csv_fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    elif fmt == "jsonl":
        buf.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    else:
        buf.write(json.dumps(list(rows), indent=2, ensure_ascii=False) + "\n")
    if to is None:
        sys.stdout.write(buf.getvalue())
        sys.stdout.flush()
        return None
    path = to.expanduser().resolve()
    write_atomic(path, buf.getvalue())
    return path
