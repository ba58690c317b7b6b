"""The durable send queue's worker: one sender per connection.

A message reaches the channel only after its ``queued`` row and outbox row are
committed, always under the WhatsApp id fixed then. Sent -> the outbox row goes
and the ack moves to ``sent``. A retryable failure backs off exponentially
(jittered, capped); after ``max_attempts`` the message is ``failed`` and the
agent can retry it. A crash between the network send and the commit means the
same id is sent again on restart, which the network shows once; where it would not
(the Cloud API gives every send its own id), the attempt is stamped before it
leaves and a stamped row found on restart becomes ``unconfirmed`` instead.

A throttled send (the network says the number sends too fast) is not counted as
an attempt: the number's sender holds for as long as the network asks, then
reads its queue again, in order.

Only failures that mean "not sent" (refused before the request left) are
retried. A send that may have reached WhatsApp (the channel says
``unconfirmed``, or it did not answer within ``send_timeout_s``) is never
resent on its own: the message becomes ``unconfirmed``; a receipt, or the
attempt's late answer, moves it on, and only the agent can send it again.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from functools import partial
from typing import TYPE_CHECKING, Any

from zingd.bus import Bus, Event
from zingd.channels.backoff import Backoff
from zingd.channels.base import OutboundMessage, SendError
from zingd.store import messages as M
from zingd.store.db import Database, Tx
from zingd.store.rows import loads

if TYPE_CHECKING:
    from zingd.channels.manager import Channels
    from zingd.clock import Clock
    from zingd.config import OutboxSettings
    from zingd.metrics import Metrics
    from zingd.services.governor import Governor

log = logging.getLogger(__name__)

# A suspended tenant's messages stay queued, none dropped, until it is active again.
HELD = "SELECT id FROM tenants WHERE status = 'suspended'"

DUE = (
    "SELECT o.message_id, o.tenant_id, o.attempts, m.wa_id, m.type, m.body, m.media_path, m.media_mime, "
    "m.contact_id, "
    "m.created_at, m.template, r.wa_id AS reaction_wa_id, q.wa_id AS quoted_wa_id, q.body AS quoted_body, q.direction AS quoted_direction, "
    "q.participant AS quoted_participant, "
    "(SELECT jid FROM contact_ids i WHERE i.contact_id = m.contact_id "
    " ORDER BY CASE WHEN jid LIKE '%@g.us' THEN 0 "
    " WHEN jid = (SELECT x.number FROM contacts x WHERE x.id = i.contact_id) || '@s.whatsapp.net' THEN 1 "
    " WHEN jid LIKE '%@s.whatsapp.net' THEN 2 ELSE 3 END LIMIT 1) AS jid, "
    "c.number FROM outbox o JOIN messages m ON m.id = o.message_id JOIN contacts c ON c.id = m.contact_id "
    "LEFT JOIN messages q ON q.id = m.quoted_id LEFT JOIN messages r ON r.id = m.reaction_to "
    f"WHERE o.connection_id = ? AND o.next_attempt_at <= ? AND o.tenant_id NOT IN ({HELD}) "
    "ORDER BY o.message_id LIMIT 100"
)


def _network_id(result: Any, fixed: str | None) -> str | None:
    """The id the network gave a sent message, when it is not the one zing fixed."""
    network_id = getattr(result, "wa_id", None)
    return network_id if network_id and network_id != fixed else None


def _quoted_sender(row: dict[str, Any]) -> str:
    """Who wrote the quoted message: the group participant, the customer, or '' for our own."""
    if row["quoted_wa_id"] is None or row["quoted_direction"] == "out":
        return ""
    return row["quoted_participant"] or row["jid"] or ""


class TokenBucket:
    """Per-connection send rate: ``rate`` per second with bursts of ``burst``."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, float(burst)
        self.tokens, self.stamp = float(burst), time.monotonic()

    async def take(self) -> None:
        while True:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1:
                self.tokens -= 1
                return
            await asyncio.sleep((1 - self.tokens) / self.rate)


