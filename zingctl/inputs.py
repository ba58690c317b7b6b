"""Reading what the user gives beyond plain flags: `-` for standard input, files, hidden passwords, k=v pairs.

Every TEXT|- and FILE|- parameter is parsed by ``text_or_stdin`` or ``FileOrStdin`` (as
their Typer ``parser``), so `-` means the same everywhere: all of standard input, taken by
one parameter per command. Text, whether typed in, piped or read from a file, loses the
one final newline that `echo` and editors add; a file handed to the daemon (``zingctl.uploads``)
goes as it is.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.main import get_current_context

_STDIN_TAKEN = "zingctl.stdin_taken"  # in the context's meta: a `-` of this command has read stdin


def _stdin() -> str:
    """All of standard input, for the first `-` of a command; a second one would silently get nothing.

    A Typer parser is given only the value, so the command's context is click's current one.
    """
    meta = get_current_context().meta
    if meta.get(_STDIN_TAKEN):
        raise typer.BadParameter("only one value per command can be `-`: standard input is already read")
    meta[_STDIN_TAKEN] = True
    return sys.stdin.read()


def _text(data: str) -> str:
    return data[:-1] if data.endswith("\n") else data


def text_or_stdin(value: str) -> str:
    """A TEXT|- parameter: the text as given, or with `-` what standard input holds."""
    return _text(_stdin()) if value == "-" else value


@dataclass(frozen=True)
class Source:
    """What a FILE|- parameter names: a file on this machine, or what was piped to standard input."""

    path: Path | None  # None: it came from stdin
    data: str = ""     # what stdin held

    @property
    def name(self) -> str:
        return str(self.path) if self.path is not None else "-"

    def text(self) -> str:
        """Read while parsing (``FileOrStdin(Source.text)``), so an unreadable file is reported as bad usage
        of that very parameter."""
        if self.path is None:
            return _text(self.data)
        try:
            return _text(self.path.read_text(encoding="utf-8"))
        except OSError as e:
            raise typer.BadParameter(f"cannot read {self.path}: {e.strerror or e}") from None


class FileOrStdin:
    """A FILE|- parameter: a ``Source``, or what ``read`` makes of it (its text, a JSON document)."""

    def __init__(self, read: Callable[[Source], Any] | None = None) -> None:
        self.read = read

    def __call__(self, value: str) -> Any:
        if value == "-":
            source = Source(None, _stdin())
        else:
            path = Path(value).expanduser().resolve()
            if not path.is_file():
                raise typer.BadParameter(f"no file {path}")
            source = Source(path)
        return self.read(source) if self.read else source


def json_document(kind: type[dict] | type[list]) -> Callable[[Source], Any]:
    """Reads a Source as one JSON object (``dict``) or array (``list``), for ``FileOrStdin``."""
    def read(source: Source) -> Any:
        try:
            data = json.loads(source.text())
        except ValueError as e:
            raise typer.BadParameter(f"not JSON: {e}") from None
        if not isinstance(data, kind):
            raise typer.BadParameter(f"expected a JSON {'array' if kind is list else 'object'}")
        return data
    return read


PasswordStdin = Annotated[bool, typer.Option(
    "--password-stdin", help="Read the password from the first line of stdin instead of prompting.")]


def password(from_stdin: bool, confirm: bool = False, prompt: str = "Password") -> str:
    """From the first line of stdin (for scripts), else a hidden prompt."""
    if from_stdin:
        value = sys.stdin.readline().rstrip("\r\n")
        if not value:
            raise typer.BadParameter("no password on stdin", param_hint="--password-stdin")
        return value
    return typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm)


def pairs(values: list[str], option: str) -> dict[str, str]:
    """`KEY=VALUE` strings as a dict; a bad one is a usage error."""
    out: dict[str, str] = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"expected KEY=VALUE, got {value!r}", param_hint=option)
        out[key.strip()] = val
    return out
