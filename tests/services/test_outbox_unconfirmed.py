"""The outbox and a send that does not answer in time (issue 12, item 7): the message becomes
unconfirmed and is not sent again; the attempt's late answer settles it (sent), or, when it proves
the message never left, it is due again."""

from __future__ import annotations

import asyncio

from tests.helpers import until
from zingd.channels.base import OutboundMessage, SendError, SendResult
from zingd.config import OutboxSettings, PacingSettings
from zingd.metrics import Metrics
from zingd.services.governor import Governor
from zingd.workers.outbox import Outbox


class SlowChannel:
    """A connected channel whose sends wait for ``gate``, then answer (or raise ``fail``)."""

    state = "connected"
    resend_is_safe = True

    def __init__(self, connection_id: int) -> None:
        self.connection_id = connection_id
        self.gate = asyncio.Event()
        self.fail: SendError | None = None
        self.sends: list[str] = []

    async def send(self, msg: OutboundMessage) -> SendResult:
        self.sends.append(msg.wa_id)
        await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        return SendResult(msg.wa_id, 0.0)


class OneChannel:
    def __init__(self, channel: SlowChannel) -> None:
        self.channel = channel

    def get(self, connection_id: int) -> SlowChannel | None:
        return self.channel if connection_id == self.channel.connection_id else None

    def ids(self) -> list[int]:
        return [self.channel.connection_id]

    def is_connected(self, connection_id: int) -> bool:
        return True


async def _soon(check) -> None:
    """Yield to the loop until ``check()`` (a value or an awaitable of one) is true."""
    for _ in range(500):
        value = check()
        if await value if asyncio.iscoroutine(value) else value:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met")


async def _stalled(db, seed, customers, clock, fail: SendError | None = None):
    channel = SlowChannel(seed.connection)
    channel.fail = fail
    outbox = Outbox(db, db.bus, OneChannel(channel), clock, OutboxSettings(send_timeout_s=0.05), Metrics(),
                    Governor(db, clock, PacingSettings()))
    outbox.start()
    await customers.say("5511988880001", "oi")
    [msg] = await db.all("SELECT id, wa_id FROM messages WHERE direction = 'out'")  # the welcome message

    async def ack(expected: str | None = None):
        value = await db.value("SELECT ack FROM messages WHERE id = ?", (msg["id"],))
        return value if expected is None else value == expected
    await until(lambda: outbox.unconfirmed == 1, what="unconfirmed")
    assert await ack() == "unconfirmed"
    assert not await db.value("SELECT count(*) FROM outbox"), "not due again: it may have gone out"
    return outbox, channel, msg, ack


async def test_a_late_answer_marks_an_unconfirmed_message_sent(db, seed, customers, clock):
    outbox, channel, msg, ack = await _stalled(db, seed, customers, clock)
    try:
        channel.gate.set()
        await _soon(lambda: ack("sent"))
        assert channel.sends == [msg["wa_id"]]
    finally:
        await outbox.stop()


async def test_a_late_not_sent_answer_makes_it_due_again(db, seed, customers, clock):
    outbox, channel, msg, ack = await _stalled(db, seed, customers, clock,
                                               SendError("websocket not connected", retryable=True))
    try:
        channel.gate.set()
        await _soon(lambda: len(channel.sends) == 2)
        assert channel.sends == [msg["wa_id"]] * 2, "proven not sent: the outbox sends it again"
    finally:
        await outbox.stop()
