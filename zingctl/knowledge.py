"""`zingctl knowledge`: the FAQ entries and documents the bot and the copilot answer from.

A document is read here, on the caller's machine, and handed to the daemon as text: zingd never
opens a path it is given. Only UTF-8 text is taken (Markdown's headings cut it into sections);
anything else is refused before it is sent, with what is wrong.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from zingctl import inputs, output
from zingctl.commands import Typer
from zingctl.output import Output
from zingctl.session import Session

app = Typer(name="knowledge", help="FAQ entries and documents the assistant answers from.")

# A document is at most 200,000 characters (the daemon says so); in UTF-8 that is at most this.
MAX_BYTES = 800_000
_TITLE = re.compile(r"^ {0,3}#[ \t]+(.+?)[ \t#]*$", re.MULTILINE)

COLUMNS: list[output.Column] = [
    ("ID", "id"), ("Kind", "kind"), ("Title", "title"), ("Size", lambda e: f"{e['size']:,} chars"),
    ("Chunks", "chunks"), ("Embedded", "embedded"), ("Source", "source"), ("Updated", "updated_at"),
]
PART_COLUMNS: list[output.Column] = [
    ("#", "seq"), ("Section", "context"), ("Embedded", lambda p: "yes" if p["embedded"] else "no"),
    ("Text", lambda p: _short(p["body"], 80)),
]
HIT_COLUMNS: list[output.Column] = [
    ("ID", "id"), ("Kind", "kind"), ("Section", "context"), ("Score", lambda h: f"{h['score']:.3f}"),
    ("Excerpt", lambda h: _short(h["excerpt"], 100)),
]

EntryId = Annotated[int, typer.Argument(help="Knowledge entry id (zingctl knowledge list).")]


def _short(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[:width - 1] + "…"


@dataclass(frozen=True)
class Document:
    """A text file (or standard input) as the daemon is handed it."""

    name: str   # the file's name, "" for standard input
    text: str


def _decode(data: bytes, where: str) -> str:
    if len(data) > MAX_BYTES:
        raise typer.BadParameter(f"{where} is larger than {MAX_BYTES:,} bytes; split it into several documents")
    if b"\0" in data:
        raise typer.BadParameter(f"{where} is a binary file, not text; knowledge is text or Markdown")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise typer.BadParameter(f"{where} is not UTF-8 text (byte {e.start:,}); save it as UTF-8 text or "
                                 "Markdown") from None
    text = text.replace("\r\n", "\n")
    if not text.strip():
        raise typer.BadParameter(f"{where} is empty")
    return text


def read_document(value: str) -> Document:
    """A FILE|- parameter read as UTF-8 text, bounded before it is read whole."""
    if value == "-":
        return Document("", _decode(sys.stdin.buffer.read(MAX_BYTES + 1), "standard input"))
    path = Path(value).expanduser()
    try:
        if not path.is_file():
            raise typer.BadParameter(f"no file {path}")
        with path.open("rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as e:
        raise typer.BadParameter(f"cannot read {path}: {e.strerror or e}") from None
    return Document(path.name, _decode(data, str(path)))


def _title_of(doc: Document) -> str:
    """The first top-level Markdown heading, else the file's name without its extension."""
    if m := _TITLE.search(doc.text):
        return m.group(1).strip()
    if doc.name:
        return Path(doc.name).stem
    raise typer.BadParameter("a document from standard input needs --title", param_hint="--title")


@app.command("add")
def add(
    session: Session, out: Output,
    file: Annotated[Document, typer.Argument(
        metavar="FILE|-", parser=read_document, help="A text or Markdown file (UTF-8); `-` reads standard input.")],
    title: Annotated[str | None, typer.Option(
        "--title", help="The document's title (default: its first # heading, else the file's name).")] = None,
) -> None:
    """Add a document; its Markdown headings cut it into the sections the assistant quotes."""
    e = session.call("knowledge.add", {"kind": "document", "title": title or _title_of(file), "body": file.text,
                                       "source": file.name})
    out.done(e, f"added document {e['id']} {e['title']!r} ({e['size']:,} characters, {e['chunks']} chunks)")


@app.command("faq")
def faq(
    session: Session, out: Output,
    question: Annotated[str, typer.Argument(help="The question, as a customer would ask it.")],
    answer: Annotated[str, typer.Argument(
        metavar="ANSWER|-", parser=inputs.text_or_stdin, help="The answer; `-` reads standard input.")],
) -> None:
    """Add a FAQ entry: a question and its answer."""
    e = session.call("knowledge.add", {"kind": "faq", "title": question, "body": answer})
    out.done(e, f"added FAQ {e['id']} {e['title']!r}")


@app.command("update")
def update(
    session: Session, out: Output,
    entry_id: EntryId,
    title: Annotated[str | None, typer.Option("--title", help="A new title (a FAQ's question).")] = None,
    body: Annotated[Document | None, typer.Option(
        "--body", metavar="FILE|-", parser=read_document,
        help="A file with the new text (a FAQ's answer, a document's text); `-` reads standard input.")] = None,
) -> None:
    """Change an entry's title or text; the assistant finds the new one from then on."""
    params: dict[str, Any] = {"id": entry_id}
    if title is not None:
        params["title"] = title
    if body is not None:
        params["body"] = body.text
        if body.name:
            params["source"] = body.name
    if len(params) == 1:
        raise typer.BadParameter("nothing to change: give --title or --body")
    e = session.call("knowledge.update", params)
    out.done(e, f"updated {e['kind']} {e['id']} {e['title']!r}")


@app.command("list")
def list_(
    session: Session, out: Output,
    kind: Annotated[str | None, typer.Option("--kind", metavar="faq|document", help="Only this kind.")] = None,
) -> None:
    """List the knowledge entries, oldest first (Embedded: chunks with a vector of the current model)."""
    if kind not in (None, "faq", "document"):
        raise typer.BadParameter("faq or document", param_hint="--kind")
    out.rows(session.call("knowledge.list", {"kind": kind}), COLUMNS, empty="no knowledge entries")


@app.command("show")
def show(session: Session, out: Output, entry_id: EntryId) -> None:
    """Show an entry: its details, text and chunks."""
    e = session.call("knowledge.get", {"id": entry_id})
    if not out.for_people:
        out.raw(e)
        return
    out.item({k: v for k, v in e.items() if k != "body"}, title=f"{e['kind']} {e['id']}",
             tables={"parts": PART_COLUMNS})
    output.console().print()
    output.console().print(e["body"], markup=False, highlight=False)


@app.command("rm")
def rm(session: Session, out: Output, entry_id: EntryId) -> None:
    """Delete an entry; the assistant stops finding it at once."""
    e = session.call("knowledge.delete", {"id": entry_id})
    out.done(e, f"deleted {e['kind']} {e['id']} {e['title']!r}")


@app.command("search")
def search(
    session: Session, out: Output,
    query: Annotated[str, typer.Argument(help="A question, as the bot would look it up.")],
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=20, help="At most this many entries.")] = 4,
) -> None:
    """Find the entries the assistant would answer a question from, best first."""
    found = session.call("knowledge.search", {"query": query, "limit": limit})
    if not out.for_people:
        out.raw(found)
        return
    out.rows(found["hits"], HIT_COLUMNS, title=f"by {found['by']}", empty="nothing found")
    if found["reason"]:
        out.note(f"searched by words: {found['reason']}")
