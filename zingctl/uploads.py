"""Handing a file to zingd: zingctl opens it here, with the user's own rights, and uploads its
bytes (media.upload, through the client library); the daemon never opens a path. A big file
shows a progress bar on a terminal (on stderr, so --json output stays clean).

``uploaded`` gives the id for one call and drops the upload afterwards unless that call used it
(a dry run, a refused send), so a command leaves nothing behind in the daemon.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from zingctl.inputs import Source
from zingctl.session import Session
from zingd.errors import NotFound

BAR_FROM = 2 << 20  # smaller files are up before a bar could say anything


def _open(source: Path | Source, option: str) -> tuple[BinaryIO, str]:
    if isinstance(source, Source) and source.path is None:  # `-`: what was piped in
        return io.BytesIO(source.data.encode("utf-8")), "stdin"
    path = source.path if isinstance(source, Source) else source
    try:
        return open(path, "rb"), path.name
    except OSError as e:
        raise typer.BadParameter(f"cannot read {path}: {e.strerror or e}", param_hint=option) from None


def upload(session: Session, source: Path | Source, option: str) -> int:
    """Upload a file (or standard input's data); returns its upload id."""
    stream, name = _open(source, option)
    with stream:
        size = os.fstat(stream.fileno()).st_size if not isinstance(stream, io.BytesIO) else 0
        if size < BAR_FROM or not sys.stderr.isatty():
            return session.client().upload(stream, name)["upload_id"]
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(bar_width=30), DownloadColumn(),
                      TransferSpeedColumn(), console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task(escape(f"uploading {name}"), total=size)
            return session.client().upload(stream, name, lambda n: bar.advance(task, n))["upload_id"]


@contextmanager
def uploaded(session: Session, source: Path | Source | None, option: str) -> Iterator[int | None]:
    """The upload id of ``source`` (None: no file) for the call made inside; dropped after it unless used."""
    if source is None:
        yield None
        return
    upload_id = upload(session, source, option)
    try:
        yield upload_id
    finally:
        try:
            session.call("media.discard", {"upload_id": upload_id})
        except NotFound:  # the call used it
            pass
