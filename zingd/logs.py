"""Where zingd's log lines go and how they look: stderr, as ``key=value`` text (journald, a
terminal) or as one JSON object per line (``log_format = "json"``) for log shippers, which then
need no parsing rules and never split a traceback into separate records.
"""

from __future__ import annotations

import json
import logging
import sys
import time

FORMATS = ("text", "json")
TEXT = "%(asctime)s level=%(levelname)s logger=%(name)s msg=%(message)s"
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "msg"}``, plus ``exc`` (the traceback) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        ms = int(record.msecs)
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{ms:03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def setup(level: str, fmt: str) -> None:
    """Send every logger to stderr at ``level`` in format ``fmt``; a bad value raises ValueError."""
    level = level.upper()
    if level not in LEVELS:
        raise ValueError(f"log_level must be one of {', '.join(LEVELS)}, not {level!r}")
    if fmt not in FORMATS:
        raise ValueError(f"log_format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT))
    logging.basicConfig(level=level, handlers=[handler], force=True)
