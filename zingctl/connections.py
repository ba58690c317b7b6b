"""`zingctl connections`: the tenant's WhatsApp numbers (and simulated ones), including pairing."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterable
from typing import Annotated, Any

import segno
import typer
from rich.text import Text

from zingctl import output
from zingctl.commands import Typer
from zingctl.inputs import FileOrStdin, json_document, text_or_stdin
from zingctl.output import Output
from zingctl.session import CLEAR, Session
from zingd.channels.base import FINAL_STATES

app = Typer(name="connections", help="WhatsApp numbers: add, pair, restart, log out, menu, pacing, queues, "
                                     "cloud accounts.")


def _cloud(c: dict[str, Any], key: str) -> str:
    return str((c.get("cloud") or {}).get(key) or "")


COLUMNS: list[output.Column] = [
    ("ID", "id"), ("Name", "name"), ("Kind", "kind"), ("Status", "status"), ("Reason", "status_reason"),
    ("Default", lambda c: "yes" if c.get("is_default") else ""), ("Phone", "phone"),
    ("Running", lambda c: "yes" if c.get("running") else "no"),
    ("Quality", lambda c: _cloud(c, "quality_rating")), ("Limit", lambda c: _cloud(c, "messaging_limit")),
    # locked, banned, logged out…: what to do, in the kind's words (zingd.services.connections)
    ("Advice", "advice"),
]

ConnectionId = Annotated[int, typer.Argument(help="Connection id.")]
Greeting = Annotated[str | None, typer.Option("--greeting", help="Sent when a new ticket starts.")]
Farewell = Annotated[str | None, typer.Option("--farewell", help="Sent when a ticket is closed.")]
# A cloud number's account (docs/cloud.md). Secrets are TEXT|-: `-` reads standard input, which keeps
# them out of the shell's history and of `ps`.
PhoneNumberId = Annotated[str | None, typer.Option(
    "--phone-number-id", help="Cloud: the number's id in Meta's WhatsApp Manager (API Setup), digits.")]
BusinessAccountId = Annotated[str | None, typer.Option(
    "--business-account-id", help="Cloud: the WhatsApp Business Account id (WABA), digits.")]
# Each secret may also come from the environment (ZING_CLOUD_*), so a script keeps all three off the
# command line, where `ps` and the shell's history would show them.
AccessToken = Annotated[str | None, typer.Option(
    "--access-token", metavar="TEXT|-", envvar="ZING_CLOUD_ACCESS_TOKEN", show_envvar=True,
    help="Cloud: a system user's access token; `-` reads it from standard input. Stored in zingd's database, "
    "never shown again.")]
AppSecret = Annotated[str | None, typer.Option(
    "--app-secret", metavar="TEXT|-", envvar="ZING_CLOUD_APP_SECRET", show_envvar=True,
    help="Cloud: the Meta app's secret, which signs the webhooks; `-` reads standard input.")]
VerifyToken = Annotated[str | None, typer.Option(
    "--verify-token", metavar="TEXT|-", envvar="ZING_CLOUD_VERIFY_TOKEN", show_envvar=True,
    help="Cloud: a word of your choice, the same in Meta's webhook settings; `-` reads standard input.")]
ApiVersion = Annotated[str | None, typer.Option("--api-version", help="Cloud: Graph's API version, e.g. v23.0.")]
GraphUrl = Annotated[str | None, typer.Option(
    "--graph-url", help="Cloud: where Graph is (a proxy's https URL); default https://graph.facebook.com.")]
SECRETS = {"access_token": "--access-token", "app_secret": "--app-secret", "verify_token": "--verify-token"}


def _said(out: Output, c: dict[str, Any], verb: str) -> None:
    out.done(c, f"{verb} connection {c['id']} {c['name']!r} ({c['status']})")


@app.command("list")
def list_(session: Session, out: Output) -> None:
    """List the numbers with their live state."""
    out.rows(session.call("connection.list"), COLUMNS, empty="no connections")


def _secret(value: str | None, key: str) -> str:
    """A secret option of `add`: as given (`-`: standard input), else asked for without echo on a
    terminal; a script that left it out gets a usage error, never a prompt it can't answer."""
    option = SECRETS[key]
    if value is not None:
        return text_or_stdin(value).strip()
    if not sys.stdin.isatty():
        env = "ZING_CLOUD_" + key.upper()
        raise typer.BadParameter(f"a cloud number needs it: {option} - to read standard input, or ${env}",
                                 param_hint=option)
    return typer.prompt(key.replace("_", " ").capitalize(), hide_input=True).strip()


