"""`zingctl contacts`: the people who write in, their custom fields and opt-out."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from zingctl import exports, inputs, messages, output, tags
from zingctl.commands import Typer
from zingctl.inputs import FileOrStdin, Source
from zingctl.output import Output, when
from zingctl.session import CLEAR, Session
from zingctl.uploads import uploaded
from zingd.errors import ZingError

app = Typer(name="contacts", help="The people who write in: search, edit, tags, merge, import, export.")

COLUMNS: list[output.Column] = [
    ("ID", "id"), ("Number", "number"), ("Name", "name"), ("Push name", "push_name"), ("Email", "email"),
    ("Opted out", lambda c: "yes" if c.get("opted_out") else ""), ("Fields", "custom_fields"),
    ("Updated", "updated_at"),
]

ContactId = Annotated[int, typer.Argument(help="Contact id.")]
Fields = Annotated[list[str] | None, typer.Option(
    "--field", "-f", metavar="KEY=VALUE", help="Set a custom field (repeatable; merged with the others).")]
INVALID_COLUMNS: list[output.Column] = [("Row", "row"), ("Column", "column"), ("Error", "error")]
EXPORT_COLUMNS = ("id", "number", "name", "push_name", "email", "opted_out", "tags")
HISTORY_COLUMNS: list[output.Column] = [("Ticket", "ticket_id"), *messages.COLUMNS]
TICKET_COLUMNS: list[output.Column] = [
    ("Ticket", "id"), ("Status", "status"), ("Connection", "connection_id"), ("User", "user_id"),
    ("Created", "created_at"), ("Closed", "closed_at"), ("Last message", "last_message"),
]


@app.command("list")
def list_(
    session: Session, out: Output,
    search: Annotated[str | None, typer.Option("--search", "-s", help="Match name or number.")] = None,
    tag: Annotated[str | None, typer.Option("--tag", "-t", metavar="NAME", help="Only contacts with this tag.")]
    = None,
    after: Annotated[int | None, typer.Option("--after", help="Page on: contacts with an id above this.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many at most.")] = 100,
) -> None:
    """List contacts by id, or those matching a search and/or carrying a tag."""
    found = session.call("contact.list", {"query": search, "tag": tag, "after_id": after, "limit": limit})
    out.rows(found, COLUMNS, empty="no contacts")


def merged_from(m: dict[str, Any]) -> str:
    """One merge as a sentence: "merged from contact 7 (LID 123…) on 2026-03-04 13:00, automatically: …"."""
    number = m["merged_number"]
    address = f"LID {number.split('@')[0]}" if number.endswith("@lid") else \
        number if "@" in number else f"+{number}"
    on = when(m["created_at"])  # in the company's zone, like the rest of `contacts show`
    how = f"by {m.get('user_name') or 'user ' + str(m['user_id'])}" if m.get("user_id") else "automatically"
    joined = "".join(f"; ticket {drop} joined into {keep}" for keep, drop in m.get("tickets_joined") or [])
    line = f"merged from contact {m['merged_id']} ({address}) on {on}, {how}"
    return f"{line}: {m['reason']}{joined}" if m.get("reason") else f"{line}{joined}"


@app.command("show")
def show(session: Session, out: Output, contact_id: ContactId) -> None:
    """Show a contact with its WhatsApp ids, tickets, and what was merged into it and why."""
    contact = session.call("contact.get", {"id": contact_id})
    if out.for_people:
        owner = contact.pop("owner", None)
        contact.pop("owner_user_id", None)
        contact["wallet"] = f"{owner['name']} (user {owner['id']})" if owner else "none"
        if contact.get("merges"):
            contact["merges"] = "\n".join(merged_from(m) for m in contact["merges"])
    out.item(contact, title="contact", tables={"tickets": TICKET_COLUMNS})


def _user_id(session: Session, who: str) -> int:
    """A user by email, id, or `me`; an agent (who can't list users) names only themselves."""
    me = session.call("auth.whoami")
    if who in ("me", me["email"], str(me["id"])):
        return me["id"]
    if me["role"] == "agent":
        raise typer.BadParameter("an agent can put a contact only in their own wallet: --agent me",
                                 param_hint="--agent")
    users = session.call("user.list")
    found = [u for u in users if who.lower() in (u["email"].lower(), str(u["id"]))]
    if not found:
        raise typer.BadParameter(f"no user {who!r} in this tenant (an email or user id)", param_hint="--agent")
    return found[0]["id"]


@app.command("wallet")
def wallet(
    session: Session, out: Output,
    contact_id: ContactId,
    agent: Annotated[str | None, typer.Option(
        "--agent", metavar="EMAIL|ID|me", help="Put the contact in this user's wallet (their customer).")] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Take the contact out of any wallet.")] = False,
) -> None:
    """Set whose customer a contact is (their wallet): their new tickets go straight to that user."""
    if (agent is None) == (not clear):
        raise typer.BadParameter("give --agent EMAIL|ID|me, or --clear")
    owner = CLEAR if clear else _user_id(session, agent)
    c = session.call("contact.update", {"id": contact_id, "owner_user_id": owner})
    whose = f"in the wallet of user {c['owner_user_id']}" if c["owner_user_id"] else "in no wallet"
    out.done(c, f"contact {c['id']} {c['name'] or c['push_name'] or c['number']} is {whose}")


@app.command("update")
def update(
    session: Session, out: Output,
    contact_id: ContactId,
    name: Annotated[str | None, typer.Option("--name", help="The name agents see.")] = None,
    email: Annotated[str | None, typer.Option("--email", help="Email address.")] = None,
    field: Fields = None,
    opt_out: Annotated[bool | None, typer.Option(
        "--opt-out/--opt-in", show_default=False, help="Stop (or resume) campaigns to this contact.")] = None,
) -> None:
    """Edit a contact's name, email, custom fields or opt-out."""
    fields = inputs.pairs(field, "--field") if field else None
    c = session.call("contact.update", {"id": contact_id, "name": name, "email": email, "custom_fields": fields,
                                        "opted_out": opt_out})
    out.done(c, f"updated contact {c['id']} {c['name'] or c['push_name'] or c['number']}")


@app.command("create")
def create(
    session: Session, out: Output,
    number: Annotated[str, typer.Argument(help="Phone number: international, or local to the tenant's region.")],
    name: Annotated[str, typer.Option("--name", help="The name agents see.")] = "",
    email: Annotated[str, typer.Option("--email", help="Email address.")] = "",
    field: Fields = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", "-t", help="Tag it (repeatable).")] = None,
) -> None:
    """Add a contact by phone number (stored in E.164)."""
    c = session.call("contact.create", {"number": number, "name": name, "email": email,
                                        "custom_fields": inputs.pairs(field, "--field") if field else {},
                                        "tags": tag or []})
    out.done(c, f"created contact {c['id']} +{c['number']} {c['name']}".rstrip())


@app.command("delete")
def delete(session: Session, out: Output, contact_id: ContactId) -> None:
    """Delete a contact that never had a conversation (merge the others instead)."""
    c = session.call("contact.delete", {"id": contact_id})
    out.done(c, f"deleted contact {contact_id} +{c['number']}")


def _preview(out: Output, p: dict[str, Any]) -> None:
    """What a merge would move, as a person reads it."""
    if not out.for_people:
        out.raw(p)
        return
    tickets = ", ".join(map(str, p["tickets"]))
    out.item({"tickets": f"{len(p['tickets'])} ({tickets})" if tickets else "0", "messages": p["messages"],
              "tags": ", ".join(p["tags"]), "fields": p["fields"], "fields kept (the target's)": p["fields_kept"],
              "WhatsApp ids": ", ".join(p["ids"]), "schedules": p["schedules"]},
             title=f"merging contact {p['id']} into {p['into_id']} would move")


@app.command("merge")
def merge(
    session: Session, out: Output,
    contact_id: Annotated[int, typer.Argument(help="The contact to fold in (it disappears).")],
    into: Annotated[int, typer.Option("--into", help="The contact that stays.")],
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Only show what would move (tickets, messages, tags, fields); merge nothing.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Merge without asking (scripts must say so).")] = False,
) -> None:
    """Fold a duplicate contact into another: its tickets, messages, WhatsApp ids and tags follow.

    It can't be undone, so it shows what would move and asks first, unless --yes; off a terminal (or
    with --json/--jsonl) it refuses without --yes.
    """
    params = {"id": contact_id, "into_id": into}
    if dry_run:
        _preview(out, session.call("contact.merge", {**params, "dry_run": True}))
        return
    if not yes:
        if not (out.for_people and sys.stdin.isatty()):
            raise typer.BadParameter(f"merging contact {contact_id} into {into} can't be undone and there is no "
                                     "one to ask: add --yes to merge, or --dry-run to see what would move",
                                     param_hint="--yes")
        _preview(out, session.call("contact.merge", {**params, "dry_run": True}))
        if not typer.confirm(f"Merge contact {contact_id} into {into}? It can't be undone", default=False):
            out.error("nothing merged", "cancelled")
            raise typer.Exit(1)
    c = session.call("contact.merge", params)
    out.done(c, f"merged contact {contact_id} into {c['id']} +{c['number']} {c['name']}".rstrip())


@app.command("tag")
def tag(session: Session, out: Output, contact_id: ContactId, names: tags.Names = None,
        clear: tags.Clear = False) -> None:
    """Set a contact's tags, e.g. `zingctl contacts tag 7 vip` (replaces them)."""
    tagged = session.call("contact.set_tags", {"id": contact_id, "tags": tags.names(names, clear)})
    out.done(tagged, f"contact {contact_id} tags: {', '.join(tagged['tags']) or 'none'}")


@app.command("history")
def history(
    session: Session, out: Output,
    contact_id: ContactId,
    before: messages.Before = None, limit: messages.PageSize = 50,
) -> None:
    """A contact's messages across all their tickets, oldest first."""
    messages.page(session, out, {"contact_id": contact_id}, before, limit, HISTORY_COLUMNS, f"contact {contact_id}")


def _report(out: Output, report: dict[str, Any]) -> None:
    """An import's report on a terminal: the counts, then the invalid rows."""
    invalid = report.get("invalid") or []
    state = "imported" if report.get("imported") else "dry run: nothing imported" if report.get("dry_run") \
        else "nothing imported"
    out.item({"rows": report.get("rows"), "valid": report.get("valid"), "to create": report.get("to_create"),
              "to update": report.get("to_update"), "merged in file": report.get("merged_in_file"),
              "invalid": len(invalid), "result": state}, title="import")
    if invalid:
        output.console().print()
        output.console().print(output.table(invalid, INVALID_COLUMNS, title="invalid rows"))


@app.command("import")
def import_(
    session: Session, out: Output,
    file: Annotated[Source, typer.Argument(
        metavar="FILE|-", parser=FileOrStdin(), help="A CSV or vCard file (zingctl reads it and uploads it); `-` "
        "reads standard input.")],
    fmt: Annotated[str | None, typer.Option(
        "--format", metavar="csv|vcard", help="The file's format (default: vcard for .vcf/.vcard, else csv).")]
    = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only report what would change.")] = False,
    skip_invalid: Annotated[bool, typer.Option(
        "--skip-invalid", help="Import the valid rows even if some are invalid (else nothing is imported).")] = False,
) -> None:
    """Import contacts from CSV (a number column; name, email, tags; other columns become custom fields) or vCard.

    Numbers already known are updated, duplicates in the file merged. All or nothing: with invalid rows,
    nothing is imported (exit 1) unless --skip-invalid.
    """
    fmt = fmt or ("vcard" if file.name.lower().endswith((".vcf", ".vcard")) else "csv")
    if fmt not in ("csv", "vcard"):
        raise typer.BadParameter("csv or vcard", param_hint="--format")
    try:
        with uploaded(session, file, "FILE") as upload_id:
            report = session.call("contact.import", {"format": fmt, "dry_run": dry_run, "skip_invalid": skip_invalid,
                                                     "upload_id": upload_id})
    except ZingError as e:
        if out.for_people and isinstance(e.details.get("report"), dict):
            _report(out, e.details["report"])
        raise
    if out.for_people:
        _report(out, report)
    else:
        out.raw(report)


def _flat(contacts: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """Contacts as CSV rows: the fixed columns, then one per custom field (tags joined with ;)."""
    column = {k: f"field_{k}" if k in EXPORT_COLUMNS else k
              for k in sorted({k for c in contacts for k in (c.get("custom_fields") or {})})}
    rows = [{**{k: c.get(k) for k in EXPORT_COLUMNS}, "tags": ";".join(c["tags"]),
             **{column[k]: v for k, v in (c.get("custom_fields") or {}).items()}} for c in contacts]
    return rows, [*EXPORT_COLUMNS, *column.values()]


@app.command("export")
def export(
    session: Session, out: Output,
    fmt: Annotated[str | None, typer.Option(
        "--format", metavar="csv|json", help="csv (one column per custom field) or json (default: csv; json with "
        "--json, JSON lines with --jsonl).")] = None,
    to: Annotated[Path | None, typer.Option(
        "--output", "-o", metavar="FILE", dir_okay=False, help="Write to this file instead of stdout.")] = None,
) -> None:
    """Export every contact with custom fields and tags."""
    fmt = fmt or (out.format if out.format in exports.FORMATS else "csv")
    if fmt not in exports.FORMATS:
        raise typer.BadParameter("csv or json", param_hint="--format")
    contacts = session.call("contact.export")
    rows, fields = _flat(contacts) if fmt == "csv" else (contacts, [])
    path = exports.export(rows, fmt, fields, to)
    if path is not None:
        out.done({"path": str(path), "contacts": len(contacts), "format": fmt},
                 f"exported {len(contacts)} contacts to {path} ({fmt})")
