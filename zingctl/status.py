"""`zingctl status`: is the daemon up, healthy, and who am I to it.

It asks rpc.hello on a connection without a token first, so it reports the
daemon even when the stored token is bad or nobody is logged in.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

from zingctl import output
from zingctl.commands import Typer
from zingctl.output import Output
from zingctl.session import Session
from zingd.errors import Unauthenticated

app = Typer()

CONNECTION_COLUMNS: list[output.Column] = [
    ("ID", "id"), ("Name", "name"), ("Kind", "kind"), ("Status", "status"), ("Reason", "status_reason"),
    ("Running", lambda c: "yes" if c.get("running") else "no"),
]


def _gather(session: Session) -> dict[str, Any]:
    with session.anonymous() as c:
        hello = c.call("rpc.hello")
        info: dict[str, Any] = {"socket": str(session.socket), "server": hello["server"], "api": hello["api"],
                                "token_location": session.token_location, "authenticated": False}
        try:
            if session.token:
                c.call("auth.token", {"token": session.token})
            elif not hello["authenticated"]:
                info["auth_error"] = "no token, and this OS user is not linked to a zing user"
                return info
            info["user"] = c.call("auth.whoami")
            info.update(c.call("daemon.status"), authenticated=True)
        except Unauthenticated as e:
            info["auth_error"] = e.message
    return info


@app.command("status")
def status(session: Session, out: Output) -> None:
    """Show the daemon's health: version, uptime, connections, outbox, sessions, database, and your login."""
    info = _gather(session)
    if not out.for_people:
        out.item(info)
        return
    view: dict[str, Any] = {"server": f"zingd {info['server']} (api {info['api']})", "socket": info["socket"]}
    if info["authenticated"]:
        user, outbox = info["user"], info["outbox"]
        queued = f"{outbox['queued']} queued (oldest {output.duration(outbox['oldest_age_s'])})"
        view |= {"uptime": output.duration(info["uptime_s"]), "event seq": info["event_seq"]}
        if info["scope"] == "daemon":  # the operator sees every tenant's figures
            view |= {
                "pid": info["pid"], "data dir": info["data_dir"], "database": output.size(info["database_bytes"]),
                "outbox": f"{queued}, {outbox['sent']} sent, {outbox['failed']} failed",
                "subscribers": info["subscribers"], "sessions": info["sessions"],
            }
        else:
            view["outbox"] = f"{queued} (your company)"
        view["user"] = f"{user['email']} ({user['role']}, via {user['via']})"
    view["token"] = info["token_location"]
    out.item(view, title="zingd")
    if not info["authenticated"]:
        output.console().print(Text(f"not logged in: {info['auth_error']} (run `zingctl login`)", style="yellow"))
        return
    output.console().print()
    out.rows(info["connections"], CONNECTION_COLUMNS, title="connections", empty="no connections")
