"""`login`, `logout`, `bootstrap`: getting a zing identity and keeping its token.

Login and bootstrap send no stored token first: a stale one must not stand in
the way of getting a new one.
"""

from __future__ import annotations

from typing import Annotated

import typer

from zingctl import credentials, inputs
from zingctl.commands import Typer
from zingctl.output import Output
from zingctl.session import Session
from zingd.errors import Unauthenticated

app = Typer()

@app.command("login")
def login(
    session: Session, out: Output,
    email: Annotated[str | None, typer.Option("--email", "-e", help="Your zing email (prompted if left out).")] = None,
    password_stdin: inputs.PasswordStdin = False,
) -> None:
    """Log in with email and password and keep the session token (OS keyring, or a 0600 file)."""
    with session.anonymous() as c:  # connect first: no prompting for a daemon that isn't there
        email = email or typer.prompt("Email")
        granted = c.call("auth.login", {"email": email, "password": inputs.password(password_stdin)})
    where = credentials.save(session.socket, granted["token"])
    user = granted["user"]
    out.done({"user": user, "token_location": where, "expires_in": granted["expires_in"]},
             f"logged in as {user['email']} ({user['role']}); token kept in {where}")


@app.command("logout")
def logout(session: Session, out: Output) -> None:
    """Revoke the stored session token on the daemon and forget it here."""
    revoked = False
    if session.token:
        try:
            revoked = session.call("auth.logout")["revoked"]
        except Unauthenticated:
            pass  # already expired or revoked: forgetting it is all that's left
    forgot = session.stored and credentials.delete(session.socket)
    message = "logged out" if revoked or forgot else "not logged in (no stored token)"
    out.done({"revoked": revoked, "forgotten": forgot}, message)


@app.command("bootstrap")
def bootstrap(
    session: Session, out: Output,
    email: Annotated[str | None, typer.Option(
        "--email", "-e", help="The first admin's email (prompted if left out).")] = None,
    name: Annotated[str, typer.Option("--name", help="The first admin's display name.")] = "",
    tenant: Annotated[str, typer.Option("--tenant", help="The first company's name.")] = "Default",
    link_os_user: Annotated[bool, typer.Option(
        "--link-os-user/--no-link-os-user",
        help="Link this OS user to the admin, so zingctl on this account needs no login.")] = True,
    password_stdin: inputs.PasswordStdin = False,
) -> None:
    """Create the first tenant and superadmin on an empty daemon (only as the OS user running zingd)."""
    with session.anonymous() as c:
        email = email or typer.prompt("Email")
        user = c.call("auth.bootstrap", {"email": email, "password": inputs.password(password_stdin, confirm=True),
                                         "name": name, "tenant": tenant, "link_os_user": link_os_user})
    next_step = "this OS user needs no login" if link_os_user else "now run `zingctl login`"
    out.done(user, f"created superadmin {user['email']} in tenant {tenant!r}; {next_step}")