def mark_sent(tx: Tx, message_id: int, network_id: str | None = None) -> None:
    """Sent. ``network_id``: the id the network gave it, when not the one zing fixed (the Cloud API
    picks its own): the message takes it, so receipts, quotes and reactions find it."""
    tx.execute("DELETE FROM outbox WHERE message_id = ?", (message_id,))
    tx.execute("UPDATE messages SET sent_at = ? WHERE id = ?", (tx.now, message_id))
    if network_id and not tx.value("SELECT 1 FROM messages WHERE wa_id = ? AND connection_id = "
                                   "(SELECT connection_id FROM messages WHERE id = ?)", (network_id, message_id)):
        tx.execute("UPDATE messages SET wa_id = ? WHERE id = ?", (network_id, message_id))
    msg = M.get(tx, message_id)
    if msg is not None:
        M.advance_ack(tx, msg, "sent")


def mark_started(tx: Tx, message_id: int) -> None:
    tx.execute("UPDATE outbox SET started_at = ? WHERE message_id = ?", (tx.now, message_id))


def mark_throttled(tx: Tx, message_id: int, error: str) -> None:
    """Not sent: the network said the number sends too fast. The attempt is not counted (a throttle is
    not the message's fault) and it stays first in line: the number's sender holds, then sends it."""
    tx.execute("UPDATE outbox SET last_error = ?, started_at = NULL WHERE message_id = ?", (error, message_id))


def recover_started(tx: Tx, connection_id: int) -> int:
    """Sends a crash cut off on a network where sending again makes a second message: unconfirmed."""
    rows = tx.all("SELECT message_id FROM outbox WHERE connection_id = ? AND started_at IS NOT NULL",
                  (connection_id,))
    for row in rows:
        mark_unconfirmed(tx, row["message_id"], "zingd stopped while sending it")
    return len(rows)


def mark_unconfirmed(tx: Tx, message_id: int, error: str) -> None:
    """The send may have reached WhatsApp: stop retrying and wait for proof or the agent."""
    tx.execute("DELETE FROM outbox WHERE message_id = ?", (message_id,))
    msg = M.get(tx, message_id)
    if msg is not None:
        M.advance_ack(tx, msg, "unconfirmed", f"{error}: it may not have arrived")


def mark_late_answer(tx: Tx, message_id: int, sent: bool, error: str = "", retryable: bool = True,
                     network_id: str | None = None) -> None:
    """An unconfirmed attempt answered after all: sent, or proven not sent (then due again, or failed)."""
    msg = M.get(tx, message_id)
    if msg is None or msg["ack"] not in ("unconfirmed", "queued"):
        return
    if sent:
        mark_sent(tx, message_id, network_id)
    elif msg["ack"] == "unconfirmed" and not retryable:
        M.advance_ack(tx, msg, "failed", error)
    elif msg["ack"] == "unconfirmed":
        M.requeue(tx, msg, error)


def mark_failed_attempt(tx: Tx, message_id: int, error: str, retryable: bool, max_attempts: int,
                        base: float, cap: float) -> bool:
    """Count a failed attempt; True when the message has failed for good."""
    attempts = (tx.value("SELECT attempts FROM outbox WHERE message_id = ?", (message_id,)) or 0) + 1
    if retryable and attempts < max_attempts:
        delay = min(cap, base * 2 ** (attempts - 1)) * random.uniform(0.8, 1.2)
        tx.execute("UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ?, started_at = NULL "
                   "WHERE message_id = ?", (attempts, tx.now + delay, error, message_id))
        return False
    tx.execute("DELETE FROM outbox WHERE message_id = ?", (message_id,))
    msg = M.get(tx, message_id)
    if msg is not None:
        M.advance_ack(tx, msg, "failed", f"{error} (after {attempts} attempt{'s' if attempts > 1 else ''})")
    return True


