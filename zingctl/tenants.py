"""`zingctl tenants`: the companies a superadmin runs on this daemon."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from zingctl import output
from zingctl.commands import Typer
from zingctl.output import Output
from zingctl.session import CLEAR, Session

app = Typer(name="tenants", help="Companies and their limits (superadmin).")

COLUMNS: list[output.Column] = [
    ("ID", "id"), ("Name", "name"), ("Status", "status"), ("Users", "users"), ("Numbers", "connections"),
    ("Timezone", "timezone"), ("Created", "created_at"),
]

MaxUsers = Annotated[int | None, typer.Option("--max-users", help="Most users the tenant may have.")]
MaxConnections = Annotated[int | None, typer.Option("--max-connections", help="Most WhatsApp numbers.")]
MaxQueues = Annotated[int | None, typer.Option("--max-queues", help="Most queues (departments).")]
Timezone = Annotated[str | None, typer.Option("--timezone", help="IANA timezone for business hours, e.g. UTC.")]


@app.command("list")
def list_(session: Session, out: Output) -> None:
    """List every tenant with its user and number counts."""
    out.rows(session.call("tenant.list"), COLUMNS, empty="no tenants")


@app.command("create")
def create(
    session: Session, out: Output,
    name: Annotated[str, typer.Argument(help="The company's name.")],
    max_users: MaxUsers = None, max_connections: MaxConnections = None, max_queues: MaxQueues = None,
    timezone: Timezone = None,
) -> None:
    """Create a tenant (defaults for the limits come from the daemon)."""
    t = session.call("tenant.create", {"name": name, "max_users": max_users, "max_connections": max_connections,
                                       "max_queues": max_queues, "timezone": timezone})
    out.done(t, f"created tenant {t['id']} {t['name']!r}")


@app.command("show")
def show(session: Session, out: Output,
         tenant_id: Annotated[int | None, typer.Argument(help="Tenant id (default: your own).")] = None) -> None:
    """Show one tenant with its limits and settings."""
    out.item(session.call("tenant.get", {"id": tenant_id}), title="tenant")


@app.command("update")
def update(
    session: Session, out: Output,
    tenant_id: Annotated[int, typer.Argument(help="Tenant id.")],
    name: Annotated[str | None, typer.Option("--name", help="New name.")] = None,
    status: Annotated[str | None, typer.Option("--status", help="active or suspended.")] = None,
    max_users: MaxUsers = None, max_connections: MaxConnections = None, max_queues: MaxQueues = None,
    timezone: Timezone = None,
) -> None:
    """Rename, suspend or change the limits of a tenant."""
    t = session.call("tenant.update", {"id": tenant_id, "name": name, "status": status, "max_users": max_users,
                                       "max_connections": max_connections, "max_queues": max_queues,
                                       "timezone": timezone})
    out.done(t, f"updated tenant {t['id']} {t['name']!r}")


SETTINGS = ("rating", "rating_prompt", "rating_thanks", "region", "opt_out_keywords", "opt_out_reply")


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


@app.command("settings")
def settings(
    session: Session, out: Output,
    rating: Annotated[bool | None, typer.Option(
        "--rating/--no-rating", show_default=False, help="Ask customers to rate a ticket when it closes.")] = None,
    rating_prompt: Annotated[str | None, typer.Option("--rating-prompt", help="The rating question.")] = None,
    rating_thanks: Annotated[str | None, typer.Option("--rating-thanks", help="The reply to a rating.")] = None,
    region: Annotated[str | None, typer.Option(
        "--region", help="Country local phone numbers are read in, e.g. BR.")] = None,
    opt_out_keywords: Annotated[str | None, typer.Option(
        "--opt-out-keywords", metavar="WORD,WORD", help="Words that opt a contact out of campaigns, e.g. SAIR,STOP.")]
    = None,
    opt_out_reply: Annotated[str | None, typer.Option("--opt-out-reply", help="The reply to an opt-out.")] = None,
    clear: Annotated[list[str] | None, typer.Option(
        "--clear", metavar="SETTING", help=f"Back to the daemon's default (repeatable): {', '.join(SETTINGS)}.",
        show_default=False)] = None,
) -> None:
    """Show or change your company's settings: rating survey, phone region, opt-out keywords.

    Each is shown with its value; one not set shows the daemon's default, marked "default"."""
    keywords = [w.strip() for w in opt_out_keywords.split(",") if w.strip()] if opt_out_keywords is not None else None
    changes = {"rating": rating, "rating_prompt": rating_prompt, "rating_thanks": rating_thanks, "region": region,
               "opt_out_keywords": keywords, "opt_out_reply": opt_out_reply}
    for name in clear or ():
        key = name.strip().replace("-", "_")
        if key not in SETTINGS:
            raise typer.BadParameter(f"{name!r}: one of {', '.join(SETTINGS)}", param_hint="--clear")
        if changes[key] is not None:
            raise typer.BadParameter(f"--clear {name} and a new value for it: give one", param_hint="--clear")
        changes[key] = CLEAR
    if any(v is not None for v in changes.values()):
        session.call("tenant.update_settings", changes)
    tenant = session.call("tenant.get")
    given, defaults = tenant["settings"], tenant.get("defaults") or {}
    if not out.for_people:  # what applies: the company's value, else the default
        out.raw({**defaults, **given})
        return
    out.item({key: _shown(given[key]) if key in given else f"{_shown(defaults.get(key, ''))}  (default)"
              for key in (*SETTINGS, *(k for k in given if k not in SETTINGS))}, title="settings")
