"""Optional HTTP endpoint (aiohttp), off unless ``[http] enabled``.

- ``GET /health``: 200 when the database answers and its writer runs (503 otherwise), with each number's state.
- ``GET /metrics``: Prometheus text, read from the daemon's counters at scrape time.
- ``POST /api/v1/<method>``: any RPC method with an API token (``Authorization: Bearer za_...``),
  params as the JSON body; the answer is the JSON-RPC result or error object, with an HTTP
  status that matches (401, 403, 404, 409, 422, 429, 503, 500).
- ``POST /api/v1/media?name=photo.jpg``: a file as the raw body, with an API token; answers
  ``{"result": {"upload_id", ...}}`` (media.upload's result) for message.send / send_to,
  campaign.create and contact.import. At most the media limit (64 MiB), checked as it arrives.
- ``GET|POST /webhooks/whatsapp``: the WhatsApp Cloud API's webhook (``zingd/channels/cloud/webhook.py``):
  Meta's verification handshake, and signed deliveries for the cloud numbers (docs/cloud.md).
Events need a live connection and stay on the Unix socket.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import web
from prometheus_client import generate_latest

from zingd.channels.cloud import webhook as cloud_webhook
from zingd.errors import Invalid, Unauthenticated, ZingError
from zingd.metrics import ZingCollector
from zingd.rpc import protocol
from zingd.rpc.client import UPLOAD_CHUNK
from zingd.rpc.server import Call
from zingd.services.uploads import MAX_MEDIA

if TYPE_CHECKING:
    from zingd.actor import Actor
    from zingd.rpc.parts import Parts
    from zingd.rpc.server import RpcServer
    from zingd.services.inbound import Inbound
    from zingd.workers.outbox import Outbox

log = logging.getLogger(__name__)
_enc = msgspec.json.Encoder()
STATUS = {"unauthenticated": 401, "forbidden": 403, "not_found": 404, "method_not_found": 404, "conflict": 409,
          "invalid": 422, "invalid_params": 422, "rate_limited": 429, "channel_down": 503,
          "unavailable": 503, "frame_too_large": 413}
SOCKET_ONLY = ("events.", "auth.login", "auth.logout", "auth.bootstrap", "auth.token")


class HttpSession:
    """Stands in for a socket session: just the actor, for one request."""

    peer_uid = None

    def __init__(self, actor) -> None:
        self.actor = actor


def build(parts: Parts, rpc_server: RpcServer, inbound: Inbound, outbox: Outbox) -> web.Application:
    registry = parts.metrics.registry
    parts.metrics.watch(ZingCollector(parts, rpc_server, inbound, outbox))

    async def health(request: web.Request) -> web.Response:
        try:
            await parts.db.value("SELECT 1")
            parts.db.check_writer()
        except Exception as e:
            return web.json_response({"status": "down", "error": str(e)}, status=503)
        connections = [{"id": cid, "state": parts.channels.get(cid).state} for cid in parts.channels.ids()]
        return web.json_response({"status": "ok", "connections": connections,
                                  "outbox": await outbox.depth()})

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(registry), content_type="text/plain", charset="utf-8")

    async def rpc(request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if method.startswith(SOCKET_ONLY):
            return _reply({"code": -32601, "message": f"{method} is only on the Unix socket",
                           "data": {"kind": "method_not_found"}})
        try:
            actor = await api_actor(parts, request)
        except ZingError as e:
            return _reply({"code": e.code, "message": e.message, "data": e.to_data()})
        limits = parts.settings.rpc
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _reply({"code": -32600, "message": f"body larger than {limits.frame_limit} bytes; "
                           "send files to /api/v1/media", "data": {"kind": "frame_too_large",
                                                                   "limit": limits.frame_limit}})
        try:
            params = protocol.loads(body, limits.max_depth) if body.strip() else {}
        except protocol.Refused as e:
            return _reply({"code": -32600, "message": str(e), "data": {"kind": e.kind, "limit": e.limit}})
        except (msgspec.DecodeError, UnicodeDecodeError) as e:
            return _reply({"code": -32700, "message": f"parse error: {e}", "data": {"kind": "parse_error"}})
        reply = await rpc_server.call(Call(parts, HttpSession(actor)), method, params)
        return _reply(reply.get("error"), reply.get("result"))

    async def media(request: web.Request) -> web.Response:
        """The body, read in chunks (client_max_size bounds only whole-body reads), goes to media.upload
        chunk by chunk: the socket's checks and limits apply as they are."""
        try:
            actor = await api_actor(parts, request)
            if (request.content_length or 0) > MAX_MEDIA:
                raise Invalid(f"the body is {request.content_length} bytes; the limit is {MAX_MEDIA}", field="body",
                              limit=MAX_MEDIA)
        except ZingError as e:
            return _reply({"code": e.code, "message": e.message, "data": e.to_data()})
        call, upload_id = Call(parts, HttpSession(actor)), None
        while True:
            try:
                piece, last = await request.content.readexactly(UPLOAD_CHUNK), False
            except asyncio.IncompleteReadError as e:
                piece, last = e.partial, True
            params = {"data": base64.b64encode(piece).decode(), "done": last}
            params.update({"name": request.query.get("name")} if upload_id is None else {"upload_id": upload_id})
            reply = await rpc_server.call(call, "media.upload", params)
            if "error" in reply or last:
                return _reply(reply.get("error"), reply.get("result"))
            upload_id = reply["result"]["upload_id"]

    web_app = web.Application(client_max_size=parts.settings.rpc.frame_limit)
    web_app.add_routes([web.get("/health", health), web.get("/metrics", metrics),
                        web.post("/api/v1/media", media), web.post("/api/v1/{method}", rpc),
                        *cloud_webhook.routes(parts.channels)])
    return web_app


async def api_actor(parts: Parts, request: web.Request) -> Actor:
    """Who an HTTP request acts as: its ``Authorization: Bearer`` API token's actor. Only API tokens
    (named, role-capped, what the docs promise here): a session token is a console's login and stays
    on the socket. A header that isn't ASCII (aiohttp keeps a stray byte as a surrogate) is no token."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme != "Bearer" or not token.isascii():
        raise Unauthenticated("send Authorization: Bearer <API token> (zingctl tokens create)")
    actor, _ = await parts.auth.from_token(token, kind="api")
    return actor


def _reply(error: dict[str, Any] | None, result: Any = None) -> web.Response:
    if error is not None:
        kind = (error.get("data") or {}).get("kind", "")
        status = STATUS.get(kind, 400 if error["code"] in (-32700, -32600, -32602) else 500)
        return web.Response(body=_enc.encode({"error": error}), status=status, content_type="application/json")
    return web.Response(body=_enc.encode({"result": result}), content_type="application/json")


class HttpServer:
    def __init__(self, parts: Parts, rpc: RpcServer, inbound: Inbound, outbox: Outbox) -> None:
        self.parts, self.rpc, self.inbound, self.outbox = parts, rpc, inbound, outbox
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        s = self.parts.settings.http
        self._runner = web.AppRunner(build(self.parts, self.rpc, self.inbound, self.outbox), access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, s.host, s.port).start()
        log.info("HTTP on http://%s:%d", s.host, s.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
