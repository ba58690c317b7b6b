"""`zingctl contacts`: the people who write in, their custom fields and opt-out."""

from __future__ import annotations

from typing import Annotated

import typer

from zingctl import inputs, output, session

app = output.Typer(name="contacts", help="The people who write in: search, edit, custom fields, opt-out.")

COLUMNS: list[output.Column] = [
    ("ID", "id"), ("Number", "number"), ("Name", "name"), ("Push name", "push_name"), ("Email", "email"),
    ("Opted out", lambda c: "yes" if c.get("opted_out") else ""), ("Fields", "custom_fields"),
    ("Updated", "updated_at"),
]
TICKET_COLUMNS: list[output.Column] = [
    ("Ticket", "id"), ("Status", "status"), ("Connection", "connection_id"), ("User", "user_id"),
    ("Created", "created_at"), ("Closed", "closed_at"), ("Last message", "last_message"),
]


@app.command("list")
def list_(
    search: Annotated[str | None, typer.Option("--search", "-s", help="Match name or number.")] = None,
    after: Annotated[int | None, typer.Option("--after", help="Page on: contacts with an id above this.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many at most.")] = 100,
) -> None:
    """List contacts by id, or those matching a search."""
    found = session.call("contact.list", {"query": search, "after_id": after, "limit": limit})
    output.rows(found, COLUMNS, empty="no contacts")


@app.command("show")
def show(contact_id: Annotated[int, typer.Argument(help="Contact id.")]) -> None:
    """Show a contact with its WhatsApp ids and tickets."""
    output.item(session.call("contact.get", {"id": contact_id}), title="contact", tables={"tickets": TICKET_COLUMNS})


@app.command("update")
def update(
    contact_id: Annotated[int, typer.Argument(help="Contact id.")],
    name: Annotated[str | None, typer.Option("--name", help="The name agents see.")] = None,
    email: Annotated[str | None, typer.Option("--email", help="Email address.")] = None,
    field: Annotated[list[str] | None, typer.Option(
        "--field", "-f", metavar="KEY=VALUE", help="Set a custom field (repeatable; merged with the others).")]
    = None,
    opt_out: Annotated[bool | None, typer.Option(
        "--opt-out/--opt-in", show_default=False, help="Stop (or resume) campaigns to this contact.")] = None,
) -> None:
    """Edit a contact's name, email, custom fields or opt-out."""
    fields = inputs.pairs(field, "--field") if field else None
    c = session.call("contact.update", {"id": contact_id, "name": name, "email": email, "custom_fields": fields,
                                        "opted_out": opt_out})
    output.done(c, f"updated contact {c['id']} {c['name'] or c['push_name'] or c['number']}")
