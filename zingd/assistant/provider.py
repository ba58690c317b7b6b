"""An OpenAI-compatible server, spoken over aiohttp: chat (whole or streamed with SSE), tool calls,
structured output, embeddings, transcription, the model list.

Servers differ (OpenAI, Ollama, llama.cpp, vLLM, LM Studio...), so nothing here trusts an answer's
shape: a reply is read defensively, and what can't be read is ``ProviderError("bad_response")``,
never a crash further in. Structured output is asked for in the standard ``json_schema`` form first,
then in the dialects servers understand instead (llama.cpp's ``json_object`` with a ``schema``,
plain ``json_object``, then only the prompt); the first that worked is remembered per server and
model. Bodies are read with a size limit: a server that sends gigabytes costs at most that.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from zingd.errors import Unavailable

log = logging.getLogger(__name__)
MAX_BODY = 4 << 20   # bytes of one answer (a whole reply, an SSE stream, an embeddings batch)
DIALECTS = ("json_schema", "json_object_schema", "json_object", "prompt")


class ProviderError(Unavailable):
    """The model server failed. ``kind``: auth, rate_limited, server, timeout, bad_response,
    unreachable, refused (another 4xx)."""

    def __init__(self, kind: str, message: str, status: int | None = None) -> None:
        super().__init__(f"the assistant's server: {message}", assistant=kind,
                         **({"status": status} if status is not None else {}))
        self.failure = kind
        self.status = status


@dataclass(slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def add(self, other: Usage) -> None:
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens


@dataclass(slots=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(slots=True)
class Reply:
    text: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    finish_reason: str = ""
    model: str = ""


def _int(value: Any) -> int:
    return value if isinstance(value, int) and value >= 0 else 0


def _usage(body: Any) -> Usage:
    u = body.get("usage") if isinstance(body, dict) else None
    if not isinstance(u, dict):
        return Usage()
    return Usage(_int(u.get("prompt_tokens")), _int(u.get("completion_tokens")))


def _arguments(raw: Any) -> dict[str, Any]:
    """A tool call's arguments: a JSON object as a string (the standard), or already an object."""
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, str):
        found = first_json_object(raw) if raw.strip() else {}
        if isinstance(found, dict):
            return found
    raise ProviderError("bad_response", "a tool call's arguments are not a JSON object")


def first_json_object(text: str) -> Any:
    """The first JSON object in ``text`` (models wrap JSON in prose or ``` fences); None if none."""
    decoder = json.JSONDecoder(strict=False)  # llama.cpp's grammars let raw newlines into strings
    start = text.find("{")
    while start != -1:
        try:
            value, _ = decoder.raw_decode(text, start)
            return value
        except json.JSONDecodeError:
            start = text.find("{", start + 1)
    return None


def _tool_calls(message: dict[str, Any]) -> list[ToolCall]:
    calls = message.get("tool_calls") or []
    if not isinstance(calls, list):
        raise ProviderError("bad_response", "tool_calls is not a list")
    out = []
    for i, call in enumerate(calls):
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise ProviderError("bad_response", "a tool call without a function name")
        out.append(ToolCall(str(call.get("id") or f"call_{i}"), fn["name"], _arguments(fn.get("arguments"))))
    return out


def _reply(body: Any) -> Reply:
    try:
        choice = body["choices"][0]
        message = choice["message"]
    except (KeyError, IndexError, TypeError):
        raise ProviderError("bad_response", "the answer has no choices[0].message") from None
    if not isinstance(message, dict):
        raise ProviderError("bad_response", "choices[0].message is not an object")
    text = message.get("content") or ""
    if not isinstance(text, str):
        text = "".join(p.get("text", "") for p in text if isinstance(p, dict)) if isinstance(text, list) else ""
    return Reply(text, _tool_calls(message), _usage(body), str(choice.get("finish_reason") or ""),
                 str(body.get("model") or ""))


def check(value: Any, schema: dict[str, Any]) -> bool:
    """Whether ``value`` fits the parts of JSON Schema zing's own schemas use: type, required,
    properties, items, enum. Enough to refuse what a small model makes up."""
    kind = schema.get("type")
    types = {"object": dict, "array": list, "string": str, "boolean": bool, "number": (int, float), "integer": int}
    if kind in types and (not isinstance(value, types[kind]) or (kind in ("number", "integer")
                                                                 and isinstance(value, bool))):
        return False
    if "enum" in schema and value not in schema["enum"]:
        return False
    if kind == "object":
        if any(name not in value for name in schema.get("required", ())):
            return False
        return all(check(value[k], s) for k, s in schema.get("properties", {}).items() if k in value)
    if kind == "array":
        return all(check(item, schema.get("items", {})) for item in value)
    return True


