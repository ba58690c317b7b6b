"""Reading what the user gives beyond plain flags: `-` for stdin, hidden passwords, k=v pairs."""

from __future__ import annotations

import sys

import typer


def text_or_stdin(value: str) -> str:
    """`-` means: read the whole of stdin (one trailing newline dropped, as `echo` adds one)."""
    if value != "-":
        return value
    data = sys.stdin.read()
    return data[:-1] if data.endswith("\n") else data


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