def _account(given: dict[str, str | None], secrets: dict[str, str | None], ask: bool) -> dict[str, str]:
    """The ``cloud`` params from the options given: every secret on `add` (``ask``), only the given ones
    on `update`."""
    out = {k: v for k, v in given.items() if v is not None}
    for key, value in secrets.items():
        if ask:
            out[key] = _secret(value, key)
        elif value is not None:
            out[key] = text_or_stdin(value).strip()
    return out


@app.command("add")
def add(
    session: Session, out: Output,
    name: Annotated[str, typer.Argument(help="A name for the number, e.g. Sales.")],
    kind: Annotated[str, typer.Option("--kind", help="sim (simulated, starts at once), whatsapp (then pair) or "
                                                     "cloud (Meta's Cloud API: give its ids and secrets).")]
    = "sim",
    default: Annotated[bool, typer.Option("--default", help="Make it the tenant's default number.")] = False,
    greeting: Greeting = None, farewell: Farewell = None,
    phone_number_id: PhoneNumberId = None, business_account_id: BusinessAccountId = None,
    access_token: AccessToken = None, app_secret: AppSecret = None, verify_token: VerifyToken = None,
    api_version: ApiVersion = None, graph_url: GraphUrl = None,
) -> None:
    """Add a number; a whatsapp one waits for `zingctl connections pair`, a cloud one connects with its
    access token (a secret left out is asked for on a terminal)."""
    given = {"phone_number_id": phone_number_id, "business_account_id": business_account_id,
             "api_version": api_version, "base_url": graph_url}
    secrets = {"access_token": access_token, "app_secret": app_secret, "verify_token": verify_token}
    if kind != "cloud" and any(v is not None for v in (*given.values(), *secrets.values())):
        raise typer.BadParameter("the cloud options are for --kind cloud", param_hint="--kind")
    cloud = None
    if kind == "cloud":
        for key, option in (("phone_number_id", "--phone-number-id"),
                            ("business_account_id", "--business-account-id")):
            if not (given[key] or "").strip():
                raise typer.BadParameter("a cloud number needs it (WhatsApp Manager > API Setup shows it)",
                                         param_hint=option)
        cloud = _account(given, secrets, ask=True)
    c = session.call("connection.create", {"name": name, "kind": kind, "is_default": default,
                                           "greeting": greeting, "farewell": farewell, "cloud": cloud})
    _said(out, c, "added")
    if c.get("cloud"):
        out.note(f"Meta's webhook goes to https://<this server's public name>{c['cloud']['webhook_path']} "
                 "(see docs/cloud.md)")


def _flat(c: dict[str, Any]) -> dict[str, Any]:
    """One number for people: a cloud account's fields beside the number's, its secrets by their
    last characters."""
    out = {k: v for k, v in c.items() if k != "cloud"}
    cloud = c.get("cloud")
    if cloud:
        for key in ("display_phone", "verified_name", "quality_rating", "messaging_limit", "phone_number_id",
                    "business_account_id", "api_version", "base_url", "webhook_path", "last_notice"):
            out[key] = cloud.get(key)
        for key in SECRETS:
            out[key] = cloud.get(f"{key}_hint") or "(none)"
    return out


