"""`login`, `logout`, `bootstrap`: getting a zing identity and keeping its token.

Login and bootstrap send no stored token first: a stale one must not stand in
the way of getting a new one.
"""

from __future__ import annotations

from typing import Annotated

import typer

from zingctl import credentials, inputs, output, session
from zingd.errors import Unauthenticated

app = output.Typer()

PasswordStdin = Annotated[bool, typer.Option(
    "--password-stdin", help="Read the password from the first line of stdin instead of prompting.")]


@app.command("login")
def login(
    email: Annotated[str | None, typer.Option("--email", "-e", help="Your zing email (prompted if left out).")] = None,
    password_stdin: PasswordStdin = False,
) -> None:
    """Log in with email and password and keep the session token (OS keyring, or a 0600 file)."""
    s = session.current
    with s.anonymous() as c:  # connect first: no prompting for a daemon that isn't there
        email = email or typer.prompt("Email")
        out = c.call("auth.login", {"email": email, "password": inputs.password(password_stdin)})
    where = credentials.save(s.socket, out["token"])
    user = out["user"]
    output.done({"user": user, "token_location": where, "expires_in": out["expires_in"]},
                f"logged in as {user['email']} ({user['role']}); token kept in {where}")


@app.command("logout")
def logout() -> None:
    """Revoke the stored session token on the daemon and forget it here."""
    s = session.current
    revoked = False
    if s.token:
        try:
            revoked = s.call("auth.logout")["revoked"]
        except Unauthenticated:
            pass  # already expired or revoked: forgetting it is all that's left
    forgot = s.stored and credentials.delete(s.socket)
    message = "logged out" if revoked or forgot else "not logged in (no stored token)"
    output.done({"revoked": revoked, "forgotten": forgot}, message)


@app.command("bootstrap")
def bootstrap(
    email: Annotated[str | None, typer.Option(
        "--email", "-e", help="The first admin's email (prompted if left out).")] = None,
    name: Annotated[str, typer.Option("--name", help="The first admin's display name.")] = "",
    tenant: Annotated[str, typer.Option("--tenant", help="The first company's name.")] = "Default",
    link_os_user: Annotated[bool, typer.Option(
        "--link-os-user/--no-link-os-user",
        help="Link this OS user to the admin, so zingctl on this account needs no login.")] = True,
    password_stdin: PasswordStdin = False,
) -> None:
    """Create the first tenant and superadmin on an empty daemon (only as the OS user running zingd)."""
    with session.current.anonymous() as c:
        email = email or typer.prompt("Email")
        user = c.call("auth.bootstrap", {"email": email, "password": inputs.password(password_stdin, confirm=True),
                                         "name": name, "tenant": tenant, "link_os_user": link_os_user})
    next_step = "this OS user needs no login" if link_os_user else "now run `zingctl login`"
    output.done(user, f"created superadmin {user['email']} in tenant {tenant!r}; {next_step}")
