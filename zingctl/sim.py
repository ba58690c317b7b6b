"""`zingctl sim`: drive the simulated WhatsApp network (demo, training, tests)."""

from __future__ import annotations

from typing import Annotated

import typer

from zingctl import inputs, output, session

app = output.Typer(name="sim", help="The simulated network: customers write in, faults on demand.")

Connection = Annotated[int | None, typer.Option(
    "--connection", help="The sim connection id (default: the tenant's default sim number).")]


@app.command("say")
def say(
    sender: Annotated[str, typer.Option("--from", help="The customer's phone number (8 to 15 digits).")],
    text: Annotated[str, typer.Argument(help="What the customer writes (the caption of --image); `-` = stdin.")]
    = "",
    name: Annotated[str, typer.Option("--name", help="The customer's WhatsApp push name.")] = "",
    image: Annotated[bool, typer.Option("--image", help="Send a (placeholder) picture instead of text.")] = False,
    connection: Connection = None,
) -> None:
    """A simulated customer writes to the helpdesk."""
    out = session.call("sim.say", {"from": sender, "body": inputs.text_or_stdin(text), "name": name,
                                   "type": "image" if image else "text", "connection_id": connection})
    state = "stored" if out["delivered"] else "queued on the network (the connection is down)"
    output.done(out, f"{sender} wrote ({out['wa_id']}): {state}")


@app.command("customers")
def customers() -> None:
    """List the demo's scripted customers."""
    output.rows(session.call("sim.customers"), [("Number", "number"), ("Name", "name")])


@app.command("fault")
def fault(
    disconnect: Annotated[float | None, typer.Option(
        "--disconnect", metavar="SECONDS", help="Take the network down for this long.")] = None,
    ban: Annotated[float | None, typer.Option(
        "--ban", metavar="SECONDS", help="Ban the number for this long (a final state while it lasts).")] = None,
    fail_rate: Annotated[float | None, typer.Option(
        "--fail-rate", metavar="RATE", help="Fail this share of sends, 0 to 1.")] = None,
    duplicates: Annotated[bool | None, typer.Option(
        "--duplicates/--no-duplicates", show_default=False, help="Deliver every inbound message twice.")] = None,
    connection: Connection = None,
) -> None:
    """Inject faults; with no option, just show the current ones."""
    out = session.call("sim.fault", {"disconnect_s": disconnect, "ban_s": ban, "send_failure_rate": fail_rate,
                                     "duplicate_inbound": duplicates, "connection_id": connection})
    output.item(out, title="sim faults")


@app.command("journal")
def journal(connection: Connection = None) -> None:
    """Show counts from the simulated network's own journal (what customers sent and received)."""
    output.item(session.call("sim.journal", {"connection_id": connection}), title="sim journal")
