"""`zingctl assistant`: the tenant's language-model server, its models, limits, the bot's settings
and what it all used."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import typer

from zingctl.commands import Typer
from zingctl.inputs import FileOrStdin, Source, text_or_stdin
from zingctl.output import Output
from zingctl.session import Session

app = Typer(name="assistant", help="The AI assistant: server and models, limits, the bot's settings, usage.")

TenantOpt = Annotated[int | None, typer.Option("--tenant", help="Another tenant's (superadmin only).")]
USAGE_COLUMNS = [("Day", "day"), ("Feature", "feature"), ("Requests", "requests"), ("Failed", "failures"),
                 ("Prompt tokens", "prompt_tokens"), ("Completion tokens", "completion_tokens"),
                 ("Cost", lambda r: f"{r['cost']:.4f}")]


def _flat(view: dict[str, Any]) -> dict[str, Any]:
    """The settings as one table for people: features on one line each, the bot's apart."""
    c = view["config"]
    out: dict[str, Any] = {"base_url": c["base_url"] or "(none)",
                           "api_key": view["api_key_hint"] if view["api_key_set"] else "(none)"}
    for feature in ("chat", "transcription", "embeddings"):
        f = c[feature]
        out[feature] = (f["model"] + (f" at {f['base_url']}" if f["base_url"] else "")) if f["model"] else "off"
    out.update({k: c[k] for k in ("timeout_s", "daily_token_limit", "daily_cost_limit", "prompt_price_per_1k",
                                  "completion_price_per_1k", "language")})
    out["summarize_on"] = ", ".join(c["summarize_on"]) or "never"
    bot = c["bot"]
    out["bot"] = "on" if bot["enabled"] else "off"
    for key in ("queues", "connections", "tools"):
        out[f"bot {key}"] = ", ".join(map(str, bot[key])) or "none"
    for key in ("handoff_queue_id", "debounce_s", "max_turns", "max_replies_per_minute", "handoff_message",
                "fallback_message", "instructions"):
        out[f"bot {key}"] = bot[key]
    out["bot user"] = view["bot_user_id"]
    return out


@app.command("show")
def show(session: Session, out: Output, tenant: TenantOpt = None) -> None:
    """Show the assistant's settings (the API key only by its last characters)."""
    view = session.call("assistant.get", {"tenant_id": tenant})
    if out.for_people:
        out.item(_flat(view), title="assistant")
    else:
        out.raw(view)


def _feature(model: str | None, url: str | None) -> dict[str, str] | None:
    patch = {k: v for k, v in (("model", model), ("base_url", url)) if v is not None}
    return patch or None


