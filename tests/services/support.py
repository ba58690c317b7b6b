"""What the in-process tier's tests share: a clock set by hand, the seeded company,
and customers who write in through the real inbound unit of work."""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from hypothesis import HealthCheck, settings

from zingd.actor import Actor
from zingd.bus import Event
from zingd.channels.base import InboundMessage
from zingd.services.inbound import ingest
from zingd.store import tickets as T
from zingd.store.db import Database

# Properties run the same examples on every run (CI stays repeatable); ZING_HYPOTHESIS_EXPLORE=1
# explores fresh random examples, twenty times as many, for a local bug hunt.
EXPLORE = os.environ.get("ZING_HYPOTHESIS_EXPLORE") == "1"


def props(max_examples: int) -> settings:
    return settings(max_examples=max_examples * (20 if EXPLORE else 1), deadline=None, derandomize=not EXPLORE,
                    database=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


# Wednesday 4 March 2026, 13:00 UTC: inside ordinary business hours.
START = datetime(2026, 3, 4, 13, 0, tzinfo=timezone.utc).timestamp()


def at(text: str, tz: Any = timezone.utc) -> float:
    """Epoch seconds of an ISO local time in ``tz`` ("2026-03-04 08:30")."""
    return datetime.fromisoformat(text).replace(tzinfo=tz).timestamp()


class ManualClock:
    """The daemon's clock (zingd.clock.Clock's call interface), moved only by the test.
    The Database reads it for every unit's ``tx.now``, so a rule that depends on the time
    sees exactly the time the test set; nothing ever waits."""

    speed = 1.0

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def set(self, now: float) -> None:
        self.now = now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def real_delay(self, virtual_s: float) -> float:
        return max(0.0, virtual_s)


@dataclass(frozen=True)
class Seed:
    """Ids of what the seed unit created (see conftest.seed_company)."""

    tenant: int
    other_tenant: int
    connection: int
    other_connection: int
    queues: dict[str, int]
    users: dict[str, int]
    actors: dict[str, Actor]

    def __getitem__(self, name: str) -> Actor:
        return self.actors[name]


@dataclass
class Customers:
    """Customers writing to the seeded numbers: each message is one real ``ingest`` unit."""

    db: Database
    seed: Seed
    reopen_window_s: float = 0.0
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    async def say(self, number: str, body: str, *, push_name: str = "", connection: int | None = None,
                  tenant: int | None = None, group: str | None = None, **extra: Any) -> dict[str, Any] | None:
        sender = f"{number}@s.whatsapp.net"
        msg = InboundMessage(
            wa_id=f"IN{next(self._ids):08d}", chat=f"{group}@g.us" if group else sender, sender=sender,
            ts=self.db.clock(), body=body, push_name=push_name, is_group=group is not None, **extra)
        return await self.db.write(ingest, tenant or self.seed.tenant, connection or self.seed.connection, msg,
                                   self.reopen_window_s)

    async def ticket(self, number: str, tenant: int | None = None) -> dict[str, Any]:
        """The contact's newest ticket, as clients see it (joined view)."""
        row = await self.db.one(
            f"{T.VIEW} WHERE t.tenant_id = ? AND c.number = ? ORDER BY t.id DESC LIMIT 1",
            (tenant or self.seed.tenant, number))
        assert row is not None, f"no ticket for {number}"
        return T.view(row)

    async def reload(self, ticket_id: int) -> dict[str, Any]:
        return T.view(await self.db.one(f"{T.VIEW} WHERE t.id = ?", (ticket_id,)))

    async def bot_texts(self, ticket_id: int) -> list[str]:
        """What zing itself queued to the customer (greeting, menu, farewell...), in order."""
        rows = await self.db.all("SELECT body FROM messages WHERE ticket_id = ? AND direction = 'out' "
                                 "AND user_id IS NULL ORDER BY id", (ticket_id,))
        return [r["body"] for r in rows]

    async def log(self, ticket_id: int) -> list[str]:
        rows = await self.db.all("SELECT action FROM ticket_log WHERE ticket_id = ? ORDER BY id", (ticket_id,))
        return [r["action"] for r in rows]


@dataclass
class Heard:
    """Every event the bus published (after commit), in order."""

    events: list[Event] = field(default_factory=list)

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def types(self) -> list[str]:
        return [e.type for e in self.events]

    def of(self, type_: str) -> list[Event]:
        return [e for e in self.events if e.type == type_]

    def clear(self) -> None:
        self.events.clear()
