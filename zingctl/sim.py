"""`zingctl sim`: drive the simulated WhatsApp network (demo, training, tests)."""

from __future__ import annotations

from typing import Annotated

import typer

from zingctl import inputs
from zingctl.commands import Typer
from zingctl.output import Output
from zingctl.session import Session

app = Typer(name="sim", help="The simulated network: customers write in, faults on demand.")

Connection = Annotated[int | None, typer.Option(
    "--connection", help="The sim connection id (default: the tenant's default sim number).")]


@app.command("say")
def say(
    session: Session, out: Output,
    sender: Annotated[str, typer.Option("--from", help="The customer's phone number (8 to 15 digits).")],
    text: Annotated[str, typer.Argument(
        metavar="TEXT|-", parser=inputs.text_or_stdin, help="What the customer writes (the caption of --image); "
        "`-` reads standard input.")] = "",
    name: Annotated[str, typer.Option("--name", help="The customer's WhatsApp push name.")] = "",
    image: Annotated[bool, typer.Option("--image", help="Send a (placeholder) picture instead of text.")] = False,
    connection: Connection = None,
) -> None:
    """A simulated customer writes to the helpdesk."""
    said = session.call("sim.say", {"from": sender, "body": text, "name": name,
                                    "type": "image" if image else "text", "connection_id": connection})
    state = "stored" if said["delivered"] else "queued on the network (the connection is down)"
    out.done(said, f"{sender} wrote ({said['wa_id']}): {state}")


@app.command("customers")
def customers(session: Session, out: Output) -> None:
    """List the demo's scripted customers."""
    out.rows(session.call("sim.customers"), [("Number", "number"), ("Name", "name")])


@app.command("fault")
def fault(
    session: Session, out: Output,
    disconnect: Annotated[float | None, typer.Option(
        "--disconnect", metavar="SECONDS", help="Take the network down for this long.")] = None,
    ban: Annotated[float | None, typer.Option(
        "--ban", metavar="SECONDS", help="Ban the number for this long (a final state while it lasts).")] = None,
    fail_rate: Annotated[float | None, typer.Option(
        "--fail-rate", metavar="RATE", help="Fail this share of sends, 0 to 1.")] = None,
    duplicates: Annotated[bool | None, typer.Option(
        "--duplicates/--no-duplicates", show_default=False, help="Deliver every inbound message twice.")] = None,
    lose_answers: Annotated[int | None, typer.Option(
        "--lose-answers", metavar="N", help="The next N sends reach the customer but their answer is lost "
                                            "(they become unconfirmed).")] = None,
    release_receipts: Annotated[bool, typer.Option(
        "--release-receipts", help="Deliver the receipts held back for those sends.")] = False,
    connection: Connection = None,
) -> None:
    """Inject faults; with no option, just show the current ones."""
    faults = session.call("sim.fault", {"disconnect_s": disconnect, "ban_s": ban, "send_failure_rate": fail_rate,
                                        "duplicate_inbound": duplicates, "lose_answers": lose_answers,
                                        "release_receipts": release_receipts, "connection_id": connection})
    out.item(faults, title="sim faults")


@app.command("journal")
def journal(session: Session, out: Output, connection: Connection = None) -> None:
    """Show counts from the simulated network's own journal (what customers sent and received)."""
    out.item(session.call("sim.journal", {"connection_id": connection}), title="sim journal")
