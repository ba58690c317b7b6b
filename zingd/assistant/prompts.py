"""What the bot (and the copilot) tell a model: the system prompt and the conversation.

The rules that keep the bot honest live in the system prompt, before the tenant's own
instructions: answer from the company's instructions and knowledge only, say the tenant's
``fallback_message`` rather than invent, and hand over with the ``handoff`` tool, never with a
phrase in the text (a phrase is what custom instructions break). The conversation is the ticket's
recent messages as chat turns; consecutive turns of one side are joined, since some servers' chat
templates (llama.cpp's among them) refuse two user turns in a row.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

HISTORY = 20          # messages of the ticket the model sees
MAX_TURN_CHARS = 4000  # one message's text, at most (a pasted document is not a question)

RULES = """\
You are the customer service assistant of {company}, answering customers on WhatsApp.
- Answer the customer's latest messages briefly and politely, in the customer's language.
- Use only the company's instructions and the knowledge entries below. Never invent facts, prices,
  dates, promises, links, phone numbers or e-mail addresses.
- When the answer is not in them, reply with exactly this text and nothing else:
  {fallback}
- When the customer asks for a person, is upset, or you can't help, call the `handoff` tool. Do not
  write that you are transferring them: the tool does it and tells them.
- Never say you did something (tagging, scheduling, saving data) unless a tool call did it."""


def system_prompt(company: str, instructions: str, fallback: str, grounding: str) -> str:
    """The rules, the tenant's instructions, and the knowledge entries found for this turn."""
    parts = [RULES.format(company=company or "the company", fallback=fallback.strip())]
    if instructions.strip():
        parts.append("The company's instructions:\n" + instructions.strip())
    parts.append("Knowledge entries:\n" + (grounding.strip() or "(none found for this question)"))
    return "\n\n".join(parts)


def message_text(row: dict[str, Any]) -> str:
    """A message as the model reads it: its text, a voice note's transcript, or what it is."""
    kind = row.get("type") or "text"
    body = (row.get("body") or "").strip()
    if kind == "audio":
        transcript = (row.get("transcript") or "").strip()
        text = f"[voice note] {transcript}" if transcript else "[voice note, not transcribed]"
    elif kind == "text":
        text = body
    else:
        text = f"[{kind}] {body}".strip()
    return text[:MAX_TURN_CHARS]


def conversation(rows: Iterable[dict[str, Any]]) -> list[dict[str, str]]:
    """Chat turns from a ticket's messages, oldest first: the customer's are ``user``, what the bot
    and people wrote to them ``assistant``; consecutive ones joined. zing's own automatic texts
    (greeting, menu, out-of-hours note) are left out: they are no part of the dialogue, and one sent
    after the customer's message would leave the model nothing to answer."""
    turns: list[dict[str, str]] = []
    for row in rows:
        if row.get("deleted") or row.get("reaction_to") or row.get("type") == "system" or _zings_own(row):
            continue
        text = message_text(row)
        if not text:
            continue
        role = "user" if row["direction"] == "in" else "assistant"
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"] += "\n" + text
        else:
            turns.append({"role": role, "content": text})
    return turns


def _zings_own(row: dict[str, Any]) -> bool:
    return (row["direction"] == "out" and not row.get("bot") and row.get("user_id") is None
            and not row.get("from_device"))


def bot_messages(company: str, instructions: str, fallback: str, grounding: str,
                 rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The whole request of one bot turn: system prompt, then the conversation."""
    return [{"role": "system", "content": system_prompt(company, instructions, fallback, grounding)},
            *conversation(rows)]


def search_query(rows: Iterable[dict[str, Any]]) -> str:
    """What to look up in the knowledge base: the customer's unanswered messages."""
    return " ".join(message_text(r) for r in rows if r["direction"] == "in")[:1000]
