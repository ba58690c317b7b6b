"""A scripted OpenAI-compatible server on 127.0.0.1 for the assistant's tests.

It runs in its own thread and event loop, so sync tests (a real zingd over its socket) and async
ones (the console under Pilot) use it alike. Answers for ``/v1/chat/completions`` are queued
(first in, first out) with ``reply``/``tool_call``/``error``/``garbage``/``slow``/``hang``/``stream``,
or computed by ``ai.handler(body) -> answer``; with nothing queued the server answers
``ai.default``. A queued text answer is streamed (SSE) when the request asks ``stream: true``.

    with FakeOpenAI() as ai:
        ai.reply("Hello!")
        ... point the tenant at ai.url ...
        ai.wait_requests(1)
        assert ai.requests[0]["json"]["model"] == "fake"
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import re
import threading
import time
from collections import deque
from typing import Any, Callable

from aiohttp import web

Answer = dict[str, Any]


def bag_of_words(texts: list[str], dims: int = 64) -> list[list[float]]:
    """Deterministic embeddings: texts sharing words point the same way (unit vectors)."""
    out = []
    for text in texts:
        vec = [0.0] * dims
        for word in re.findall(r"\w+", text.lower()):
            vec[int(hashlib.md5(word.encode()).hexdigest(), 16) % dims] += 1.0
        norm = math.sqrt(sum(x * x for x in vec)) or 1.0
        out.append([x / norm for x in vec])
    return out


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


class FakeOpenAI:
    def __init__(self, api_key: str = "") -> None:
        self.api_key = api_key          # when set, every request needs "Authorization: Bearer <key>"
        self.models = ["fake", "fake-embed", "fake-whisper"]
        self.default = "OK."
        # "llama": behave as llama.cpp's server does (tool names repeated in every streamed chunk, no
        # usage in streams, response_format json_schema refused with HTTP 500)
        self.dialect = "openai"
        self.handler: Callable[[dict[str, Any]], Answer | None] | None = None
        self.embeddings_fn: Callable[[list[str]], list[list[float]]] = bag_of_words
        self.requests: list[dict[str, Any]] = []
        self._answers: deque[Answer] = deque()
        self._transcripts: deque[Answer] = deque()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._release: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- scripting -------------------------------------------------------------
    def _queue(self, answer: Answer) -> FakeOpenAI:
        with self._lock:
            self._answers.append(answer)
        return self

    def reply(self, text: str, **usage: int) -> FakeOpenAI:
        """A text answer (streamed in a few pieces when the request streams)."""
        return self._queue({"kind": "text", "text": text, "usage": usage})

    def tool_call(self, name: str, arguments: dict[str, Any] | str, text: str = "") -> FakeOpenAI:
        """An answer calling one tool (``arguments`` a dict, or a raw string to test bad JSON)."""
        return self._queue({"kind": "tool", "calls": [(name, arguments)], "text": text})

    def tool_calls(self, *calls: tuple[str, dict[str, Any]]) -> FakeOpenAI:
        return self._queue({"kind": "tool", "calls": list(calls), "text": ""})

    def error(self, status: int, message: str = "scripted failure") -> FakeOpenAI:
        return self._queue({"kind": "error", "status": status, "message": message})

    def garbage(self, body: bytes = b"<html>not json") -> FakeOpenAI:
        """HTTP 200 with a body that isn't an OpenAI answer."""
        return self._queue({"kind": "garbage", "body": body})

    def empty(self) -> FakeOpenAI:
        """A well-formed answer with no text and no tool call."""
        return self._queue({"kind": "text", "text": "", "usage": {}})

    def slow(self, seconds: float, text: str = "late") -> FakeOpenAI:
        return self._queue({"kind": "text", "text": text, "delay": seconds, "usage": {}})

    def hang(self) -> FakeOpenAI:
        """Never answer (until ``release()`` or the server stops): for timeouts."""
        return self._queue({"kind": "hang"})

    def stream(self, text: str, pieces: int = 4, gap: float = 0.0, hold: bool = False) -> FakeOpenAI:
        """A streamed answer in ``pieces``; with ``hold`` the last piece waits for ``release()``."""
        return self._queue({"kind": "text", "text": text, "pieces": pieces, "gap": gap, "hold": hold,
                            "usage": {}})

    def cut(self, text: str) -> FakeOpenAI:
        """A stream that ends with [DONE] before any finish_reason (llama.cpp interrupting it)."""
        return self._queue({"kind": "text", "text": text, "cut": True, "usage": {}})

    def release(self) -> None:
        """Let held streams and hung requests go on."""
        if self._loop is not None and self._release is not None:
            self._loop.call_soon_threadsafe(self._release.set)

    def transcript(self, text: str) -> FakeOpenAI:
        with self._lock:
            self._transcripts.append({"kind": "text", "text": text})
        return self

    def transcript_error(self, status: int) -> FakeOpenAI:
        with self._lock:
            self._transcripts.append({"kind": "error", "status": status, "message": "scripted failure"})
        return self

    # -- observing -------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def chat_requests(self) -> list[dict[str, Any]]:
        return [r for r in list(self.requests) if r["path"].endswith("/chat/completions")]

    def wait_requests(self, n: int, path: str = "/chat/completions", timeout: float = 20.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            found = [r for r in list(self.requests) if r["path"].endswith(path)]
            if len(found) >= n:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(found)} requests to {path}, wanted {n}")
            time.sleep(0.01)

    # -- serving ---------------------------------------------------------------
    def _authorized(self, request: web.Request) -> bool:
        return not self.api_key or request.headers.get("Authorization") == f"Bearer {self.api_key}"

    def _note(self, request: web.Request, body: Any, **extra: Any) -> None:
        self.requests.append({"path": request.path, "json": body, "headers": dict(request.headers), **extra})

    async def _models(self, request: web.Request) -> web.Response:
        self._note(request, None)
        if not self._authorized(request):
            return web.json_response({"error": {"message": "bad key"}}, status=401)
        return web.json_response({"object": "list", "data": [{"id": m, "object": "model"} for m in self.models]})

    def _next(self, body: dict[str, Any]) -> Answer:
        if self.handler is not None:
            answer = self.handler(body)
            if answer is not None:
                return answer
        with self._lock:
            if self._answers:
                return self._answers.popleft()
        return {"kind": "text", "text": self.default, "usage": {}}

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        self._note(request, body)
        if not self._authorized(request):
            return web.json_response({"error": {"message": "bad key"}}, status=401)
        if not isinstance(body, dict) or "messages" not in body:
            return web.json_response({"error": {"message": "messages is required"}}, status=400)
        if self.dialect == "llama" and (body.get("response_format") or {}).get("type") == "json_schema":
            return web.json_response({"error": {"message": "Input should be 'text' or 'json_object'"}}, status=500)
        answer = self._next(body)
        kind = answer["kind"]
        if kind == "hang":
            await self._release.wait()
            return web.json_response({"error": {"message": "released"}}, status=503)
        if kind == "error":
            return web.json_response({"error": {"message": answer["message"]}}, status=answer["status"])
        if kind == "garbage":
            return web.Response(body=answer["body"], content_type="text/html")
        if answer.get("delay"):
            await asyncio.sleep(answer["delay"])
        prompt = _tokens(json.dumps(body.get("messages"), ensure_ascii=False))
        text = answer.get("text", "")
        usage = {"prompt_tokens": prompt, "completion_tokens": _tokens(text) if text else 0,
                 **answer.get("usage", {})}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        calls = [{"id": f"call_{i}", "type": "function",
                  "function": {"name": name, "arguments": args if isinstance(args, str) else json.dumps(args)}}
                 for i, (name, args) in enumerate(answer.get("calls", []))]
        if body.get("stream"):
            return await self._stream(request, body, text, calls, usage, answer)
        message: dict[str, Any] = {"role": "assistant", "content": text or None}
        if calls:
            message["tool_calls"] = calls
        return web.json_response({
            "id": "chatcmpl-fake", "object": "chat.completion", "model": body.get("model", ""),
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}],
            "usage": usage})

    async def _stream(self, request: web.Request, body: dict[str, Any], text: str, calls: list[dict[str, Any]],
                      usage: dict[str, int], answer: Answer) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await resp.prepare(request)
        model = body.get("model", "")

        async def event(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> None:
            chunk = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": model,
                     "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
            await resp.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")

        await resp.write(b": keep-alive\n\n")
        await event({"role": "assistant"})
        n = max(1, answer.get("pieces", 4))
        size = max(1, math.ceil(len(text) / n)) if text else 1
        parts = [text[i:i + size] for i in range(0, len(text), size)]
        for i, part in enumerate(parts):
            if answer.get("hold") and i == len(parts) - 1:
                await self._release.wait()
            await event({"content": part})
            if answer.get("gap"):
                await asyncio.sleep(answer["gap"])
        llama = self.dialect == "llama"
        for i, call in enumerate(calls):
            name, args = call["function"]["name"], call["function"]["arguments"]
            await event({"tool_calls": [{"index": i, "id": call["id"], "type": "function",
                                         "function": {"name": name, "arguments": ""}}]})
            for j in range(0, len(args), 3):
                await event({"tool_calls": [{"index": i, "function": {
                    **({"name": name} if llama else {}), "arguments": args[j:j + 3]}}]})
        if not answer.get("cut"):
            await event({}, "tool_calls" if calls else "stop")
        if (body.get("stream_options") or {}).get("include_usage") and not llama:
            chunk = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": model, "choices": [],
                     "usage": usage}
            await resp.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp

    async def _embeddings(self, request: web.Request) -> web.Response:
        body = await request.json()
        self._note(request, body)
        if not self._authorized(request):
            return web.json_response({"error": {"message": "bad key"}}, status=401)
        texts = body.get("input")
        texts = [texts] if isinstance(texts, str) else texts
        vectors = self.embeddings_fn(texts)
        tokens = sum(_tokens(t) for t in texts)
        return web.json_response({"object": "list", "model": body.get("model"),
                                  "data": [{"object": "embedding", "index": i, "embedding": v}
                                           for i, v in enumerate(vectors)],
                                  "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

    async def _transcriptions(self, request: web.Request) -> web.Response:
        fields: dict[str, Any] = {}
        reader = await request.multipart()
        async for part in reader:
            data = await part.read()
            if part.filename:
                fields["file"] = {"filename": part.filename, "content_type": part.headers.get("Content-Type"),
                                  "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            else:
                fields[part.name] = data.decode()
        self._note(request, None, form=fields)
        if not self._authorized(request):
            return web.json_response({"error": {"message": "bad key"}}, status=401)
        with self._lock:
            answer = self._transcripts.popleft() if self._transcripts else {"kind": "text", "text": "(inaudible)"}
        if answer["kind"] == "error":
            return web.json_response({"error": {"message": answer["message"]}}, status=answer["status"])
        return web.json_response({"text": answer["text"]})

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        self._release = asyncio.Event()
        app = web.Application(client_max_size=64 << 20)
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/embeddings", self._embeddings)
        app.router.add_post("/v1/audio/transcriptions", self._transcriptions)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]
        self._ready.set()
        loop.run_forever()
        self._release.set()
        loop.run_until_complete(self._runner.cleanup())
        loop.close()

    def __enter__(self) -> FakeOpenAI:
        self._thread = threading.Thread(target=self._serve, name="fake-openai", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fake OpenAI server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._release.set)
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
