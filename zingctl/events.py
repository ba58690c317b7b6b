"""`zingctl events`: tail the daemon's live event stream, one line per event."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Annotated, Any

import typer
from rich.text import Text

from zingctl.commands import Typer
from zingctl.output import Output
from zingctl.session import Session
from zingd.rpc.client import ConnectionLost, DaemonUnreachable

app = Typer()


def summary(kind: str, data: dict[str, Any]) -> str:
    """The gist of an event's data, by what it carries."""
    if "message" in data:
        m = data["message"]
        body = " ".join((m.get("body") or "").split()) or f"[{m.get('type')}]"  # one line per event
        return f"ticket {m.get('ticket_id')} {'→' if m.get('direction') == 'out' else '←'} {body}"
    if "ticket" in data:
        t = data["ticket"]
        who = t.get("contact_name") or t.get("contact_push_name") or t.get("contact_number") or ""
        return f"ticket {t.get('id')} {t.get('status')} {who} {t.get('user_name') or ''}".rstrip()
    if "user" in data:
        u = data["user"]
        return f"user {u.get('id')} {u.get('name')} {u.get('status') or ''}".rstrip()
    if kind == "message.ack":
        return f"message {data.get('id')} on ticket {data.get('ticket_id')} {data.get('ack')}"
    if kind == "connection.updated":
        return f"connection {data.get('id')} {data.get('status')} {data.get('reason') or ''}".rstrip()
    return json.dumps(data, ensure_ascii=False)


def render(event: dict[str, Any]) -> Text:
    ts = datetime.fromtimestamp(event["ts"]).strftime("%H:%M:%S") if event.get("ts") else "--:--:--"
    return Text.assemble((f"{event.get('seq') or '':>6} ", "dim"), (ts, "dim"), " ",
                         (f"{event['type']:<20}", "cyan"), " ", summary(event["type"], event.get("data") or {}))


BACKOFF_S = (0.2, 0.5, 1.0, 2.0, 5.0)  # between tries to reach a daemon that went away


def _reconnect(session: Session, out: Output, topics: list[str], since: int) -> Iterator[dict[str, Any]]:
    """The events after ``since`` from a daemon that went away, once it is back: tries again with
    backoff, for as long as it takes (Ctrl-C stops), and resubscribes from there so nothing is missed."""
    out.status(f"zingd went away after seq {since}; reconnecting (Ctrl-C to stop)")
    for attempt in itertools.count():
        session.close()
        try:
            client = session.client()
            client.call("events.subscribe", {"topics": topics, "since_seq": since})
            out.status(f"reconnected; following events after seq {since}")
            return client.iter_events()
        except (DaemonUnreachable, ConnectionLost, OSError):
            time.sleep(BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)])


@app.command("events")
def events(
    session: Session, out: Output,
    topic: Annotated[list[str] | None, typer.Option(
        "--topic", "-t", help="tenant, ticket:<id> or type:<event type> (repeatable) [default: tenant].")] = None,
    since: Annotated[int | None, typer.Option(
        "--since", metavar="SEQ", help="First replay every event after this sequence number.")] = None,
    kinds: Annotated[list[str] | None, typer.Option(
        "--type", help="Show only these event types; patterns like 'message.*' work (repeatable).")] = None,
) -> None:
    """Tail the live event stream, one line per event, until Ctrl-C (exit 0).

    When the daemon goes away (a restart), it says so on stderr, reconnects with backoff and goes on
    from the last event it saw: none is missed or shown twice. --json prints JSON lines too: a stream
    has no single document.
    """
    topics = topic or ["tenant"]
    client = session.client()
    sub = client.call("events.subscribe", {"topics": topics, "since_seq": since})
    last = since if since is not None else sub["seq"]
    out.note(f"following events after seq {last} (Ctrl-C to stop)")
    stream = client.iter_events()
    try:
        while True:
            try:
                for event in stream:
                    if event.get("seq"):  # a "lagged" notice has none
                        last = event["seq"]
                    if not kinds or any(fnmatchcase(event["type"], k) for k in kinds):
                        out.line(event, render(event))
            except (ConnectionLost, OSError):
                stream = _reconnect(session, out, topics, last)
    except KeyboardInterrupt:
        pass