@app.command("show")
def show(session: Session, out: Output, connection_id: ConnectionId) -> None:
    """Show one number with its live state and health (a cloud one with its account, secrets by their
    last characters)."""
    c = session.call("connection.get", {"id": connection_id})
    if out.for_people:
        out.item(_flat(c), title="connection")
    else:
        out.raw(c)


@app.command("update")
def update(
    session: Session, out: Output,
    connection_id: ConnectionId,
    name: Annotated[str | None, typer.Option("--name", help="New name.")] = None,
    default: Annotated[bool | None, typer.Option("--default/--no-default", show_default=False,
                                                 help="Make it (or stop it being) the default number.")] = None,
    greeting: Greeting = None, farewell: Farewell = None,
    menu: Annotated[list | None, typer.Option(
        "--menu", metavar="FILE|-", parser=FileOrStdin(json_document(list)), help='The chatbot menu: a JSON array '
        'like [{"label": "Sales", "queue_id": 1}] (options may nest their own "options"); `-` reads standard '
        "input.")] = None,
    groups: Annotated[str | None, typer.Option(
        "--groups", metavar="ignore|route|chatbot", help="WhatsApp group messages: ignore them, route them "
        "quietly (the default: no chatbot, greeting or out-of-hours reply), or let the chatbot answer.")] = None,
    default_queue: Annotated[int | None, typer.Option(
        "--default-queue", metavar="QUEUE_ID", help="Where tickets go when the menu gets no valid answer.")] = None,
    no_default_queue: Annotated[bool, typer.Option(
        "--no-default-queue", help="No default queue: tickets the menu can't place stay unassigned.")] = False,
    menu_retries: Annotated[int | None, typer.Option(
        "--menu-retries", metavar="N", help="Invalid menu answers before the default queue.")] = None,
    pacing: Annotated[dict | None, typer.Option(
        "--pacing", metavar="FILE|-", parser=FileOrStdin(json_document(dict)), help="Pacing limits for automated "
        "sends, a JSON object (min_interval_s, jitter_s, pause_every, pause_s, daily_cap, quiet_start, quiet_end, "
        "warmup); `-` reads standard input.")] = None,
    call_reply: Annotated[str | None, typer.Option(
        "--call-reply", metavar="TEXT", help="Sent when a customer calls (zing takes no calls); \"\" for none.")]
    = None,
    phone_number_id: PhoneNumberId = None, business_account_id: BusinessAccountId = None,
    access_token: AccessToken = None, app_secret: AppSecret = None, verify_token: VerifyToken = None,
    api_version: ApiVersion = None, graph_url: GraphUrl = None,
) -> None:
    """Rename a number, make it the default, set its greeting, farewell, chatbot menu, group handling, pacing
    or call reply; for a cloud number, change its account (a new secret rotates the old one; the number
    reconnects with it)."""
    if groups is not None and groups not in ("ignore", "route", "chatbot"):
        raise typer.BadParameter("ignore, route or chatbot", param_hint="--groups")
    if no_default_queue and default_queue is not None:
        raise typer.BadParameter("give --default-queue or --no-default-queue, not both")
    settings = {"menu": menu, "groups": groups, "default_queue_id": CLEAR if no_default_queue else default_queue,
                "menu_max_retries": menu_retries, "pacing": pacing,
                "call_reply": CLEAR if call_reply == "" else call_reply}
    settings = {k: None if v is CLEAR else v for k, v in settings.items() if v is not None}
    cloud = _account({"phone_number_id": phone_number_id, "business_account_id": business_account_id,
                      "api_version": api_version, "base_url": graph_url},
                     {"access_token": access_token, "app_secret": app_secret, "verify_token": verify_token},
                     ask=False)
    c = session.call("connection.update", {"id": connection_id, "name": name, "is_default": default,
                                           "greeting": greeting, "farewell": farewell,
                                           "settings": settings or None, "cloud": cloud or None})
    _said(out, c, "updated")


