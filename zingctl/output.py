"""How zingctl speaks: Rich tables on a terminal, raw JSON (``--json``) or JSON lines (``--jsonl``) for scripts.

A command is handed an ``Output`` for the format its --json / --jsonl chose (see
``zingctl.commands``); the value formatting below is plain functions, the same
whatever the format.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

# A table column: header, and the row key (formatted by its name) or a function of the row.
Column = tuple[str, str | Callable[[dict[str, Any]], Any]]


# -- values --------------------------------------------------------------------
class _Times:
    """The zone times are shown in: the company's (``show_times_in``), named under every table that
    shows one; the machine's when the daemon can't say (not logged in, not running). Asked the first
    time a time is drawn, so a command that shows none costs no call."""

    def __init__(self, source: Callable[[], tuple[str, tzinfo] | None] = lambda: None) -> None:
        self.source = source
        self._zone: tuple[str, tzinfo] | None = None
        self._asked = False
        self.shown: str | None = None  # the zone's name, once a time was drawn in it since the last caption

    def zone(self) -> tuple[str, tzinfo] | None:
        if not self._asked:
            self._asked = True
            try:
                self._zone = self.source()
            except Exception:  # the daemon can't say who we are: the machine's zone, unnamed
                self._zone = None
        return self._zone

    def caption(self) -> str | None:
        """``times in America/Sao_Paulo`` under a table that showed a time, else None."""
        name, self.shown = self.shown, None
        return f"times in {name}" if name else None


_times = _Times()


def show_times_in(source: Callable[[], tuple[str, tzinfo] | None]) -> None:
    global _times
    _times = _Times(source)


def when(ts: float | None) -> str:
    """The company's time: the clock alone for today, else date and minute (tables are narrow)."""
    if not ts:
        return ""
    zone = _times.zone()
    tz = zone[1] if zone else None
    if zone is not None:
        _times.shown = zone[0]
    t = datetime.fromtimestamp(ts, tz)
    return t.strftime("%H:%M:%S") if t.date() == datetime.now(tz).date() else t.strftime("%Y-%m-%d %H:%M")


def duration(seconds: float) -> str:
    s = int(seconds)
    if s < 60:
        return f"{seconds:.0f}s"
    if s < 3600:
        return f"{s // 60}m {s % 60}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


def size(n: float) -> str:
    for unit in ("B", "KiB", "MiB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def cell(key: str, value: Any) -> str:
    """A value as a table shows it: times and sizes readable, structures as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if key.endswith("_at") or key == "ts":
            return when(value)
        if key.endswith("_s"):
            return duration(value)
        if key.endswith("_bytes"):
            return size(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False) if value else ""
    return str(value)


# -- renderables ---------------------------------------------------------------
def console() -> Console:
    """Made per use so the terminal (or a test's captured stdout) is looked up at print time.

    Off a terminal, tables keep their natural width: a pipe gets whole rows, one per line.
    """
    wide = not sys.stdout.isatty() and "COLUMNS" not in os.environ
    return Console(highlight=False, width=8192 if wide else None)


def _stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def table(items: Sequence[dict[str, Any]], columns: Sequence[Column], title: str | None = None) -> Table:
    t = Table(title=title, title_justify="left", header_style="bold", box=box.SIMPLE_HEAD)
    for header, _ in columns:
        t.add_column(header)
    for row in items:
        t.add_row(*(Text(cell(get, row.get(get)) if isinstance(get, str) else cell("", get(row)))
                    for _, get in columns))
    t.caption, t.caption_justify = _times.caption(), "left"
    return t


# -- printing ------------------------------------------------------------------
@dataclass(frozen=True)
class Output:
    """Printing in one command's format: ``table`` for people, ``json`` or ``jsonl`` for scripts."""

    format: str = "table"

    @property
    def for_people(self) -> bool:
        """Tables and sentences, not raw values: what a command checks before drawing anything else."""
        return self.format == "table"

    def raw(self, data: Any, one_line: bool = False) -> None:
        """Raw values: indented for --json, one line for --jsonl (and for each entry of a stream)."""
        one_line = one_line or self.format == "jsonl"
        typer.echo(json.dumps(data, indent=None if one_line else 2, ensure_ascii=False))

    def rows(self, items: Sequence[dict[str, Any]], columns: Sequence[Column], title: str | None = None,
             empty: str = "nothing to show") -> None:
        """A list: a table, a JSON array, or one JSON object per line."""
        if self.format == "json":
            self.raw(list(items))
        elif self.format == "jsonl":
            for one in items:
                self.raw(one)
        elif items:
            console().print(table(items, columns, title))
        else:
            console().print(Text(empty, style="dim"))

    def item(self, obj: dict[str, Any], title: str | None = None,
             tables: dict[str, Sequence[Column]] | None = None) -> None:
        """One object: a table of its set fields (lists named in ``tables`` as their own tables), or JSON."""
        if not self.for_people:
            self.raw(obj)
            return
        tables = tables or {}
        t = Table(title=title, title_justify="left", show_header=False, box=None, padding=(0, 2, 0, 0))
        t.add_column(style="bold")
        t.add_column(overflow="fold")
        for key, value in obj.items():
            if key not in tables and value not in (None, "", {}, []):
                t.add_row(key, Text(cell(key, value)))
        t.caption, t.caption_justify = _times.caption(), "left"
        out = console()
        out.print(t)
        for key, columns in tables.items():
            out.print()
            out.print(table(obj.get(key) or [], columns, title=key))

    def done(self, obj: Any, message: str) -> None:
        """The result of an action: a sentence on a terminal, the daemon's object for scripts."""
        if self.for_people:
            console().print(Text(message))
        else:
            self.raw(obj)

    def line(self, obj: dict[str, Any], text: Text | str) -> None:
        """One entry of a live stream, flushed at once: JSON lines for scripts (--json too), else text,
        one line per entry whatever the width (a terminal wraps it, a pipe keeps it whole)."""
        if self.for_people:
            console().print(text, soft_wrap=True)
        else:
            self.raw(obj, one_line=True)

    def note(self, message: str) -> None:
        """A hint for the person at the terminal, on stderr so it never mixes into piped output."""
        if self.for_people:
            _stderr().print(Text(message, style="dim"))

    def status(self, message: str) -> None:
        """A change in a long-running command's state (a lost daemon, a reconnect), on stderr in every
        format: a script reading stdout still gets only data, and its log says why the stream paused."""
        _stderr().print(Text(message, style="dim" if self.for_people else ""))

    def error(self, message: str, kind: str | None = None, hint: str | None = None,
              details: dict[str, Any] | None = None) -> None:
        """An error on stderr: a sentence (plus hint), or a JSON object when the output is JSON."""
        if not self.for_people:
            typer.echo(json.dumps({"error": {"message": message, "kind": kind, "details": details or {}}}), err=True)
            return
        err = _stderr()
        err.print(Text.assemble(("error: ", "bold red"), message, (f" [{kind}]" if kind else "", "dim")))
        if hint:
            err.print(Text(f"hint: {hint}", style="dim"))