class Provider:
    """One server (base URL and key); the session is the daemon's, shared."""

    _dialect: dict[tuple[str, str], str] = {}  # (base_url, model) -> the structured-output form that worked

    def __init__(self, session: aiohttp.ClientSession, base_url: str, api_key: str = "",
                 timeout_s: float = 30.0) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = aiohttp.ClientTimeout(total=timeout_s, sock_connect=min(timeout_s, 10.0))

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    @staticmethod
    async def _body(resp: aiohttp.ClientResponse) -> bytes:
        data = bytearray()  # read() alone returns only what has arrived so far
        async for piece in resp.content.iter_chunked(1 << 16):
            data += piece
            if len(data) > MAX_BODY:
                raise ProviderError("bad_response", f"the answer is over {MAX_BODY >> 20} MB")
        return bytes(data)

    @staticmethod
    def _failed(status: int, data: bytes) -> ProviderError:
        detail = ""
        try:
            body = json.loads(data)
            err = body.get("error") or body.get("detail")  # OpenAI's shape, or FastAPI's (llama.cpp)
            detail = (err.get("message") if isinstance(err, dict) else err) or ""
        except (ValueError, AttributeError):
            detail = data[:200].decode(errors="replace")
        detail = f" ({str(detail)[:200]})" if detail else ""
        if status in (401, 403):
            return ProviderError("auth", f"refused the API key (HTTP {status}){detail}", status)
        if status == 429:
            return ProviderError("rate_limited", f"says too many requests (HTTP 429){detail}", status)
        if status >= 500:
            return ProviderError("server", f"failed (HTTP {status}){detail}", status)
        return ProviderError("refused", f"refused the request (HTTP {status}){detail}", status)

    async def _request(self, method: str, path: str, *, json_body: Any = None, data: Any = None,
                       stream: Callable[[aiohttp.ClientResponse], Any] | None = None) -> Any:
        url = self.base_url + path
        try:
            async with self.session.request(method, url, json=json_body, data=data, headers=self._headers(),
                                            timeout=self.timeout) as resp:
                if resp.status >= 400:
                    raise self._failed(resp.status, await self._body(resp))
                if stream is not None:
                    return await stream(resp)
                raw = await self._body(resp)
        except asyncio.TimeoutError:
            raise ProviderError("timeout", f"no answer from {self.base_url} within "
                                           f"{self.timeout.total:g} s") from None
        except aiohttp.ClientPayloadError as e:
            raise ProviderError("bad_response", f"the answer broke off ({e})") from None
        except aiohttp.ClientError as e:
            raise ProviderError("unreachable", f"cannot reach {self.base_url} ({type(e).__name__}: {e})") from None
        try:
            return json.loads(raw)
        except ValueError:
            raise ProviderError("bad_response", "the answer is not JSON") from None

    async def models(self) -> list[str]:
        body = await self._request("GET", "/models")
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise ProviderError("bad_response", "/models has no data list")
        return [m["id"] for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)]

    async def chat(self, model: str, messages: list[dict[str, Any]], *, tools: list[dict[str, Any]] | None = None,
                   tool_choice: Any = None, max_tokens: int | None = None, temperature: float | None = None,
                   response_format: dict[str, Any] | None = None,
                   on_delta: Callable[[str], Any] | None = None) -> Reply:
        """One completion. With ``on_delta`` it is streamed (SSE) and each piece of text is handed to
        it as it arrives; the Reply is the whole answer either way."""
        body: dict[str, Any] = {"model": model, "messages": messages}
        for key, value in (("tools", tools), ("tool_choice", tool_choice), ("max_tokens", max_tokens),
                           ("temperature", temperature), ("response_format", response_format)):
            if value is not None:
                body[key] = value
        if on_delta is None:
            return _reply(await self._request("POST", "/chat/completions", json_body=body))
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
        return await self._request("POST", "/chat/completions", json_body=body,
                                   stream=lambda resp: self._read_stream(resp, messages, on_delta))

    async def _read_stream(self, resp: aiohttp.ClientResponse, messages: list[dict[str, Any]],
                           on_delta: Callable[[str], Any]) -> Reply:
        """Server-sent events: ``data: {chunk}`` lines until ``data: [DONE]`` (or the end)."""
        text: list[str] = []
        calls: dict[int, dict[str, Any]] = {}
        reply = Reply("")
        size = pieces = 0
        async for line in resp.content:
            size += len(line)
            if size > MAX_BODY:
                raise ProviderError("bad_response", f"the stream is over {MAX_BODY >> 20} MB")
            line = line.strip()
            if not line.startswith(b"data:"):
                continue  # comments (": keep-alive"), event names, blank separators
            data = line[5:].strip()
            if data == b"[DONE]":
                break
            try:
                chunk = json.loads(data)
            except ValueError:
                raise ProviderError("bad_response", "a stream event is not JSON") from None
            if not isinstance(chunk, dict):
                raise ProviderError("bad_response", "a stream event is not an object")
            if isinstance(chunk.get("error"), dict):
                raise ProviderError("server", f"failed mid-stream ({chunk['error'].get('message', '')})")
            usage = _usage(chunk)
            if usage.prompt_tokens or usage.completion_tokens:
                reply.usage = usage
            reply.model = str(chunk.get("model") or reply.model)
            for choice in chunk.get("choices") or []:
                if not isinstance(choice, dict):
                    continue
                delta = choice.get("delta") or {}
                piece = delta.get("content") if isinstance(delta, dict) else None
                if isinstance(piece, str) and piece:
                    pieces += 1
                    text.append(piece)
                    on_delta(piece)
                for call in (delta.get("tool_calls") or []) if isinstance(delta, dict) else []:
                    pieces += 1
                    slot = calls.setdefault(call.get("index", 0), {"id": "", "name": "", "arguments": ""})
                    fn = call.get("function") or {}
                    slot["id"] = call.get("id") or slot["id"]
                    slot["name"] = slot["name"] or fn.get("name") or ""  # llama.cpp repeats it in every chunk
                    slot["arguments"] += fn.get("arguments") or ""
                if choice.get("finish_reason"):
                    reply.finish_reason = str(choice["finish_reason"])
        if not reply.finish_reason:
            # llama.cpp ends a stream it interrupts for a newer request with [DONE] and no finish_reason:
            # what came is only the start of the answer
            raise ProviderError("server", "the server ended the stream before the answer was complete")
        if not (reply.usage.prompt_tokens or reply.usage.completion_tokens):
            # servers that don't count in streams (llama.cpp): one piece is about one token
            reply.usage = Usage(len(json.dumps(messages, ensure_ascii=False)) // 4, pieces)
        reply.text = "".join(text)
        reply.tool_calls = [ToolCall(c["id"] or f"call_{i}", c["name"], _arguments(c["arguments"] or "{}"))
                            for i, c in sorted(calls.items()) if c["name"]]
        return reply

    async def structured(self, model: str, messages: list[dict[str, Any]], schema: dict[str, Any], name: str,
                         max_tokens: int | None = None) -> tuple[dict[str, Any], Usage]:
        """A JSON object that fits ``schema``. Tries the dialects in order (from the one that worked
        last time with this server and model); a server refusing one (4xx/5xx) moves to the next; an
        answer that doesn't fit the schema is ``bad_response``."""
        key = (self.base_url, model)
        known = self._dialect.get(key)
        order = [known] + [d for d in DIALECTS if d != known] if known else list(DIALECTS)
        usage = Usage()
        hint = {"role": "system", "content": "Answer with one JSON object only, matching this JSON schema: "
                                             + json.dumps(schema, ensure_ascii=False)}
        last: ProviderError | None = None
        for dialect in order:
            formats = {
                "json_schema": {"type": "json_schema", "json_schema": {"name": name, "schema": schema,
                                                                       "strict": True}},
                "json_object_schema": {"type": "json_object", "schema": schema},
                "json_object": {"type": "json_object"},
                "prompt": None,
            }
            try:
                reply = await self.chat(model, [hint, *messages], max_tokens=max_tokens,
                                        response_format=formats[dialect])
            except ProviderError as e:
                if e.failure not in ("server", "refused"):
                    raise
                last = e
                continue
            usage.add(reply.usage)
            value = first_json_object(reply.text)
            if not isinstance(value, dict) or not check(value, schema):
                raise ProviderError("bad_response", "the answer does not fit the expected JSON shape")
            self._dialect[key] = dialect
            return value, usage
        raise last or ProviderError("bad_response", "no structured output")

    async def embed(self, model: str, texts: list[str]) -> tuple[list[list[float]], Usage]:
        body = await self._request("POST", "/embeddings", json_body={"model": model, "input": texts})
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list) or len(data) != len(texts):
            raise ProviderError("bad_response", "/embeddings did not answer one vector per text")
        vectors = []
        for item in sorted(data, key=lambda d: d.get("index", 0) if isinstance(d, dict) else 0):
            vec = item.get("embedding") if isinstance(item, dict) else None
            if not isinstance(vec, list) or not vec or not all(isinstance(x, (int, float)) for x in vec):
                raise ProviderError("bad_response", "an embedding is not a list of numbers")
            vectors.append([float(x) for x in vec])
        return vectors, _usage(body)

    async def transcribe(self, model: str, audio: bytes, filename: str, mime: str) -> tuple[str, Usage]:
        form = aiohttp.FormData()
        form.add_field("model", model)
        form.add_field("response_format", "json")
        form.add_field("file", audio, filename=filename, content_type=mime)
        body = await self._request("POST", "/audio/transcriptions", data=form)
        text = body.get("text") if isinstance(body, dict) else None
        if not isinstance(text, str):
            raise ProviderError("bad_response", "/audio/transcriptions has no text")
        return text.strip(), _usage(body)