@app.command("set")
def set_(
    session: Session, out: Output,
    base_url: Annotated[str | None, typer.Option(
        "--base-url", help="The OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1 ('' to clear).")] = None,
    api_key: Annotated[str | None, typer.Option(
        "--api-key", metavar="TEXT|-", help="Its API key; `-` reads it from stdin (keeps it out of your shell "
        "history). Stored in zingd's database, never shown again.")] = None,
    no_api_key: Annotated[bool, typer.Option("--no-api-key", help="Forget the API key.")] = False,
    chat_model: Annotated[str | None, typer.Option("--chat-model", help="Model for the bot and the copilot "
                                                                        "('' turns them off).")] = None,
    chat_url: Annotated[str | None, typer.Option("--chat-url", help="Another server for chat.")] = None,
    transcription_model: Annotated[str | None, typer.Option(
        "--transcription-model", help="Model for voice-note transcripts, e.g. whisper-1 ('' = off).")] = None,
    transcription_url: Annotated[str | None, typer.Option("--transcription-url", help="Another server for "
                                                                                      "transcripts.")] = None,
    embeddings_model: Annotated[str | None, typer.Option(
        "--embeddings-model", help="Model for knowledge search ('' = full-text search only).")] = None,
    embeddings_url: Annotated[str | None, typer.Option("--embeddings-url", help="Another server for "
                                                                                "embeddings.")] = None,
    timeout: Annotated[float | None, typer.Option("--timeout", help="Seconds one request may take.")] = None,
    daily_tokens: Annotated[int | None, typer.Option("--daily-token-limit", help="Tokens a day, all features "
                                                                                 "(0 = no limit).")] = None,
    daily_cost: Annotated[float | None, typer.Option("--daily-cost-limit", help="Cost a day (0 = no limit).")] = None,
    prompt_price: Annotated[float | None, typer.Option("--prompt-price", help="Cost of 1,000 prompt "
                                                                              "tokens.")] = None,
    completion_price: Annotated[float | None, typer.Option("--completion-price", help="Cost of 1,000 "
                                                                                      "completion tokens.")] = None,
    summarize_on: Annotated[list[str] | None, typer.Option(
        "--summarize-on", help="Add a summary note when a ticket is: close, transfer (repeatable; "
                               "'never' for none).")] = None,
    language: Annotated[str | None, typer.Option("--language", help="The copilot's language ('' = the "
                                                                    "customer's).")] = None,
    bot: Annotated[bool | None, typer.Option("--bot/--no-bot", help="Let the bot answer customers.")] = None,
    bot_queue: Annotated[list[int] | None, typer.Option(
        "--bot-queue", help="A queue whose pending tickets the bot answers (repeatable; 0 for none).")] = None,
    bot_connection: Annotated[list[int] | None, typer.Option(
        "--bot-connection", help="A number where the bot answers first, instead of the menu (repeatable; "
                                 "0 for none).")] = None,
    instructions: Annotated[Source | None, typer.Option(
        "--bot-instructions", metavar="FILE|-", parser=FileOrStdin(),
        help="The bot's instructions (who it is, what it may say), from a file or stdin.")] = None,
    tool: Annotated[list[str] | None, typer.Option(
        "--bot-tool", help="A tool the bot may use: lookup_contact, tag_ticket, set_field, schedule_followup "
                           "(repeatable; handoff is always on).")] = None,
    handoff_queue: Annotated[int | None, typer.Option("--handoff-queue", help="Where the bot hands over "
                                                                              "(0: the ticket's queue).")] = None,
    handoff_message: Annotated[str | None, typer.Option("--handoff-message", metavar="TEXT|-",
                                                        help="What the bot says when it hands over.")] = None,
    fallback_message: Annotated[str | None, typer.Option(
        "--fallback-message", metavar="TEXT|-", help="What the bot says when it doesn't know.")] = None,
    debounce: Annotated[float | None, typer.Option("--debounce", help="Seconds of quiet before the bot "
                                                                      "answers a burst.")] = None,
    max_turns: Annotated[int | None, typer.Option("--max-turns", help="Bot answers per ticket before it "
                                                                      "hands over.")] = None,
    max_per_minute: Annotated[int | None, typer.Option("--max-replies-per-minute",
                                                       help="Bot answers per chat and minute.")] = None,
    tenant: TenantOpt = None,
) -> None:
    """Change the assistant's settings: only the options given change."""
    params: dict[str, Any] = {"tenant_id": tenant}
    if api_key is not None and no_api_key:
        raise typer.BadParameter("give --api-key or --no-api-key, not both")
    if api_key is not None:
        params["api_key"] = text_or_stdin(api_key).strip()
    elif no_api_key:
        params["api_key"] = None
    for key, value in (("base_url", base_url), ("timeout_s", timeout), ("daily_token_limit", daily_tokens),
                       ("daily_cost_limit", daily_cost), ("prompt_price_per_1k", prompt_price),
                       ("completion_price_per_1k", completion_price), ("language", language)):
        if value is not None:
            params[key] = value
    for feature, model, url in (("chat", chat_model, chat_url), ("transcription", transcription_model,
                                                                  transcription_url),
                                ("embeddings", embeddings_model, embeddings_url)):
        if (patch := _feature(model, url)) is not None:
            params[feature] = patch
    if summarize_on is not None:
        params["summarize_on"] = [] if summarize_on == ["never"] else summarize_on
    b: dict[str, Any] = {}
    for key, value in (("enabled", bot), ("debounce_s", debounce), ("max_turns", max_turns),
                       ("max_replies_per_minute", max_per_minute)):
        if value is not None:
            b[key] = value
    for key, values in (("queues", bot_queue), ("connections", bot_connection)):
        if values is not None:
            b[key] = [v for v in values if v]
    if instructions is not None:
        b["instructions"] = instructions.text()
    if tool is not None:
        b["tools"] = tool
    if handoff_queue is not None:
        b["handoff_queue_id"] = handoff_queue or None
    for key, value in (("handoff_message", handoff_message), ("fallback_message", fallback_message)):
        if value is not None:
            b[key] = text_or_stdin(value)
    if b:
        params["bot"] = b
    if len(params) == 1:
        raise typer.BadParameter("nothing to change: give at least one option (see --help)")
    view = session.call("assistant.update", params)
    out.done(view, "assistant settings saved")
    if out.for_people and not view["config"]["chat"]["model"]:
        out.note("the assistant is off until a chat model is set: --base-url URL --chat-model NAME")


@app.command("status")
def status(session: Session, out: Output) -> None:
    """Which assistant features are on for your tenant, and why the copilot is off if it is."""
    s = session.call("assistant.status")
    if out.for_people:
        out.item({k: ("on" if s[k] else "off") for k in ("chat", "bot", "transcription", "embeddings")}
                 | {"reason": s["reason"]}, title="assistant")
    else:
        out.raw(s)


@app.command("usage")
def usage(
    session: Session, out: Output,
    days: Annotated[int, typer.Option("--days", min=1, help="The last N days (in the company's zone).")] = 7,
    tenant: TenantOpt = None,
) -> None:
    """Requests, failures, tokens and cost per day and feature, and the daily limits."""
    since = (dt.date.today() - dt.timedelta(days=days - 1)).isoformat()
    u = session.call("assistant.usage", {"tenant_id": tenant, "since": since})
    if not out.for_people:
        out.raw(u)
        return
    out.rows(u["rows"], USAGE_COLUMNS, title=f"assistant usage, last {days} days", empty="no requests yet")
    limits = [f"{u['daily_token_limit']:,} tokens" if u["daily_token_limit"] else "",
              f"cost {u['daily_cost_limit']:g}" if u["daily_cost_limit"] else ""]
    out.note("daily limits: " + (", ".join(x for x in limits if x) or "none"))


@app.command("models")
def models(session: Session, out: Output, tenant: TenantOpt = None) -> None:
    """The models the tenant's server offers."""
    names = session.call("assistant.models", {"tenant_id": tenant})
    out.rows([{"model": n} for n in names], [("Model", "model")], empty="the server lists no models")
