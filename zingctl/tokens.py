"""`zingctl tokens`: API tokens for scripts, scoped to a tenant and a role, shown once."""

from __future__ import annotations

from typing import Annotated

import typer

from zingctl import output
from zingctl.commands import Typer
from zingctl.output import Output
from zingctl.session import Session

app = Typer(name="tokens", help="API tokens for scripts: create (shown once), list, revoke.")

COLUMNS: list[output.Column] = [
    ("ID", "id"), ("Name", "name"), ("Role", "role"), ("User", "user_id"), ("Created", "created_at"),
    ("Expires", "expires_at"), ("Last used", "last_used_at"), ("Revoked", "revoked_at"),
]


@app.command("create")
def create(
    session: Session, out: Output,
    name: Annotated[str, typer.Argument(help="Name it after what uses it, e.g. crm-sync.")],
    role: Annotated[str | None, typer.Option(
        "--role", help="agent, supervisor, admin or superadmin; at most yours (default: yours).")] = None,
    ttl_days: Annotated[float | None, typer.Option(
        "--ttl-days", metavar="DAYS", help="Expire after this many days (default: never).")] = None,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="Print only the token, e.g. for `export ZING_TOKEN=$(...)`.")] = False,
) -> None:
    """Create an API token; it is shown only now, so keep it."""
    t = session.call("token.create", {"name": name, "role": role, "ttl_days": ttl_days})
    if quiet:
        typer.echo(t["token"])
        return
    out.item(t, title=f"token {t['id']}")
    out.note("the token is shown only this once; use it with --token or ZING_TOKEN")


@app.command("list")
def list_(session: Session, out: Output,
          every: Annotated[bool, typer.Option("--all", help="Everyone's tokens (admins).")] = False) -> None:
    """List your API tokens (never the secrets)."""
    out.rows(session.call("token.list", {"all_users": every}), COLUMNS, empty="no API tokens")


@app.command("revoke")
def revoke(session: Session, out: Output, token_id: Annotated[int, typer.Argument(help="Token id.")]) -> None:
    """Revoke an API token; scripts using it are disconnected."""
    t = session.call("token.revoke", {"id": token_id})
    out.done(t, f"revoked token {t['id']} {t['name']!r}")
