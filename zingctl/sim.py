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
    voice: Annotated[int | None, typer.Option(
        "--voice", metavar="SECONDS", help="Send a voice note this long (recorded in WhatsApp: it has a "
        "waveform), instead of text.")] = None,
    audio: Annotated[int | None, typer.Option(
        "--audio", metavar="SECONDS", help="Send an audio file this long (not a voice note), instead of text.")]
    = None,
    connection: Connection = None,
) -> None:
    """A simulated customer writes to the helpdesk, or sends a picture, a voice note or an audio file."""
    if sum((image, voice is not None, audio is not None)) > 1:
        raise typer.BadParameter("choose one of --image, --voice and --audio")
    seconds = voice if voice is not None else audio
    kind = "image" if image else "audio" if seconds is not None else "text"
    said = session.call("sim.say", {"from": sender, "body": text, "name": name, "type": kind, "seconds": seconds,
                                    "ptt": False if audio is not None else None, "connection_id": connection})
    state = "stored" if said["delivered"] else "queued on the network (the connection is down)"
    what = {"image": "sent a picture", "audio": f"sent {'a voice note' if voice is not None else 'audio'} "
            f"of {seconds}s"}.get(kind, "wrote")
    out.done(said, f"{sender} {what} ({said['wa_id']}): {state}")


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
    fail_downloads: Annotated[int | None, typer.Option(
        "--fail-downloads", metavar="N", help="The next N files customers send fail to download "
                                              "(`zingctl messages fetch-media` gets them).")] = None,
    connection: Connection = None,
) -> None:
    """Inject faults; with no option, just show the current ones."""
    faults = session.call("sim.fault", {"disconnect_s": disconnect, "ban_s": ban, "send_failure_rate": fail_rate,
                                        "duplicate_inbound": duplicates, "lose_answers": lose_answers,
                                        "release_receipts": release_receipts, "failed_downloads": fail_downloads,
                                        "connection_id": connection})
    out.item(faults, title="sim faults")


@app.command("journal")
def journal(session: Session, out: Output, connection: Connection = None) -> None:
    """Show counts from the simulated network's own journal (what customers sent and received)."""
    out.item(session.call("sim.journal", {"connection_id": connection}), title="sim journal")
