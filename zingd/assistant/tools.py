"""The bot's tools: zing's own RPC methods, run as the tenant's bot user.

A tool is offered to the model in its own small vocabulary (``tag_ticket {tags}``), and run as
the RPC method it stands for (``ticket.set_tags``) through the one registry, with the role gate of
the socket (the permission table) and the method's own object rules: the bot user is an agent of
its queues, so it reaches what such an agent reaches and nothing else. The ids a method needs
(the ticket, its contact) are filled in from the ticket the bot answers, never taken from the
model; what the model may choose (a tag, a queue) is offered as an enum of the tenant's own, and
an argument outside a tool's schema is refused before anything runs.

``handoff`` is not run here: it is the bot's way out, done in the bot's own unit of work
(zingd/assistant/bot.py) so the customer is told in the same commit; ``allowed`` checks its
method (``ticket.transfer``) against the table like the others.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec

from zingd.actor import RANK, Actor
from zingd.errors import Forbidden, Invalid, NotFound, ZingError
from zingd.rpc.registry import REGISTRY
from zingd.rpc.server import Call

if TYPE_CHECKING:
    from zingd.rpc.parts import Parts

HANDOFF = "handoff"
# the RPC method each tool runs
METHODS = {"lookup_contact": "contact.get", "tag_ticket": "ticket.set_tags", "set_field": "contact.update",
           "schedule_followup": "schedule.create", HANDOFF: "ticket.transfer"}
READS = frozenset({"lookup_contact"})  # tools that change nothing (a dry run runs them for real)
MAX_TEXT = 1000


class ToolRefused(Exception):
    """The model's call can't run (unknown tool, arguments outside its schema): told to the model."""


@dataclass(frozen=True)
class Context:
    """What a tool may be about: the ticket the bot answers, and the tenant's own choices."""

    ticket_id: int
    contact_id: int
    tags: list[str] = field(default_factory=list)           # the tenant's existing tags
    queues: list[dict[str, Any]] = field(default_factory=list)  # the tenant's queues: id, name


class _BotSession:
    """Stands in for a socket session: the bot's actor, for one call (as zingd/http.py's)."""

    peer_uid = None

    def __init__(self, actor: Actor) -> None:
        self.actor = actor


def allowed(actor: Actor, method: str) -> bool:
    """The socket's role gate: the permission table's row for ``method`` against the actor's role."""
    m = REGISTRY.methods.get(method)
    return m is not None and RANK[actor.role] >= RANK[m.role]


async def invoke(parts: Parts, actor: Actor, method: str, params: dict[str, Any]) -> Any:
    """Run one RPC method as ``actor``, as the socket would: the role gate, the params struct, the
    handler (whose services apply the object rules)."""
    m = REGISTRY.methods.get(method)
    if m is None:
        raise NotFound(f"no method {method!r}")
    if not allowed(actor, method):
        raise Forbidden(f"{method} needs the {m.role} role; the bot is {actor.role}", need=m.role)
    try:
        args = msgspec.convert(params, m.params)
    except msgspec.ValidationError as e:
        raise Invalid(f"invalid params for {method}: {e}") from None
    return await m.handler(Call(parts, _BotSession(actor)), args)


def _function(name: str, description: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "function", "function": {
        "name": name, "description": description,
        "parameters": {"type": "object", "properties": properties, "required": required,
                       "additionalProperties": False}}}


def specs(names: list[str], ctx: Context) -> list[dict[str, Any]]:
    """The OpenAI ``tools`` of the tenant's chosen tools (handoff always), in a stable order."""
    queue_ids = [q["id"] for q in ctx.queues]
    queue_names = "; ".join(f"{q['id']}: {q['name']}" for q in ctx.queues)
    out = []
    for name in [n for n in METHODS if n in names or n == HANDOFF]:
        if name == "lookup_contact":
            out.append(_function(name, "Read the customer's contact record: name, number, e-mail, custom "
                                       "fields, tags.", {}, []))
        elif name == "tag_ticket" and ctx.tags:
            out.append(_function(name, "Add existing tags to this conversation.",
                                 {"tags": {"type": "array", "items": {"type": "string", "enum": ctx.tags},
                                           "minItems": 1}}, ["tags"]))
        elif name == "set_field":
            out.append(_function(name, "Save one custom field of the customer's contact record.",
                                 {"name": {"type": "string"}, "value": {"type": "string"}}, ["name", "value"]))
        elif name == "schedule_followup":
            out.append(_function(name, "Schedule a follow-up message to this customer.",
                                 {"body": {"type": "string"},
                                  "run_at": {"type": "string",
                                             "description": "ISO date-time, in the company's time zone"}},
                                 ["body", "run_at"]))
        elif name == HANDOFF:
            props: dict[str, Any] = {"reason": {"type": "string", "description": "Why, in a few words."}}
            if queue_ids:
                props["queue_id"] = {"type": "integer", "enum": queue_ids,
                                     "description": f"The team to hand over to (optional): {queue_names}"}
            out.append(_function(name, "Hand the conversation over to a human agent.", props, ["reason"]))
    return out