class Outbox:
    def __init__(self, db: Database, bus: Bus, channels: Channels, clock: Clock, settings: OutboxSettings,
                 metrics: Metrics, governor: Governor) -> None:
        self.db, self.bus, self.channels, self.clock, self.metrics = db, bus, channels, clock, metrics
        self.governor = governor
        self.settings = settings
        self._wake: dict[int, asyncio.Event] = {}
        self._senders: dict[int, asyncio.Task] = {}
        self._buckets: dict[int, TokenBucket] = {}
        self._holds: dict[int, float] = {}  # connection -> monotonic time its sender may go on (throttled)
        self._late: set[asyncio.Future] = set()  # writes of late answers, kept alive until done
        self.sent = 0
        self.failed = 0
        self.unconfirmed = 0
        self.inflight = 0
        self.held: set[int] = set()  # tenants suspended while a batch was being sent

    def start(self) -> None:
        self.bus.tap(self._on_event)
        for connection_id in self.channels.ids():
            self.wake(connection_id)

    def _on_event(self, event: Event) -> None:
        if event.type == "message.created":
            msg = event.data["message"]
            if msg["ack"] == "queued":
                self.wake(msg["connection_id"])
        elif event.type == "message.ack" and event.data["ack"] == "queued":
            self.wake(event.data["connection_id"])
        elif event.type == "connection.updated" and event.data["status"] == "connected":
            self.wake(event.data["id"])
        elif event.type == "tenant.updated":
            if event.data["tenant"]["status"] == "suspended":
                self.held.add(event.tenant_id)
            else:  # reactivated (or renamed): what waited is due again
                self.held.discard(event.tenant_id)
                for wake in self._wake.values():
                    wake.set()

    def wake(self, connection_id: int | None) -> None:
        if connection_id is None:
            return
        if connection_id not in self._senders:
            self._wake[connection_id] = asyncio.Event()
            self._buckets[connection_id] = TokenBucket(self.settings.rate_per_connection, self.settings.burst)
            self._senders[connection_id] = asyncio.create_task(self._sender(connection_id))
        self._wake[connection_id].set()

    async def stop(self) -> None:
        for task in self._senders.values():
            task.cancel()
        await asyncio.gather(*self._senders.values(), return_exceptions=True)
        self._senders.clear()

    async def depth(self, tenant_id: int | None = None) -> dict[str, Any]:
        """Queued messages and the oldest one's age: one tenant's, or (None) the whole daemon's."""
        where = "" if tenant_id is None else " WHERE o.tenant_id = ?"
        row = await self.db.one("SELECT count(*) AS n, min(m.created_at) AS oldest FROM outbox o "
                                    f"JOIN messages m ON m.id = o.message_id{where}",
                                    () if tenant_id is None else (tenant_id,))
        age = self.clock() - row["oldest"] if row["oldest"] else 0.0
        out = {"queued": row["n"], "oldest_age_s": round(age, 1)}
        if tenant_id is None:
            out.update(sent=self.sent, failed=self.failed, unconfirmed=self.unconfirmed)
        return out

    async def drain(self, timeout: float) -> None:
        """Give due messages on live connections a chance to leave before shutdown."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            live = [cid for cid in self.channels.ids() if self.channels.is_connected(cid)]
            if not live:
                return
            marks = ",".join("?" * len(live))
            due = await self.db.value(
                f"SELECT count(*) FROM outbox WHERE connection_id IN ({marks}) AND next_attempt_at <= ? "
                f"AND tenant_id NOT IN ({HELD})",
                (*live, self.clock()))
            if not due and not self.inflight:
                return
            await asyncio.sleep(0.05)

    async def _sender(self, connection_id: int) -> None:
        """The number's send loop, for the daemon's life: one failure of its own (a database error, a
        bug) is logged and the loop goes on after a pause; a dead sender would hold the number's queue."""
        pause = Backoff(0.5, 30.0, 0.2)
        while True:
            try:
                await self._send_due(connection_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                delay = pause.next()
                log.exception("the sender of connection %s failed; going on in %.1fs", connection_id, delay)
                await asyncio.sleep(delay)

    async def _send_due(self, connection_id: int) -> None:
        wake = self._wake[connection_id]
        recovered = False
        while True:
            wake.clear()
            channel = self.channels.get(connection_id)
            if channel is None or channel.state != "connected":
                await wake.wait()
                continue
            if not recovered and not channel.resend_is_safe:
                if cut := await self.db.write(recover_started, connection_id):
                    self.unconfirmed += cut
                    log.warning("%d sends on connection %s were cut off by a stop; unconfirmed, not resent",
                                cut, connection_id)
            recovered = True
            rows = await self.db.all(DUE, (connection_id, self.clock()))
            if not rows:
                nxt = await self.db.value(
                    f"SELECT min(next_attempt_at) FROM outbox WHERE connection_id = ? AND tenant_id NOT IN ({HELD})",
                    (connection_id,))
                timeout = None if nxt is None else max(0.01, self.clock.real_delay(nxt - self.clock()))
                try:
                    await asyncio.wait_for(wake.wait(), timeout)
                except TimeoutError:
                    pass
                continue
            for row in rows:
                if (hold := self._holds.get(connection_id, 0.0) - time.monotonic()) > 0:
                    await asyncio.sleep(hold)  # throttled by the network: wait, then read the queue afresh
                    break
                await self._buckets[connection_id].take()
                if channel.state != "connected" or row["tenant_id"] in self.held:
                    break
                if not await self._attempt(channel, row):
                    break  # throttled: the batch waits out the hold and is read again, in order

    async def _attempt(self, channel, row: dict[str, Any]) -> bool:
        """One send and its outcome stored; False when the network throttled the number."""
        out = OutboundMessage(
            wa_id=row["wa_id"], chat=row["jid"] or f"{row['number']}@s.whatsapp.net", type=row["type"],
            body=row["body"], media_path=row["media_path"], media_mime=row["media_mime"],
            quoted_wa_id=row["quoted_wa_id"], quoted_body=row["quoted_body"] or "",
            quoted_sender=_quoted_sender(row), reaction_to=row["reaction_wa_id"],
            template=loads(row["template"]) if row["template"] else None,
        )
        s = self.settings
        self.inflight += 1
        self.metrics.outbox_queue_seconds.observe(self.clock.real_delay(self.clock() - row["created_at"]))
        if not channel.resend_is_safe:
            await self.db.write(mark_started, row["message_id"])
        attempt = asyncio.ensure_future(channel.send(out))
        try:
            done, _ = await asyncio.wait({attempt}, timeout=s.send_timeout_s)
            if not done:  # it may still go out: never send it again behind its back
                attempt.add_done_callback(partial(self._late_answer, row["message_id"]))
                raise SendError(f"no answer from WhatsApp within {s.send_timeout_s:g}s", unconfirmed=True)
            result = attempt.result()
        except asyncio.CancelledError:
            attempt.cancel()
            raise
        except (SendError, TimeoutError) as e:  # a channel's own timeout: it may have gone out
            error = str(e) or "send timed out"
            if not isinstance(e, SendError) or e.unconfirmed:
                await self.db.write(mark_unconfirmed, row["message_id"], error)
                self.unconfirmed += 1
                log.warning("send of message %s is unconfirmed (%s); not resending it", row["message_id"], error)
                return True
            if e.throttle_s and e.retryable:
                self._throttle(channel.connection_id, e.throttle_s, error)
                await self.db.write(mark_throttled, row["message_id"], error)
                return False
            final = await self.db.write(mark_failed_attempt, row["message_id"], error, e.retryable,
                                            s.max_attempts, s.backoff_base_s, s.backoff_cap_s)
            self.failed += final
            log.info("send of message %s failed (%s)%s", row["message_id"], error, " for good" if final else "")
            return True
        except Exception:
            log.exception("channel %s crashed sending message %s", channel.connection_id, row["message_id"])
            await self.db.write(mark_failed_attempt, row["message_id"], "internal channel error", True,
                                    s.max_attempts, s.backoff_base_s, s.backoff_cap_s)
            return True
        finally:
            self.inflight -= 1
        await self.db.write(mark_sent, row["message_id"], _network_id(result, row["wa_id"]))
        self.sent += 1
        return True

    def _throttle(self, connection_id: int, seconds: float, reason: str) -> None:
        """The network said this number sends too fast: its sender waits ``seconds`` before the next
        attempt, and the governor spaces its automated messages out (``Governor.slow_down``)."""
        self._holds[connection_id] = time.monotonic() + seconds
        self.governor.slow_down(connection_id, seconds, reason)
        log.warning("connection %s is throttled for %.0fs: %s", connection_id, seconds, reason)

    def _late_answer(self, message_id: int, attempt: asyncio.Future) -> None:
        """The attempt the outbox stopped waiting for has ended: settle what it proved."""
        if attempt.cancelled():
            return
        error = attempt.exception()
        if error is None:
            self._settle(self.db.write(mark_late_answer, message_id, True, "", True,
                                       _network_id(attempt.result(), None)))
        elif isinstance(error, SendError) and not error.unconfirmed:
            self._settle(self.db.write(mark_late_answer, message_id, False, str(error), error.retryable))

    def _settle(self, write) -> None:
        task = asyncio.ensure_future(write)
        self._late.add(task)
        task.add_done_callback(self._late.discard)