@app.command("queues")
def queues(
    session: Session, out: Output,
    connection_id: ConnectionId,
    queue_ids: Annotated[list[int] | None, typer.Argument(
        metavar="QUEUE_ID", help="The queues its chatbot menu offers.", show_default=False)] = None,
    every: Annotated[bool, typer.Option("--all", help="Offer all of the tenant's queues (clears the list).")]
    = False,
) -> None:
    """Choose which queues a number's chatbot menu offers (the list is replaced)."""
    if bool(queue_ids) == every:
        raise typer.BadParameter("give QUEUE_IDs, or --all for every queue of the tenant")
    chosen = session.call("connection.set_queues", {"id": connection_id, "queue_ids": queue_ids or []})
    offered = ", ".join(map(str, chosen["queue_ids"])) or "all of the tenant's queues"
    out.done(chosen, f"connection {connection_id} offers queues: {offered}")


@app.command("delete")
def delete(session: Session, out: Output, connection_id: ConnectionId) -> None:
    """Remove a number that never had tickets."""
    out.done(session.call("connection.delete", {"id": connection_id}), f"deleted connection {connection_id}")


@app.command("restart")
def restart(session: Session, out: Output, connection_id: ConnectionId) -> None:
    """Stop and start one number without restarting the daemon."""
    _said(out, session.call("connection.restart", {"id": connection_id}), "restarted")


@app.command("logout")
def logout(session: Session, out: Output, connection_id: ConnectionId) -> None:
    """Unlink the number from WhatsApp; it must be paired again. A cloud number stops and zing forgets its
    access token, until `zingctl connections update ID --access-token -`."""
    _said(out, session.call("connection.logout", {"id": connection_id}), "logged out")


@app.command("pair")
def pair(
    session: Session, out: Output,
    connection_id: ConnectionId,
    phone: Annotated[str | None, typer.Option(
        "--phone", help="Pair by code instead of QR: the number in international format, digits only.")] = None,
) -> None:
    """Pair a WhatsApp number: shows each new QR code (or the pairing code) until it connects.

    Exits 0 once connected, 1 if WhatsApp refuses it (logged out, banned, outdated) or on Ctrl-C.
    --json / --jsonl print each update as a JSON line.
    """
    client = session.client()
    client.call("events.subscribe", {"topics": ["type:connection.updated"]})  # before pairing: miss no QR
    first = client.call("connection.pair", {"id": connection_id, "phone": phone})
    events = itertools.chain([{"type": "connection.updated", "data": first}], client.iter_events())
    try:
        code = follow(events, connection_id, out)
    except KeyboardInterrupt:
        out.error("pairing stopped before the number connected")
        code = 1
    raise typer.Exit(code)


def follow(events: Iterable[dict[str, Any]], connection_id: int, out: Output) -> int:
    """Show the pairing codes of one connection's updates; the exit code once it settles."""
    shown: set[str] = set()
    for event in events:
        data = event.get("data") or {}
        if event.get("type") != "connection.updated" or data.get("id") != connection_id:
            continue
        fresh = [key for key in ("qr", "pair_code") if data.get(key) and data[key] not in shown]
        shown.update(data[key] for key in fresh)
        status = data.get("status")
        out.line(data, Text(f"connection {connection_id}: {status} {data.get('reason') or ''}".rstrip()))
        if out.for_people and "qr" in fresh:
            output.console().print("Scan with WhatsApp → Settings → Linked devices → Link a device:")
            segno.make(data["qr"], error="l").terminal(out=sys.stdout, compact=True)
        if out.for_people and "pair_code" in fresh:
            output.console().print(Text.assemble("Enter this code on the phone: ", (data["pair_code"], "bold")))
        if status == "connected":
            return 0
        if status in FINAL_STATES:
            out.error(f"connection {connection_id} is {status}: {data.get('reason') or 'no reason given'}",
                      status)
            return 1
    return 1
