"""A network that picks its own message ids (the Cloud API) and one that says "too fast".

zing fixes a message's id before the first attempt; the Cloud API answers with its own wamid. The
message takes that id once sent, and a status that names zing's id only (the send's answer was lost)
still finds the message, proves it and gives it the network's id. A throttled send holds the number's
sender and slows the governor's automated sends."""

from __future__ import annotations

from tests.helpers import until
from tests.services.test_outbox_unconfirmed import OneChannel, SlowChannel, _soon, _stalled
from zingd.channels.base import OutboundMessage, Receipt, SendError, SendResult
from zingd.config import OutboxSettings, PacingSettings
from zingd.metrics import Metrics
from zingd.services import inbound
from zingd.services.governor import Governor
from zingd.workers.outbox import Outbox


class WamidChannel(SlowChannel):
    """Sends at once and answers with the network's own id, or raises ``fail`` once."""

    def __init__(self, connection_id: int) -> None:
        super().__init__(connection_id)
        self.gate.set()

    async def send(self, msg: OutboundMessage) -> SendResult:
        self.sends.append(msg.wa_id)
        if self.fail is not None:
            fail, self.fail = self.fail, None
            raise fail
        return SendResult(f"wamid.{msg.wa_id}", 0.0)


async def _message(db):
    return await db.one("SELECT id, wa_id, ack, error FROM messages WHERE direction = 'out'")


async def test_a_sent_message_takes_the_networks_id_and_its_receipts_find_it(db, seed, customers, clock):
    channel = WamidChannel(seed.connection)
    outbox = Outbox(db, db.bus, OneChannel(channel), clock, OutboxSettings(), Metrics(),
                    Governor(db, clock, PacingSettings()))
    outbox.start()
    try:
        await customers.say("5511988880001", "oi")  # the welcome message goes out
        await _soon(lambda: outbox.sent == 1)
        msg = await _message(db)
        assert msg["wa_id"] == f"wamid.{channel.sends[0]}" and msg["ack"] == "sent"
        await db.write(inbound.apply_receipt, seed.connection,
                       Receipt("5511988880001@s.whatsapp.net", [msg["wa_id"]], "delivered", 0.0))
        assert (await _message(db))["ack"] == "delivered"
    finally:
        await outbox.stop()


async def test_a_status_naming_zings_id_proves_an_unconfirmed_send(db, seed, customers, clock):
    outbox, channel, msg, ack = await _stalled(db, seed, customers, clock)
    try:
        chat = "5511988880001@s.whatsapp.net"
        moved = await db.write(inbound.apply_receipt, seed.connection,
                               Receipt(chat, ["wamid.NETWORK1"], "sent", 0.0, ours=[msg["wa_id"]]))
        assert moved == 1 and await ack() == "sent"
        assert (await _message(db))["wa_id"] == "wamid.NETWORK1", "it now answers to the network's id"
        await db.write(inbound.apply_receipt, seed.connection, Receipt(chat, ["wamid.NETWORK1"], "read", 0.0))
        assert await ack() == "read"
        assert not await db.value("SELECT count(*) FROM outbox")
    finally:
        channel.gate.set()
        await outbox.stop()


async def test_a_failed_status_fails_the_message_with_the_networks_error(db, seed, customers, clock):
    outbox, channel, msg, ack = await _stalled(db, seed, customers, clock)
    try:
        await db.write(inbound.apply_receipt, seed.connection,
                       Receipt("x@s.whatsapp.net", ["wamid.N2"], "failed", 0.0, ours=[msg["wa_id"]],
                               error="131026: message undeliverable"))
        row = await _message(db)
        assert row["ack"] == "failed" and row["error"] == "131026: message undeliverable"
        unknown = await db.write(inbound.apply_receipt, seed.connection,
                                 Receipt("x@s.whatsapp.net", ["wamid.NOBODY"], "read", 0.0, ours=["ZZZ"]))
        assert unknown == 0, "a status for a message zing never sent changes nothing"
    finally:
        channel.gate.set()
        await outbox.stop()


