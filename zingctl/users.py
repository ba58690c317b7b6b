"""`zingctl users`: the people who work tickets, their roles and their status."""

from __future__ import annotations

from typing import Annotated

import typer

from zingctl import inputs, output
from zingctl.commands import Typer
from zingctl.output import Output
from zingctl.session import Session

app = Typer(name="users", help="People, roles, passwords and status.")

COLUMNS: list[output.Column] = [
    ("ID", "id"), ("Email", "email"), ("Name", "name"), ("Role", "role"), ("Status", "status"),
    ("Enabled", lambda u: "yes" if u.get("enabled") else "no"), ("Max tickets", "max_tickets"),
    ("Created", "created_at"),
]

UserId = Annotated[int, typer.Argument(help="User id.")]
Name = Annotated[str | None, typer.Option("--name", help="Display name.")]
Role = Annotated[str | None, typer.Option("--role", help="agent, supervisor, admin or superadmin.")]
MaxTickets = Annotated[int | None, typer.Option("--max-tickets", help="Most open tickets at once.")]


def _update(session: Session, out: Output, user_id: int, changes: dict, verb: str) -> None:
    u = session.call("user.update", {"id": user_id, **changes})
    out.done(u, f"{verb} user {u['id']} {u['email']}")


@app.command("list")
def list_(session: Session, out: Output, tenant: Annotated[int | None, typer.Option(
        "--tenant", help="Another tenant's users (superadmin).")] = None) -> None:
    """List the tenant's users."""
    out.rows(session.call("user.list", {"tenant_id": tenant}), COLUMNS, empty="no users")


@app.command("create")
def create(
    session: Session, out: Output,
    email: Annotated[str, typer.Argument(help="Login email.")],
    name: Name = None, role: Role = None, max_tickets: MaxTickets = None,
    tenant: Annotated[int | None, typer.Option("--tenant", help="Create in another tenant (superadmin).")] = None,
    password_stdin: inputs.PasswordStdin = False,
) -> None:
    """Add a user; the password is asked for at the terminal (hidden, twice), or, with --password-stdin,
    read from the first line of stdin."""
    password = inputs.password(password_stdin, confirm=True)
    u = session.call("user.create", {"email": email, "password": password, "name": name, "role": role,
                                     "max_tickets": max_tickets, "tenant_id": tenant})
    out.done(u, f"created user {u['id']} {u['email']} ({u['role']})")


@app.command("show")
def show(session: Session, out: Output, user_id: UserId) -> None:
    """Show one user with their queues."""
    out.item(session.call("user.get", {"id": user_id}), title="user")


@app.command("update")
def update(session: Session, out: Output, user_id: UserId, name: Name = None, role: Role = None,
           max_tickets: MaxTickets = None) -> None:
    """Rename a user, change their role or their ticket limit."""
    _update(session, out, user_id, {"name": name, "role": role, "max_tickets": max_tickets}, "updated")


@app.command("disable")
def disable(session: Session, out: Output, user_id: UserId) -> None:
    """Disable a user: they can't log in and their tokens are revoked."""
    _update(session, out, user_id, {"enabled": False}, "disabled")


@app.command("enable")
def enable(session: Session, out: Output, user_id: UserId) -> None:
    """Let a disabled user log in again."""
    _update(session, out, user_id, {"enabled": True}, "enabled")


@app.command("reset-password")
def reset_password(session: Session, out: Output, user_id: UserId,
                   password_stdin: inputs.PasswordStdin = False) -> None:
    """Set a new password for a user: asked for at the terminal (hidden, twice), or, with --password-stdin,
    read from the first line of stdin."""
    password = inputs.password(password_stdin, confirm=True, prompt="New password")
    _update(session, out, user_id, {"password": password}, "reset the password of")


@app.command("status")
def status(session: Session, out: Output,
           value: Annotated[str, typer.Argument(metavar="STATUS", help="online, away or offline.")]) -> None:
    """Set your own status (online, away or offline)."""
    u = session.call("user.set_status", {"status": value})
    out.done(u, f"{u['email']} is now {u['status']}")


@app.command("me")
def me(
    session: Session, out: Output,
    name: Name = None,
    signature: Annotated[bool | None, typer.Option(
        "--signature/--no-signature", show_default=False, help="Sign the messages you send with your name.")] = None,
    password: Annotated[bool, typer.Option("--password", help="Change your password (prompted, hidden).")] = False,
    password_stdin: inputs.PasswordStdin = False,
) -> None:
    """Show yourself, or change your own name, signature or password."""
    new_password = inputs.password(password_stdin, confirm=True, prompt="New password") \
        if password or password_stdin else None
    if name is None and signature is None and new_password is None:
        out.item(session.call("auth.whoami"), title="you")
        return
    u = session.call("user.update_me", {"name": name, "signature": signature, "password": new_password})
    out.done(u, f"updated {u['email']}: name {u['name']!r}, signature {'on' if u['signature'] else 'off'}")
