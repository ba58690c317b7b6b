"""events.*: live notifications with replay from a sequence number."""

from __future__ import annotations

import msgspec

from zingd.errors import Invalid
from zingd.rpc import results as R
from zingd.rpc.registry import REGISTRY
from zingd.rpc.server import Call
from zingd.services.events import visible_to


class Subscribe(msgspec.Struct, forbid_unknown_fields=True):
    topics: list[str] = msgspec.field(default_factory=lambda: ["tenant"])
    since_seq: int | None = None


class Unsubscribe(msgspec.Struct, forbid_unknown_fields=True):
    subscription: int


def _check_topic(topic: str) -> None:
    kind, _, arg = topic.partition(":")
    ok = topic == "tenant" or (kind == "ticket" and arg.isdigit()) or (kind == "type" and arg)
    if not ok:
        raise Invalid(f"unknown topic {topic!r}: use tenant, ticket:<id> or type:<event type>", field="topics")


@REGISTRY.method("events.subscribe", Subscribe, result=R.Subscribed, errors=(Invalid,))
async def subscribe(call: Call, p: Subscribe) -> dict:
    """Receive events as notifications; with since_seq, first everything after it."""
    if not p.topics or len(p.topics) > 100:
        raise Invalid("give 1 to 100 topics", field="topics")
    for topic in p.topics:
        _check_topic(topic)
    if p.since_seq is not None and p.since_seq < 0:
        raise Invalid("since_seq must be >= 0", field="since_seq")
    session = call.session
    return await session.subscribe(call, call.actor.tenant_id, frozenset(p.topics), p.since_seq,
                                   visible_to(lambda: session.actor))


@REGISTRY.method("events.unsubscribe", Unsubscribe, result=R.Removed)
async def unsubscribe(call: Call, p: Unsubscribe) -> dict:
    """Stop a subscription."""
    return {"removed": call.session.unsubscribe(p.subscription)}