async def test_a_throttled_send_holds_the_number_and_slows_its_automated_sends(db, seed, customers, clock):
    channel = WamidChannel(seed.connection)
    channel.fail = SendError("(#130429) Rate limit hit", retryable=True, throttle_s=30.0)
    governor = Governor(db, clock, PacingSettings(min_interval_s=10, jitter_s=0, quiet_start="00:00",
                                                  quiet_end="00:00"))
    outbox = Outbox(db, db.bus, OneChannel(channel), clock, OutboxSettings(backoff_base_s=0.01), Metrics(), governor)
    outbox.start()
    try:
        await customers.say("5511988880001", "oi")
        await until(lambda: len(channel.sends) == 1, what="the throttled attempt")
        pace = await governor.pace(seed.connection)
        described = governor.describe(pace)
        assert described["throttled_until"] == clock() + 30.0
        assert "130429" in described["throttle_reason"]
        assert governor.next_slot(pace, clock()) >= clock() + 30.0, "automated sends wait out the throttle"
        pace.last, pace.gap = clock() + 30.0, None
        assert governor.next_slot(pace, clock() + 30.0) == clock() + 30.0 + 20.0, "then twice as far apart"
        governor.slow_down(seed.connection, 30.0, "again")
        pace.gap = None
        assert governor.next_slot(pace, clock() + 30.0) == clock() + 30.0 + 40.0, "a second throttle: four times"
    finally:
        await outbox.stop()


async def test_a_throttled_message_keeps_its_place_and_its_attempts(db, seed, customers, clock):
    channel = WamidChannel(seed.connection)
    channel.fail = SendError("(#130429) Rate limit hit", retryable=True, throttle_s=3600.0)
    outbox = Outbox(db, db.bus, OneChannel(channel), clock, OutboxSettings(), Metrics(),
                    Governor(db, clock, PacingSettings()))
    outbox.start()
    try:
        await customers.say("5511988880001", "oi")
        await until(lambda: len(channel.sends) == 1, what="the throttled attempt")
        await _soon(lambda: db.value("SELECT last_error IS NOT NULL FROM outbox"))
        row = await db.one("SELECT attempts, last_error, next_attempt_at FROM outbox")
        assert row["attempts"] == 0 and "130429" in row["last_error"], "a throttle is not a failed attempt"
        assert row["next_attempt_at"] <= clock(), "still first in line once the hold ends"
        assert (await _message(db))["ack"] == "queued"
    finally:
        await outbox.stop()


class CloudLike(WamidChannel):
    """A network that gives every send its own id: sending again would be a second message."""

    resend_is_safe = False

    def __init__(self, connection_id: int) -> None:
        super().__init__(connection_id)
        self.gate.clear()

    async def send(self, msg: OutboundMessage) -> SendResult:
        self.sends.append(msg.wa_id)
        await self.gate.wait()
        return SendResult(f"wamid.{msg.wa_id}", 0.0)


async def test_a_send_cut_off_by_a_crash_is_unconfirmed_not_sent_again(db, seed, customers, clock):
    """zingd dies while Graph holds the request (the outbox task is cancelled, nothing settles it): on
    the next start the stamped row becomes unconfirmed; the customer never gets it twice."""
    channel = CloudLike(seed.connection)
    first = Outbox(db, db.bus, OneChannel(channel), clock, OutboxSettings(), Metrics(),
                   Governor(db, clock, PacingSettings()))
    first.start()
    await customers.say("5511988880001", "oi")
    await until(lambda: len(channel.sends) == 1, what="the send in flight")
    assert await db.value("SELECT started_at IS NOT NULL FROM outbox"), "stamped before it left"
    await first.stop()  # the crash: the attempt never answered

    again = Outbox(db, db.bus, OneChannel(channel), clock, OutboxSettings(), Metrics(),
                   Governor(db, clock, PacingSettings()))
    again.start()
    try:
        await _soon(lambda: again.unconfirmed == 1)
        row = await _message(db)
        assert row["ack"] == "unconfirmed" and "stopped while sending" in row["error"]
        assert channel.sends == [row["wa_id"]], "not sent a second time"
        await db.write(inbound.apply_receipt, seed.connection,
                       Receipt("5511988880001@s.whatsapp.net", ["wamid.LATE"], "delivered", 0.0, ours=[row["wa_id"]]))
        assert (await _message(db))["ack"] == "delivered", "Meta's status, carrying zing's id, settles it"
    finally:
        await again.stop()
