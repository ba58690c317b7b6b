"""In-process pub/sub of persisted events.

Events are written to the ``events`` table in the same transaction as the change
they describe, and published here only after that transaction commits, in
sequence order. Each event is serialized once; every subscriber gets the same
bytes with its own subscription id spliced in front.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec

log = logging.getLogger(__name__)
_enc = msgspec.json.Encoder()


@dataclass(slots=True)
class Event:
    seq: int
    tenant_id: int
    ticket_id: int | None
    type: str
    ts: float
    data: dict[str, Any]
    raw: bytes | None = field(default=None, repr=False)  # ``data`` as JSON, when already encoded
    _tail: bytes | None = field(default=None, repr=False)

    def tail(self) -> bytes:
        """Everything of the notification frame after the subscription id."""
        if self._tail is None:
            raw = self.raw if self.raw is not None else _enc.encode(self.data)
            self._tail = (b',"seq":%d,"type":' % self.seq + _enc.encode(self.type) + b',"ts":'
                          + _enc.encode(self.ts) + b',"data":' + raw + b"}}\n")
        return self._tail

    def frame(self, subscription: int) -> bytes:
        head = b'{"jsonrpc":"2.0","method":"event","params":{"subscription":%d' % subscription
        return head + self.tail()

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "type": self.type, "ts": self.ts, "data": self.data}


def topic_matches(topics: frozenset[str], event: Event) -> bool:
    """``tenant`` is everything of the tenant; ``ticket:N`` one ticket; ``type:X`` one event type."""
    return (
        "tenant" in topics
        or (event.ticket_id is not None and f"ticket:{event.ticket_id}" in topics)
        or f"type:{event.type}" in topics
    )


@dataclass(eq=False)
class Subscriber:
    tenant_id: int
    topics: frozenset[str]
    deliver: Callable[[Event], None]
    visible: Callable[[Event], bool] | None = None

    def wants(self, event: Event) -> bool:
        return topic_matches(self.topics, event) and (self.visible is None or self.visible(event))


class Bus:
    def __init__(self) -> None:
        self._by_tenant: dict[int, set[Subscriber]] = {}
        self._taps: list[Callable[[Event], None]] = []
        self.last_seq = 0
        self.published = 0

    def subscribe(self, sub: Subscriber) -> None:
        self._by_tenant.setdefault(sub.tenant_id, set()).add(sub)

    def tap(self, fn: Callable[[Event], None]) -> None:
        """Hear every tenant's events: for the daemon's own workers (outbox, webhooks)."""
        self._taps.append(fn)

    def unsubscribe(self, sub: Subscriber) -> None:
        subs = self._by_tenant.get(sub.tenant_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._by_tenant[sub.tenant_id]

    @property
    def subscriber_count(self) -> int:
        return sum(len(s) for s in self._by_tenant.values())

    def publish(self, event: Event) -> None:
        self.last_seq = max(self.last_seq, event.seq)
        self.published += 1
        for fn in self._taps:
            try:
                fn(event)
            except Exception:
                log.exception("event tap failed")
        for sub in tuple(self._by_tenant.get(event.tenant_id, ())):
            if sub.wants(event):
                try:
                    sub.deliver(event)
                except Exception:  # one broken subscriber must not stop the others
                    log.exception("event subscriber failed")
