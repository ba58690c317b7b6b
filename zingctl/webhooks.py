"""`zingctl webhooks`: POST the tenant's events to other systems, signed and retried."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from zingctl import output
from zingctl.commands import Typer
from zingctl.output import Output
from zingctl.session import Session

app = Typer(name="webhooks", help="Send events to a URL (HMAC-signed): create, list, show, pause, dead letters, "
                                  "replay.")


def trouble(w: dict[str, Any]) -> str:
    """What holds a webhook up, in words: "retrying event 42 (attempt 3) at 12:01:05", or ""."""
    if w.get("retry_seq") is None:
        return ""
    return f"retrying event {w['retry_seq']} (attempt {w['retry_attempts'] + 1}) at {output.when(w['next_attempt_at'])}"


def last_error(w: dict[str, Any]) -> str:
    return f"{w['last_error']} ({output.when(w['last_error_at'])})" if w.get("last_error") else ""


COLUMNS: list[output.Column] = [
    ("ID", "id"), ("URL", "url"), ("Events", lambda w: ", ".join(w.get("event_types") or []) or "all"),
    ("Enabled", lambda w: "yes" if w.get("enabled") else "no"), ("Cursor", "last_seq"), ("Failures", "failures"),
    ("Last error", last_error), ("Next retry", trouble), ("Dead letters", "dead_letters"), ("Created", "created_at"),
]
DELIVERY_COLUMNS: list[output.Column] = [
    ("Seq", "event_seq"), ("Event", "event_type"), ("Status", "status"), ("HTTP", "http_status"),
    ("Attempts", "attempts"), ("Error", "last_error"), ("First failed", "created_at"),
]

WebhookId = Annotated[int, typer.Argument(help="Webhook id.")]


def _said(out: Output, w: dict[str, Any], verb: str) -> None:
    out.done(w, f"{verb} webhook {w['id']} {w['url']} ({'enabled' if w.get('enabled') else 'disabled'})")


@app.command("create")
def create(
    session: Session, out: Output,
    url: Annotated[str, typer.Argument(help="An http(s) URL that receives the POSTs.")],
    event: Annotated[list[str] | None, typer.Option(
        "--event", "-e", metavar="TYPE", help="Only this event type, e.g. ticket.created (repeatable; "
        "default: all; an unknown one is refused with the list of known ones).")] = None,
    from_start: Annotated[bool, typer.Option(
        "--from-start", help="Also deliver the stored past events, not only new ones.")] = False,
) -> None:
    """Add a webhook; its signing secret is shown only now."""
    w = session.call("webhook.create", {"url": url, "event_types": event or [], "from_now": not from_start})
    out.item(w, title=f"webhook {w['id']}")
    out.note("the secret is shown only this once: verify X-Zing-Signature = "
             "sha256=HMAC(secret, \"<X-Zing-Timestamp>.<body>\")")


@app.command("list")
def list_(session: Session, out: Output) -> None:
    """List the webhooks with their delivery cursor and trouble: failures, last error, next retry, dead letters."""
    out.rows(session.call("webhook.list"), COLUMNS, empty="no webhooks")


@app.command("show")
def show(session: Session, out: Output, webhook_id: WebhookId) -> None:
    """Show one webhook: its cursor, the failures since its last delivery, the last error and the next retry."""
    w = session.call("webhook.get", {"id": webhook_id})
    if out.for_people:
        w = {**w, "last_error": last_error(w), "next retry": trouble(w)}
    out.item(w, title=f"webhook {webhook_id}")


@app.command("delete")
def delete(session: Session, out: Output, webhook_id: WebhookId) -> None:
    """Stop and remove a webhook."""
    w = session.call("webhook.delete", {"id": webhook_id})
    out.done(w, f"deleted webhook {w['id']} {w['url']}")


@app.command("enable")
def enable(session: Session, out: Output, webhook_id: WebhookId) -> None:
    """Resume deliveries (from where they stopped)."""
    _said(out, session.call("webhook.update", {"id": webhook_id, "enabled": True}), "enabled")


@app.command("disable")
def disable(session: Session, out: Output, webhook_id: WebhookId) -> None:
    """Pause deliveries; events keep being stored for when it is enabled again."""
    _said(out, session.call("webhook.update", {"id": webhook_id, "enabled": False}), "disabled")


@app.command("dead-letters")
def dead_letters(
    session: Session, out: Output,
    webhook_id: WebhookId,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many at most.")] = 100,
) -> None:
    """List the events a webhook gave up on (and those queued for a replay), newest first."""
    out.rows(session.call("webhook.dead_letters", {"id": webhook_id, "limit": limit}), DELIVERY_COLUMNS,
             empty="no dead letters")


app.command("deliveries", hidden=True)(dead_letters)  # its old name


@app.command("replay")
def replay(
    session: Session, out: Output,
    webhook_id: WebhookId,
    seqs: Annotated[list[int] | None, typer.Argument(
        metavar="[SEQ]...", help="The dead letters' event seqs (default: all of them).")] = None,
) -> None:
    """Send dead letters again, once each, before the events not sent yet; those that fail stay dead letters."""
    r = session.call("webhook.replay", {"id": webhook_id, "seqs": seqs or None})
    gone = f"; {len(r['gone'])} can't be: their events were pruned ({', '.join(map(str, r['gone']))})" \
        if r["gone"] else ""
    out.done(r, f"webhook {webhook_id}: {len(r['queued'])} dead letter(s) queued to be sent again{gone}")
