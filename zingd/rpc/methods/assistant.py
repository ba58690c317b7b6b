"""assistant.*: a tenant's language-model server, models per feature, limits and usage."""

from __future__ import annotations

import re
from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from zingd.assistant import config as C
from zingd.assistant import knowledge
from zingd.assistant import settings as svc
from zingd.errors import Forbidden, Invalid, Unavailable
from zingd.rpc.registry import REGISTRY, changes
from zingd.rpc.results import Struct, Time
from zingd.rpc.server import Call

DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


class AssistantUpdateFeature(msgspec.Struct, forbid_unknown_fields=True):
    model: str | UnsetType = UNSET
    base_url: str | UnsetType = UNSET


class AssistantUpdateBot(msgspec.Struct, forbid_unknown_fields=True):
    enabled: bool | UnsetType = UNSET
    queues: list[int] | UnsetType = UNSET
    connections: list[int] | UnsetType = UNSET
    instructions: str | UnsetType = UNSET
    tools: list[str] | UnsetType = UNSET
    handoff_message: str | UnsetType = UNSET
    handoff_queue_id: int | None | UnsetType = UNSET
    fallback_message: str | UnsetType = UNSET
    debounce_s: float | UnsetType = UNSET
    max_turns: int | UnsetType = UNSET
    max_replies_per_minute: int | UnsetType = UNSET


class AssistantUpdate(msgspec.Struct, forbid_unknown_fields=True):
    tenant_id: int | None = None
    base_url: str | UnsetType = UNSET
    api_key: str | None | UnsetType = UNSET   # a string sets the key, null clears it
    chat: AssistantUpdateFeature | UnsetType = UNSET
    transcription: AssistantUpdateFeature | UnsetType = UNSET
    embeddings: AssistantUpdateFeature | UnsetType = UNSET
    timeout_s: float | UnsetType = UNSET
    daily_token_limit: int | UnsetType = UNSET
    daily_cost_limit: float | UnsetType = UNSET
    prompt_price_per_1k: float | UnsetType = UNSET
    completion_price_per_1k: float | UnsetType = UNSET
    summarize_on: list[str] | UnsetType = UNSET
    language: str | UnsetType = UNSET
    bot: AssistantUpdateBot | UnsetType = UNSET


class ForTenant(msgspec.Struct, forbid_unknown_fields=True):
    tenant_id: int | None = None


class UsageParams(msgspec.Struct, forbid_unknown_fields=True):
    tenant_id: int | None = None
    since: str | None = None   # YYYY-MM-DD, in the company's zone
    until: str | None = None


class AssistantView(Struct):
    config: C.Config
    api_key_set: bool
    api_key_hint: str          # "…abcd": the key itself is never shown
    bot_user_id: int | None
    updated_at: Time | None


class AssistantStatus(Struct):
    chat: bool
    transcription: bool
    embeddings: bool
    bot: bool
    reason: str                # why the copilot can't be used now ("" when it can)


class UsageRow(Struct):
    day: str
    feature: str
    requests: int
    failures: int
    prompt_tokens: int
    completion_tokens: int
    tokens: int
    cost: float


class Usage(Struct):
    rows: list[UsageRow]
    daily_token_limit: int
    daily_cost_limit: float


@REGISTRY.method("assistant.get", ForTenant, result=AssistantView, errors=(Forbidden,))
async def get(call: Call, p: ForTenant) -> dict:
    """The tenant's assistant settings (the API key only as set / its last characters)."""
    return await svc.get(call.app.db, call.actor, call.actor.tenant(p.tenant_id))


@REGISTRY.method("assistant.update", AssistantUpdate, result=AssistantView, errors=(Forbidden, Invalid, Unavailable))
async def update(call: Call, p: AssistantUpdate) -> dict:
    """Change the assistant's server, models, limits or bot; the first change creates the bot user."""
    tenant_id = call.actor.tenant(p.tenant_id)
    patch = changes(p, *(f for f in p.__struct_fields__ if f not in ("tenant_id", "api_key")))
    key: Any = ... if p.api_key is UNSET else p.api_key
    try:
        view = await call.app.db.write(svc.update_unit, call.actor, tenant_id, patch, key)
    finally:
        call.app.assistant.forget(tenant_id)
    if "embeddings" in patch or "base_url" in patch:  # the knowledge base's vectors follow the model
        knowledge.refresh(call.app.db, call.app.assistant, tenant_id, force=True)
    return view


@REGISTRY.method("assistant.status", result=AssistantStatus)
async def status(call: Call, p) -> dict:
    """Which assistant features the tenant has on now, and why the copilot is off if it is."""
    tenant_id = call.actor.tenant_id
    config = await call.app.assistant.config(tenant_id)
    return svc.status(config, await call.app.assistant.available(tenant_id, "suggest"))


@REGISTRY.method("assistant.usage", UsageParams, result=Usage, errors=(Forbidden, Invalid))
async def usage(call: Call, p: UsageParams) -> dict:
    """Requests, failures, tokens and cost per day and feature, newest day first, and the daily limits."""
    for name in ("since", "until"):
        value = getattr(p, name)
        if value is not None and not DAY.fullmatch(value):
            raise Invalid(f"{name} is a day, YYYY-MM-DD", field=name)
    tenant_id = call.actor.tenant(p.tenant_id)
    config = await call.app.assistant.config(tenant_id)
    return {"rows": await svc.usage(call.app.db, tenant_id, p.since, p.until),
            "daily_token_limit": config.daily_token_limit, "daily_cost_limit": config.daily_cost_limit}


@REGISTRY.method("assistant.models", ForTenant, result=list[str], errors=(Forbidden, Unavailable))
async def models(call: Call, p: ForTenant) -> list:
    """The models the tenant's server offers (GET /models), to pick one per feature."""
    return await call.app.assistant.models(call.actor.tenant(p.tenant_id))
