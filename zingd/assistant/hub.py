"""The daemon's one door to language models: a tenant's settings, its limits, what it spent.

Every request any part of zing makes (the bot, the copilot, summaries, knowledge embeddings,
transcripts) goes through ``Assistant``: it knows whether the feature is on for the tenant, refuses
once the tenant's daily token or cost limit is reached (``LimitReached``: the bot hands over, the
copilot says why), bounds how many requests wait on one server at once, and records each request's
tokens, cost and failure per tenant, day (in the company's zone) and feature.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import aiohttp

from zingd.actor import Actor
from zingd.assistant import config as C
from zingd.assistant.provider import Provider, ProviderError, Reply, Usage
from zingd.errors import Unavailable
from zingd.store.db import Database, Tx

if TYPE_CHECKING:
    from zingd.clock import Clock
    from zingd.config import AssistantSettings

log = logging.getLogger(__name__)
FEATURE_OF = {"embeddings": "embeddings", "transcription": "transcription"}  # the rest use the chat model


class AssistantOff(Unavailable):
    def __init__(self, message: str) -> None:
        super().__init__(message, assistant="off")


class LimitReached(Unavailable):
    def __init__(self, message: str) -> None:
        super().__init__(message, assistant="limit")


def off_reason(config: C.Config, model_feature: str) -> str:
    """Why ``model_feature`` (chat, transcription, embeddings) is off; "" when it is on."""
    if getattr(config, model_feature).model and config.url_of(model_feature):
        return ""
    flag = {"chat": "--chat-model", "transcription": "--transcription-model",
            "embeddings": "--embeddings-model"}[model_feature]
    return (f"the assistant is off: no {model_feature} model is set "
            f"(an admin sets one: zingctl assistant set --base-url URL {flag} NAME)")


def record_unit(tx: Tx, tenant_id: int, day: str, feature: str, usage: Usage, cost: float, failed: bool) -> None:
    tx.execute(
        "INSERT INTO assistant_usage (tenant_id, day, feature, requests, failures, prompt_tokens, "
        "completion_tokens, cost) VALUES (?, ?, ?, 1, ?, ?, ?, ?) ON CONFLICT (tenant_id, day, feature) DO UPDATE "
        "SET requests = requests + 1, failures = failures + excluded.failures, "
        "prompt_tokens = prompt_tokens + excluded.prompt_tokens, "
        "completion_tokens = completion_tokens + excluded.completion_tokens, cost = cost + excluded.cost",
        (tenant_id, day, feature, int(failed), usage.prompt_tokens, usage.completion_tokens, cost))


class Assistant:
    def __init__(self, db: Database, clock: Clock, settings: AssistantSettings) -> None:
        self.db, self.clock, self.settings = db, clock, settings
        self._session: aiohttp.ClientSession | None = None
        self._configs: dict[int, tuple[C.Config, str, str]] = {}  # tenant -> (config, api key, zone)
        self._gates: dict[str, asyncio.Semaphore] = {}
        self.requests = 0
        self.failures = 0

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self.settings.max_connections),
            headers={"User-Agent": "zingd"})

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- settings ----------------------------------------------------------
    async def _load(self, tenant_id: int) -> tuple[C.Config, str, str]:
        cached = self._configs.get(tenant_id)
        if cached is None:
            row = await self.db.one(
                "SELECT a.settings, a.api_key, t.timezone FROM tenants t LEFT JOIN assistant_settings a "
                "ON a.tenant_id = t.id WHERE t.id = ?", (tenant_id,))
            if row is None:
                return C.Config(), "", "UTC"
            cached = (C.load(row["settings"]), row["api_key"] or "", row["timezone"] or "UTC")
            self._configs[tenant_id] = cached
        return cached

    async def config(self, tenant_id: int) -> C.Config:
        return (await self._load(tenant_id))[0]

    def forget(self, tenant_id: int) -> None:
        """The tenant's settings changed (assistant.update, tenant time zone): read them again."""
        self._configs.pop(tenant_id, None)

    async def available(self, tenant_id: int, feature: str) -> str:
        """"" when ``feature`` can be used now, else why not (off, or over today's limit)."""
        config = (await self._load(tenant_id))[0]
        reason = off_reason(config, FEATURE_OF.get(feature, "chat"))
        if not reason:
            reason = await self._over_limit(tenant_id)
        return reason

    async def bot_actor(self, tenant_id: int) -> Actor | None:
        row = await self.db.one(
            "SELECT u.id, u.name FROM assistant_settings a JOIN users u ON u.id = a.bot_user_id "
            "WHERE a.tenant_id = ? AND u.enabled = 1", (tenant_id,))
        return Actor(row["id"], tenant_id, "agent", row["name"]) if row else None

    # -- limits and accounting -----------------------------------------------
    def _day(self, zone: str) -> str:
        return datetime.fromtimestamp(self.clock(), ZoneInfo(zone)).strftime("%Y-%m-%d")

    async def _over_limit(self, tenant_id: int) -> str:
        config, _, zone = await self._load(tenant_id)
        if not (config.daily_token_limit or config.daily_cost_limit):
            return ""
        row = await self.db.one(
            "SELECT ifnull(sum(prompt_tokens + completion_tokens), 0) AS tokens, ifnull(sum(cost), 0) AS cost "
            "FROM assistant_usage WHERE tenant_id = ? AND day = ?", (tenant_id, self._day(zone)))
        if config.daily_token_limit and row["tokens"] >= config.daily_token_limit:
            return (f"the assistant reached today's limit of {config.daily_token_limit:,} tokens "
                    f"({row['tokens']:,} used); it is back tomorrow, or an admin raises daily_token_limit")
        if config.daily_cost_limit and row["cost"] >= config.daily_cost_limit:
            return (f"the assistant reached today's cost limit of {config.daily_cost_limit:g} "
                    f"({row['cost']:.4f} spent); it is back tomorrow, or an admin raises daily_cost_limit")
        return ""

    async def _record(self, tenant_id: int, feature: str, usage: Usage, failed: bool) -> None:
        config, _, zone = await self._load(tenant_id)
        cost = (usage.prompt_tokens * config.prompt_price_per_1k
                + usage.completion_tokens * config.completion_price_per_1k) / 1000
        self.requests += 1
        self.failures += failed
        try:
            await self.db.write(record_unit, tenant_id, self._day(zone), feature, usage, cost, failed)
        except Exception:  # accounting must not turn an answer into a failure
            log.exception("could not record the assistant's usage for tenant %s", tenant_id)

    # -- requests ------------------------------------------------------------
    async def _provider(self, tenant_id: int, feature: str) -> tuple[Provider, str]:
        config, key, _ = await self._load(tenant_id)
        model_feature = FEATURE_OF.get(feature, "chat")
        if reason := off_reason(config, model_feature):
            raise AssistantOff(reason)
        if reason := await self._over_limit(tenant_id):
            raise LimitReached(reason)
        if self._session is None:
            raise Unavailable("the assistant is stopping")
        return Provider(self._session, config.url_of(model_feature), key, config.timeout_s), \
            config.model_of(model_feature)

    async def _run(self, tenant_id: int, feature: str, fn: Callable[[Provider, str], Any]) -> Any:
        provider, model = await self._provider(tenant_id, feature)
        gate = self._gates.setdefault(provider.base_url, asyncio.Semaphore(self.settings.max_concurrent))
        started = time.perf_counter()
        async with gate:
            try:
                result, usage = await fn(provider, model)
            except ProviderError as e:
                log.warning("assistant %s for tenant %s failed after %.1f s: %s", feature, tenant_id,
                            time.perf_counter() - started, e.message)
                await self._record(tenant_id, feature, Usage(), True)
                raise
        await self._record(tenant_id, feature, usage, False)
        return result

    async def chat(self, tenant_id: int, feature: str, messages: list[dict[str, Any]], **kw: Any) -> Reply:
        async def go(p: Provider, model: str) -> tuple[Reply, Usage]:
            reply = await p.chat(model, messages, **kw)
            return reply, reply.usage
        return await self._run(tenant_id, feature, go)

    async def structured(self, tenant_id: int, feature: str, messages: list[dict[str, Any]],
                         schema: dict[str, Any], name: str, max_tokens: int | None = None) -> dict[str, Any]:
        return await self._run(tenant_id, feature,
                               lambda p, model: p.structured(model, messages, schema, name, max_tokens))

    async def embed(self, tenant_id: int, texts: list[str]) -> list[list[float]] | None:
        if off_reason(await self.config(tenant_id), "embeddings"):
            return None
        return await self._run(tenant_id, "embeddings", lambda p, model: p.embed(model, texts))

    async def transcribe(self, tenant_id: int, audio: bytes, filename: str, mime: str) -> str | None:
        if off_reason(await self.config(tenant_id), "transcription"):
            return None
        return await self._run(tenant_id, "transcription",
                               lambda p, model: p.transcribe(model, audio, filename, mime))

    async def models(self, tenant_id: int) -> list[str]:
        config, key, _ = await self._load(tenant_id)
        if not config.base_url:
            raise AssistantOff("the assistant has no server: zingctl assistant set --base-url URL")
        if self._session is None:
            raise Unavailable("the assistant is stopping")
        return await Provider(self._session, config.base_url, key, config.timeout_s).models()