def check(spec: dict[str, Any], arguments: Any) -> dict[str, Any]:
    """The model's arguments, held to the tool's schema: known names only, the right types, values
    from the enums. Anything else is refused (ToolRefused), before anything runs."""
    params = spec["function"]["parameters"]
    if not isinstance(arguments, dict):
        raise ToolRefused("arguments must be a JSON object")
    props = params["properties"]
    if unknown := sorted(set(arguments) - set(props)):
        raise ToolRefused(f"unknown argument(s) {', '.join(unknown)}; this tool takes {', '.join(props) or 'none'}")
    if missing := [k for k in params["required"] if k not in arguments]:
        raise ToolRefused(f"missing argument(s) {', '.join(missing)}")
    for key, value in arguments.items():
        prop = props[key]
        if prop["type"] == "string" and not (isinstance(value, str) and 0 < len(value.strip()) <= MAX_TEXT):
            raise ToolRefused(f"{key} must be a text of 1 to {MAX_TEXT} characters")
        if prop["type"] == "integer" and not (isinstance(value, int) and not isinstance(value, bool)):
            raise ToolRefused(f"{key} must be an integer")
        if prop["type"] == "array" and not (isinstance(value, list) and value
                                           and all(isinstance(v, str) for v in value)):
            raise ToolRefused(f"{key} must be a list of texts")
        allowed_values = prop.get("enum") or (prop.get("items") or {}).get("enum")
        if allowed_values is not None:
            for v in value if isinstance(value, list) else [value]:
                if v not in allowed_values:
                    raise ToolRefused(f"{key}: {v!r} is not one of {allowed_values}")
    return arguments


def rpc_call(name: str, args: dict[str, Any], ctx: Context) -> tuple[str, dict[str, Any]]:
    """The RPC method and params a (checked) tool call stands for; the ids come from ``ctx``."""
    if name == "lookup_contact":
        return METHODS[name], {"id": ctx.contact_id}
    if name == "tag_ticket":
        return METHODS[name], {"id": ctx.ticket_id, "tags": args["tags"], "mode": "add"}
    if name == "set_field":
        return METHODS[name], {"id": ctx.contact_id, "custom_fields": {args["name"].strip(): args["value"]}}
    if name == "schedule_followup":
        return METHODS[name], {"ticket_id": ctx.ticket_id, "body": args["body"], "run_at": args["run_at"]}
    raise ToolRefused(f"{name} is not a tool to run")


def _answer(name: str, result: Any) -> dict[str, Any]:
    """What the model reads back: the part of the method's answer that tool is about."""
    if name == "lookup_contact":
        return {"name": result.get("name") or result.get("push_name"), "number": result.get("number"),
                "email": result.get("email"), "custom_fields": result.get("custom_fields"),
                "tags": result.get("tags")}
    if name == "tag_ticket":
        return {"ok": True, "tags": result.get("tags")}
    if name == "set_field":
        return {"ok": True, "custom_fields": result.get("custom_fields")}
    return {"ok": True, "id": result.get("id"), "run_at": result.get("run_at")}


async def run(parts: Parts, actor: Actor, name: str, arguments: Any, offered: list[dict[str, Any]], ctx: Context,
              dry: bool = False) -> dict[str, Any]:
    """One tool call of the model, as ``{"tool", "arguments", "method", "result"}``; the result is
    what the model is told (``{"error": ...}`` when it was refused or failed). ``dry``: only
    reading tools run; the others say what they would have called."""
    spec = next((s for s in offered if s["function"]["name"] == name), None)
    record: dict[str, Any] = {"tool": name, "arguments": arguments, "method": METHODS.get(name)}
    try:
        if spec is None:
            raise ToolRefused(f"no tool {name!r}; the tools are {', '.join(s['function']['name'] for s in offered)}")
        method, params = rpc_call(name, check(spec, arguments), ctx)
        if dry and name not in READS:
            record["result"] = {"ok": True, "dry_run": True, "would_call": method, "params": params}
        else:
            record["result"] = _answer(name, await invoke(parts, actor, method, params))
    except ToolRefused as e:
        record["result"] = {"error": str(e)}
    except ZingError as e:
        record["result"] = {"error": e.message}
    return record


def as_messages(reply_text: str, calls: list[Any], records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The assistant's tool-calling turn and the tools' answers, for the next request."""
    turn = {"role": "assistant", "content": reply_text or "", "tool_calls": [  # "" not null: llama.cpp refuses null
        {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": json.dumps(c.arguments)}}
        for c in calls]}
    answers = [{"role": "tool", "tool_call_id": c.id, "content": json.dumps(r["result"], ensure_ascii=False)}
               for c, r in zip(calls, records)]
    return [turn, *answers]
