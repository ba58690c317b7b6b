"""How zingctl speaks: Rich tables on a terminal, ``--json`` / ``--jsonl`` for scripts, errors as exit codes.

A command group is a ``Typer`` from here: each of its commands gets the shared
``--json`` / ``--jsonl`` options and the error mapping (1 daemon error, 3 daemon
unreachable or silent) without declaring either, so a new group only picks its columns.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from zingd.errors import ZingError
from zingd.rpc.client import ConnectionLost, DaemonUnreachable

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document with raw values (for scripts).")]
JsonlOpt = Annotated[bool, typer.Option("--jsonl", help="Print one JSON object per line (for scripts).")]

# A table column: header, and the row key (formatted by its name) or a function of the row.
Column = tuple[str, str | Callable[[dict[str, Any]], Any]]

_format = "table"


def fmt() -> str:
    """The chosen output: table, json or jsonl."""
    return _format


class Typer(typer.Typer):
    """A command group whose every command takes the shared output options and exit codes."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("no_args_is_help", True)
        super().__init__(**kwargs)

    def command(self, *args: Any, **kwargs: Any) -> Callable:
        register = super().command(*args, **kwargs)

        def decorate(fn: Callable) -> Callable:
            register(_with_shared_options(fn))
            return fn
        return decorate


def _with_shared_options(fn: Callable) -> Callable:
    """``fn`` plus --json / --jsonl in its signature (Typer reads it), and daemon errors as exit codes."""
    sig = inspect.signature(fn, eval_str=True)

    @functools.wraps(fn)
    def run(*args: Any, as_json: bool = False, as_jsonl: bool = False, **kwargs: Any) -> Any:
        global _format
        if as_json and as_jsonl:
            raise typer.BadParameter("choose one of --json and --jsonl")
        _format = "json" if as_json else "jsonl" if as_jsonl else "table"
        try:
            return fn(*args, **kwargs)
        except (DaemonUnreachable, ConnectionLost) as e:
            error(str(e), "unreachable", hint="is zingd running? Start it with `zingd`, or point --socket / "
                  "ZING_SOCKET at its socket.")
            raise typer.Exit(3) from None
        except TimeoutError:
            error("zingd did not answer in time", "timeout", hint="see the daemon's log; is it overloaded?")
            raise typer.Exit(3) from None
        except ZingError as e:
            hint = "log in with `zingctl login`" if e.kind == "unauthenticated" else None
            error(e.message, e.kind, hint=hint, details=e.details)
            raise typer.Exit(1) from None

    extra = [inspect.Parameter("as_json", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=JsonOpt),
             inspect.Parameter("as_jsonl", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=JsonlOpt)]
    run.__signature__ = sig.replace(parameters=[*sig.parameters.values(), *extra])
    return run


# -- values --------------------------------------------------------------------
def when(ts: float | None) -> str:
    """Local time: the clock alone for today, else date and minute (tables are narrow)."""
    if not ts:
        return ""
    t = datetime.fromtimestamp(ts)
    return t.strftime("%H:%M:%S") if t.date() == datetime.now().date() else t.strftime("%Y-%m-%d %H:%M")


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


# -- printing ------------------------------------------------------------------
def console() -> Console:
    """Made per use so the terminal (or a test's captured stdout) is looked up at print time.

    Off a terminal, tables keep their natural width: a pipe gets whole rows, one per line.
    """
    wide = not sys.stdout.isatty() and "COLUMNS" not in os.environ
    return Console(highlight=False, width=8192 if wide else None)


def raw(data: Any, one_line: bool = False) -> None:
    """Raw values: indented for --json, one line for --jsonl (and for each entry of a stream)."""
    one_line = one_line or _format == "jsonl"
    typer.echo(json.dumps(data, indent=None if one_line else 2, ensure_ascii=False))


def table(items: Sequence[dict[str, Any]], columns: Sequence[Column], title: str | None = None) -> Table:
    t = Table(title=title, title_justify="left", header_style="bold", box=box.SIMPLE_HEAD)
    for header, _ in columns:
        t.add_column(header)
    for row in items:
        t.add_row(*(Text(cell(get, row.get(get)) if isinstance(get, str) else cell("", get(row)))
                    for _, get in columns))
    return t


def rows(items: Sequence[dict[str, Any]], columns: Sequence[Column], title: str | None = None,
         empty: str = "nothing to show") -> None:
    """A list: a table, a JSON array, or one JSON object per line."""
    if _format == "json":
        raw(list(items))
    elif _format == "jsonl":
        for one in items:
            raw(one)
    elif items:
        console().print(table(items, columns, title))
    else:
        console().print(Text(empty, style="dim"))


def item(obj: dict[str, Any], title: str | None = None,
         tables: dict[str, Sequence[Column]] | None = None) -> None:
    """One object: a table of its set fields (lists named in ``tables`` as their own tables), or JSON."""
    if _format != "table":
        raw(obj)
        return
    tables = tables or {}
    t = Table(title=title, title_justify="left", show_header=False, box=None, padding=(0, 2, 0, 0))
    t.add_column(style="bold")
    t.add_column(overflow="fold")
    for key, value in obj.items():
        if key not in tables and value not in (None, "", {}, []):
            t.add_row(key, Text(cell(key, value)))
    out = console()
    out.print(t)
    for key, columns in tables.items():
        out.print()
        out.print(table(obj.get(key) or [], columns, title=key))


def done(obj: Any, message: str) -> None:
    """The result of an action: a sentence on a terminal, the daemon's object for scripts."""
    if _format == "table":
        console().print(Text(message))
    else:
        raw(obj)


def line(obj: dict[str, Any], text: Text | str) -> None:
    """One entry of a live stream, flushed at once: JSON lines for scripts (--json too), else text."""
    if _format == "table":
        console().print(text)
    else:
        raw(obj, one_line=True)


def _stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def note(message: str) -> None:
    """A hint for the person at the terminal, on stderr so it never mixes into piped output."""
    if _format == "table":
        _stderr().print(Text(message, style="dim"))


def error(message: str, kind: str | None = None, hint: str | None = None,
          details: dict[str, Any] | None = None) -> None:
    """An error on stderr: a sentence (plus hint), or a JSON object when the output is JSON."""
    if _format != "table":
        typer.echo(json.dumps({"error": {"message": message, "kind": kind, "details": details or {}}}), err=True)
        return
    err = _stderr()
    err.print(Text.assemble(("error: ", "bold red"), message, (f" [{kind}]" if kind else "", "dim")))
    if hint:
        err.print(Text(f"hint: {hint}", style="dim"))
