"""A tenant's assistant settings: which server, which model per feature, limits, the bot.

Stored as JSON in ``assistant_settings.settings`` (the API key apart, in its own column: it is a
secret no answer carries). Every feature is off until it names a model: many servers offer only
some of chat, transcription and embeddings, and a feature may point at another server.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import msgspec

from zingd.errors import Invalid
from zingd.store.db import Tx

FEATURES = ("chat", "transcription", "embeddings")
SUMMARY_MOMENTS = ("close", "transfer")
BOT_TOOLS = ("lookup_contact", "tag_ticket", "set_field", "schedule_followup", "handoff")
HANDOFF = ("Vou te passar para um atendente humano. Aguarde um instante, por favor. / "
           "I'm passing you to a human agent. One moment, please.")
FALLBACK = ("Não tenho essa informação; um atendente vai te ajudar. / "
            "I don't have that information; an agent will help you.")


class Feature(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=False):
    model: str = ""     # "" = this feature is off
    base_url: str = ""  # "" = the tenant's base_url


class BotConfig(msgspec.Struct, forbid_unknown_fields=True):
    enabled: bool = False
    queues: list[int] = msgspec.field(default_factory=list)       # the bot answers pending tickets there
    connections: list[int] = msgspec.field(default_factory=list)  # the bot is the front door there (no menu)
    instructions: str = ""
    tools: list[str] = msgspec.field(default_factory=lambda: ["lookup_contact", "handoff"])
    handoff_message: str = HANDOFF
    handoff_queue_id: int | None = None
    fallback_message: str = FALLBACK
    debounce_s: float = 3.0
    max_turns: int = 10
    max_replies_per_minute: int = 4


class Config(msgspec.Struct, forbid_unknown_fields=True):
    base_url: str = ""
    chat: Feature = msgspec.field(default_factory=Feature)
    transcription: Feature = msgspec.field(default_factory=Feature)
    embeddings: Feature = msgspec.field(default_factory=Feature)
    timeout_s: float = 30.0
    daily_token_limit: int = 0      # prompt + completion tokens per day, all features; 0 = no limit
    daily_cost_limit: float = 0.0   # in the tenant's currency, from the prices below; 0 = no limit
    prompt_price_per_1k: float = 0.0
    completion_price_per_1k: float = 0.0
    summarize_on: list[str] = msgspec.field(default_factory=list)  # "close", "transfer": a private note
    language: str = ""              # the copilot's language; "" = the customer's
    bot: BotConfig = msgspec.field(default_factory=BotConfig)

    def url_of(self, feature: str) -> str:
        return getattr(self, feature).base_url or self.base_url

    def model_of(self, feature: str) -> str:
        return getattr(self, feature).model


def load(raw: str | None) -> Config:
    """The stored settings; a row written by an older zing simply lacks the newer fields."""
    if not raw:
        return Config()
    return msgspec.convert(msgspec.json.decode(raw), Config)


def merge(config: Config, patch: dict[str, Any]) -> Config:
    """``config`` with ``patch`` applied (nested objects field by field); invalid -> Invalid."""
    def deep(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
        out = dict(base)
        for key, value in extra.items():
            out[key] = deep(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        return out
    try:
        return msgspec.convert(deep(msgspec.to_builtins(config), patch), Config)
    except msgspec.ValidationError as e:
        raise Invalid(f"assistant settings: {e}") from None


def _url(value: str, what: str) -> None:
    if not value:
        return
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid(f"{what} must be an http(s) URL such as http://127.0.0.1:8080/v1 (got {value!r})",
                      field=what)


def validate(config: Config, tx: Tx, tenant_id: int) -> None:
    """Refuse settings that can't work: bad URLs, ids of another tenant, unknown tools, limits < 0."""
    _url(config.base_url, "base_url")
    for feature in FEATURES:
        f = getattr(config, feature)
        _url(f.base_url, f"{feature}.base_url")
        if len(f.model) > 200:
            raise Invalid(f"{feature}.model is too long", field=f"{feature}.model")
        if f.model and not config.url_of(feature):
            raise Invalid(f"{feature}.model needs a base_url (the tenant's or the feature's)", field="base_url")
    if not 1 <= config.timeout_s <= 600:
        raise Invalid("timeout_s is 1 to 600 seconds", field="timeout_s")
    for name in ("daily_token_limit", "daily_cost_limit", "prompt_price_per_1k", "completion_price_per_1k"):
        if getattr(config, name) < 0:
            raise Invalid(f"{name} can't be negative", field=name)
    if bad := set(config.summarize_on) - set(SUMMARY_MOMENTS):
        raise Invalid(f"summarize_on takes {', '.join(SUMMARY_MOMENTS)}; not {', '.join(sorted(bad))}",
                      field="summarize_on")
    bot = config.bot
    if bad := set(bot.tools) - set(BOT_TOOLS):
        raise Invalid(f"bot.tools are {', '.join(BOT_TOOLS)}; not {', '.join(sorted(bad))}", field="bot.tools")
    if "handoff" not in bot.tools:
        bot.tools.append("handoff")  # the bot can always hand over
    for field, table in (("queues", "queues"), ("connections", "connections")):
        for id_ in getattr(bot, field):
            if not tx.value(f"SELECT 1 FROM {table} WHERE id = ? AND tenant_id = ?", (id_, tenant_id)):
                raise Invalid(f"bot.{field}: no {table[:-1]} {id_}", field=f"bot.{field}", id=id_)
    if bot.handoff_queue_id is not None and not tx.value(
            "SELECT 1 FROM queues WHERE id = ? AND tenant_id = ?", (bot.handoff_queue_id, tenant_id)):
        raise Invalid(f"bot.handoff_queue_id: no queue {bot.handoff_queue_id}", field="bot.handoff_queue_id")
    if not 0 <= bot.debounce_s <= 120:
        raise Invalid("bot.debounce_s is 0 to 120 seconds", field="bot.debounce_s")
    if not 1 <= bot.max_turns <= 100:
        raise Invalid("bot.max_turns is 1 to 100", field="bot.max_turns")
    if not 1 <= bot.max_replies_per_minute <= 60:
        raise Invalid("bot.max_replies_per_minute is 1 to 60", field="bot.max_replies_per_minute")
    if len(bot.instructions) > 20000:
        raise Invalid("bot.instructions are at most 20,000 characters", field="bot.instructions")
    if bot.enabled and not config.chat.model:
        raise Invalid("the bot needs a chat model (chat.model)", field="bot.enabled")


def dumps(config: Config) -> str:
    return msgspec.json.encode(config).decode()
