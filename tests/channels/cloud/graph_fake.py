"""Meta's Graph API (the WhatsApp Business Cloud API) on 127.0.0.1, for the cloud channel's tests.

It runs in its own thread and event loop, so sync tests (a real zingd over its socket) and async ones
(the console under Pilot) use it alike. It answers as Graph does (shapes from Meta's reference and
examples), checks the Bearer on every call, and records what it was asked.

    with FakeGraph() as g:
        rpc("connection.create", {"name": "Cloud", "kind": "cloud", "cloud": g.cloud_params()})
        ... an agent answers ...
        sent = g.wait_sent(1)
        assert sent[0]["json"]["biz_opaque_callback_data"] == zing_wa_id

What it serves (``/{version}/...``, any version):
- ``POST /{phone_number_id}/messages``: a send (text, image/audio/video/document/sticker by uploaded id or
  link, reaction, template, interactive) → ``{"messaging_product","contacts":[{"input","wa_id"}],
  "messages":[{"id": wamid}]}``; or a read mark (``{"status": "read", "message_id"}``) → ``{"success": true}``.
- ``POST /{phone_number_id}/media`` (multipart: file, type, messaging_product) → ``{"id"}``.
- ``GET /{media_id}`` → ``{"url","mime_type","sha256","file_size","id","messaging_product"}``; the url is on
  this server (``/whatsapp_business/attachments/?mid=…``) and demands the Bearer too.
- ``GET /{waba_id}/message_templates?fields=…&limit=…&after=…`` → ``{"data", "paging"}`` (``page_size``
  per page unless ``limit`` asks fewer, so paging is exercised).
- ``GET /{phone_number_id}?fields=…`` → the number (display_phone_number, verified_name, quality_rating,
  messaging_limit_tier, …) with only the fields asked (and ``id``).
- Anything else, or an id it doesn't know → Graph's code 100 (subcode 33) answer.

Attributes and methods (all callable from any thread):
- ids and secrets: ``base_url``, ``token``, ``app_secret``, ``verify_token``, ``phone_number_id``,
  ``waba_id``, ``display_phone``; ``numbers`` (phone_number_id → its fields: change ``quality_rating``,
  ``messaging_limit_tier``, ``verified_name`` there); ``cloud_params(**override)`` = the ``cloud`` dict of
  ``connection.create``; ``add_number(phone_number_id, display_phone, waba_id=None, **fields)``.
- records: ``sent`` ({"wamid","phone_number_id","to","json"} per accepted send), ``reads`` (wamids marked
  read), ``uploads`` ({"media_id","mime","filename","size","data"}), ``requests`` ({"method","path","query",
  "auth"} for every request, the ``Authorization`` header as it came); ``wait_sent(n)``, ``wait(predicate)``
  (condition waits; they raise AssertionError on timeout); ``sent_to(recipient)``.
- media: ``add_media(data, mime, filename=None, file_size=None) -> media_id`` (``file_size`` overrides what
  ``GET /{media_id}`` declares); ``fail_media(media_id, http_status=404, code=100, stage="info")`` (stage
  "info": ``GET /{media_id}`` answers the error, as for an id Meta no longer keeps; "download": the file URL
  answers ``http_status``); ``redirect_media(media_id, location)`` (the file URL answers 302 to
  ``location``); ``slow_media`` (seconds the file URL waits before its first byte).
- templates: ``add_template(name, language="pt_BR", body=…, status="APPROVED", category="UTILITY",
  header=None, buttons=None, waba_id=None, examples=None) -> dict`` (Graph's object, with its id; ``header``
  a text or a component dict; ``buttons`` Graph's button dicts; ``{{1}}`` positional or ``{{name}}`` named
  variables); ``templates`` (waba_id → list); ``page_size``; ``template_status(name, language, status,
  reason=None)`` changes the stored status and returns the ``message_template_status_update`` change value.
  Template sends are checked: unknown name/language → 132001, a component's parameter count (or names)
  not the template's → 132000, PAUSED and other non-APPROVED → 132015, DISABLED → 132016.
- faults: ``fail_next(code, http_status=None, message=None, subcode=None, times=1, retry_after=None,
  details=None)`` (the next message sends — not read marks — answer that Graph error, with the HTTP status
  Meta gives that code unless ``http_status`` says another; ``retry_after`` sets
  a ``Retry-After`` header); ``token_valid = False`` (every call: 401, code 190); ``hang_next(times=1)`` (the
  send is recorded in ``sent`` — the customer got it — but no answer comes until ``release()``, which lets
  it answer normally, or the server stops); ``cold`` (recipients outside the 24-hour window: a non-template
  send to them → 131047); ``offline = True`` (every request's connection is dropped unanswered).
- webhooks: ``post_webhook(url, payload, *, secret=None, signature=None, raw=None) -> (status, text)``
  (signs the exact bytes sent with ``app_secret`` or ``secret``; ``signature`` is sent verbatim instead, ""
  for no header; ``raw`` bytes replace the JSON of ``payload``); ``apost_webhook(...)`` the same for a
  caller's event loop; ``verify(url, token=None, challenge="1158201444", mode="subscribe") -> (status, text)``
  (the GET handshake); ``statuses(wamid, status, recipient, ours=None, error=None, ts=None, *, user_id=None,
  phone_number_id=None) -> dict`` (a ``messages`` change value with one status; ``error`` a Graph code or
  an error dict; a ``recipient`` with a dot is a BSUID); ``quality(event, current_limit, old_limit=None,
  phone_number_id=None)`` (a ``phone_number_quality_update`` value); ``metadata(phone_number_id=None)``;
  ``envelope(*values, field="messages", waba_id=None)`` (one entry, one change per value) and
  ``batch(*envelopes)`` (their entries in one body); ``new_wamid()``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import re
import threading
import time
from typing import Any, Callable
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

# Graph's words for the codes the tests inject (message, HTTP status), from Meta's error-code reference.
ERRORS: dict[int, tuple[str, int]] = {
    4: ("(#4) Application request limit reached", 400),
    10: ("(#10) Application does not have permission for this action", 403),
    100: ("(#100) Invalid parameter", 400),
    190: ("Error validating access token: Session has expired", 401),
    200: ("(#200) Permissions error", 403),
    368: ("(#368) Temporarily blocked for policies violations", 400),
    80007: ("(#80007) Rate limit issues", 400),
    130429: ("(#130429) Rate limit hit", 400),
    131000: ("(#131000) Something went wrong", 500),
    131016: ("(#131016) Service unavailable", 503),
    131021: ("(#131021) Recipient cannot be sender", 400),
    131026: ("(#131026) Message Undeliverable", 400),
    131031: ("(#131031) Account has been locked", 400),
    131047: ("(#131047) Re-engagement message", 400),
    131048: ("(#131048) Spam rate limit hit", 400),
    131056: ("(#131056) (Business Account, Consumer Account) pair rate limit hit", 400),
    132000: ("(#132000) Number of parameters does not match the expected number of params", 400),
    132001: ("(#132001) Template name does not exist in the translation", 400),
    132005: ("(#132005) Translated text too long", 400),
    132007: ("(#132007) Template Format Character Policy Violated", 400),
    132012: ("(#132012) Parameter format does not match format in the created template", 400),
    132015: ("(#132015) Template is Paused", 400),
    132016: ("(#132016) Template is Disabled", 400),
}
DETAILS = {
    131047: "Message failed to send because more than 24 hours have passed since the customer last replied "
            "to this number.",
    131048: "Message failed to send because there are restrictions on how many messages can be sent from this "
            "phone number. This may be because too many previous messages were blocked or flagged as spam.",
}
MEDIA_TYPES = ("image", "audio", "video", "document", "sticker")
SEND_TYPES = (*MEDIA_TYPES, "text", "reaction", "template", "interactive", "location", "contacts")
VARIABLE = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")


def digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _variables(text: str) -> list[str]:
    """A template text's distinct variables, in order of first use."""
    return list(dict.fromkeys(VARIABLE.findall(text or "")))


class FakeGraph:
    def __init__(self, token: str = "EAAGfake-token-0001", app_secret: str = "fake-app-secret-0001",
                 verify_token: str = "fake-verify-0001", phone_number_id: str = "1090000000001",
                 waba_id: str = "2090000000001", display_phone: str = "+55 11 4000-0001",
                 api_version: str = "v23.0") -> None:
        self.token, self.app_secret, self.verify_token = token, app_secret, verify_token
        self.phone_number_id, self.waba_id, self.display_phone = phone_number_id, waba_id, display_phone
        self.api_version = api_version
        self.token_valid = True
        self.offline = False
        self.page_size = 2
        self.slow_media = 0.0
        self.cold: set[str] = set()
        self.numbers: dict[str, dict[str, Any]] = {}
        self.templates: dict[str, list[dict[str, Any]]] = {}
        self.sent: list[dict[str, Any]] = []
        self.reads: list[str] = []
        self.uploads: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self._media: dict[str, dict[str, Any]] = {}
        self._faults: list[dict[str, Any]] = []
        self._hangs = 0
        self._held: list[asyncio.Future] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.port = 0
        self.add_number(phone_number_id, display_phone, waba_id)

    # -- setup -----------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cloud_params(self, **override: Any) -> dict[str, Any]:
        """The ``cloud`` dict of ``connection.create`` for a number on this server."""
        return {"phone_number_id": self.phone_number_id, "business_account_id": self.waba_id,
                "access_token": self.token, "app_secret": self.app_secret, "verify_token": self.verify_token,
                "api_version": self.api_version, "base_url": self.base_url, **override}

    def add_number(self, phone_number_id: str, display_phone: str, waba_id: str | None = None,
                   **fields: Any) -> dict[str, Any]:
        number = {"id": phone_number_id, "display_phone_number": display_phone, "verified_name": "Fake Co",
                  "quality_rating": "GREEN", "messaging_limit_tier": "TIER_1K", "code_verification_status":
                  "VERIFIED", "platform_type": "CLOUD_API", "throughput": {"level": "STANDARD"},
                  "waba_id": waba_id or self.waba_id, **fields}
        self.numbers[phone_number_id] = number
        return number

    def _new_id(self) -> str:
        with self._lock:
            return str(1037500000000000 + next(self._ids))

    def new_wamid(self) -> str:
        raw = f"\x15\x02\x00\x11\x18\x12{time.time_ns():x}{next(self._ids):08X}".encode()
        return "wamid.HBgN" + base64.b64encode(raw).decode()

    def add_media(self, data: bytes, mime: str, filename: str | None = None, file_size: int | None = None) -> str:
        media_id = self._new_id()
        self._media[media_id] = {"data": data, "mime": mime, "filename": filename,
                                 "file_size": len(data) if file_size is None else file_size}
        return media_id

    def fail_media(self, media_id: str, http_status: int = 404, code: int = 100, stage: str = "info") -> None:
        self._media.setdefault(media_id, {"data": b"", "mime": "application/octet-stream", "filename": None,
                                          "file_size": 0})
        self._media[media_id]["fail"] = {"status": http_status, "code": code, "stage": stage}

    def redirect_media(self, media_id: str, location: str) -> None:
        self._media[media_id]["redirect"] = location

    def add_template(self, name: str, language: str = "pt_BR", body: str = "Olá {{1}}, seu pedido {{2}} saiu.",
                     status: str = "APPROVED", category: str = "UTILITY", header: str | dict | None = None,
                     buttons: list[dict] | None = None, waba_id: str | None = None,
                     examples: list[str] | None = None) -> dict[str, Any]:
        """A template as Graph lists it: components with Meta's ``example`` blocks."""
        names = _variables(body)
        named = any(not n.isdigit() for n in names)
        samples = examples or [f"exemplo{i + 1}" for i in range(len(names))]
        comp_body: dict[str, Any] = {"type": "BODY", "text": body}
        if names and named:
            comp_body["example"] = {"body_text_named_params": [{"param_name": n, "example": samples[i]}
                                                               for i, n in enumerate(names)]}
        elif names:
            comp_body["example"] = {"body_text": [samples]}
        components: list[dict[str, Any]] = []
        if isinstance(header, str):
            comp_header: dict[str, Any] = {"type": "HEADER", "format": "TEXT", "text": header}
            if _variables(header):
                comp_header["example"] = {"header_text": [f"cabecalho{i + 1}"
                                                          for i in range(len(_variables(header)))]}
            components.append(comp_header)
        elif header is not None:
            components.append(header)
        components.append(comp_body)
        if buttons:
            components.append({"type": "BUTTONS", "buttons": buttons})
        template = {"name": name, "parameter_format": "NAMED" if named else "POSITIONAL",
                    "components": components, "language": language, "status": status, "category": category,
                    "id": self._new_id(), "rejected_reason": "NONE"}
        self.templates.setdefault(waba_id or self.waba_id, []).append(template)
        return template

    def _template(self, name: str, language: str) -> dict[str, Any] | None:
        for templates in self.templates.values():
            for t in templates:
                if t["name"] == name and t["language"] == language:
                    return t
        return None

    def template_status(self, name: str, language: str = "pt_BR", status: str = "PAUSED",
                        reason: str | None = None) -> dict[str, Any]:
        """Change a template's status here and answer the webhook change value Meta would post."""
        t = self._template(name, language)
        if t is None:
            raise KeyError(f"no template {name}/{language}")
        t["status"] = status
        t["rejected_reason"] = reason or "NONE"
        value: dict[str, Any] = {"event": status, "message_template_id": int(t["id"]),
                                 "message_template_name": name, "message_template_language": language,
                                 "reason": reason or "NONE"}
        if status == "PAUSED":
            value["other_info"] = {"title": "FIRST_PAUSE",
                                   "description": "Your WhatsApp message template has been paused for 3 hours "
                                                  "until Jan 1 because of low quality."}
        return value

    # -- faults ----------------------------------------------------------------
    def fail_next(self, code: int, http_status: int | None = None, message: str | None = None,
                  subcode: int | None = None, times: int = 1, retry_after: float | None = None,
                  details: str | None = None) -> None:
        known_message, known_status = ERRORS.get(code, (f"(#{code}) Error", 400))
        with self._lock:
            self._faults.extend([{"code": code, "status": http_status or known_status,
                                  "message": message or known_message, "subcode": subcode,
                                  "retry_after": retry_after, "details": details}] * times)

    def hang_next(self, times: int = 1) -> None:
        with self._lock:
            self._hangs += times

    def release(self) -> None:
        """Let hung sends answer (normally)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._release_all)

    def _release_all(self, drop: bool = False) -> None:
        for held in self._held:
            if not held.done():
                held.cancel() if drop else held.set_result(None)
        self._held.clear()

    # -- observing -------------------------------------------------------------
    def wait(self, predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"FakeGraph: timed out waiting for {what}")
            time.sleep(0.01)

    def wait_sent(self, n: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        return self.wait(lambda: list(self.sent) if len(self.sent) >= n else None, timeout,
                         f"{n} sends (have {len(self.sent)})")

    def sent_to(self, recipient: str) -> list[dict[str, Any]]:
        return [s for s in list(self.sent) if s["to"] == recipient]

    # -- webhook builders ------------------------------------------------------
    def metadata(self, phone_number_id: str | None = None) -> dict[str, str]:
        pnid = phone_number_id or self.phone_number_id
        return {"display_phone_number": digits(self.numbers[pnid]["display_phone_number"]),
                "phone_number_id": pnid}

    def statuses(self, wamid: str, status: str, recipient: str, ours: str | None = None,
                 error: int | dict | None = None, ts: float | None = None, *, user_id: str | None = None,
                 phone_number_id: str | None = None) -> dict[str, Any]:
        """A ``messages`` change value carrying one status of a message the business sent."""
        item: dict[str, Any] = {"id": wamid, "status": status, "timestamp": str(int(ts or time.time()))}
        if "." in recipient:  # a BSUID: the customer's phone isn't shared
            item["recipient_user_id"] = recipient
        else:
            item["recipient_id"] = recipient
            if user_id:
                item["recipient_user_id"] = user_id
        if ours is not None:
            item["biz_opaque_callback_data"] = ours
        if status in ("sent", "delivered", "read"):
            item["conversation"] = {"id": hashlib.md5(recipient.encode()).hexdigest(),
                                    "origin": {"type": "service"}}
            item["pricing"] = {"billable": True, "pricing_model": "PMP", "category": "service",
                               "type": "free_customer_service"}
        if error is not None:
            if isinstance(error, int):
                title = ERRORS.get(error, (f"(#{error}) Error", 400))[0].split(") ", 1)[-1]
                error = {"code": error, "title": title, "message": title,
                         "error_data": {"details": DETAILS.get(error, title)},
                         "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"}
            item["errors"] = [error]
        return {"messaging_product": "whatsapp", "metadata": self.metadata(phone_number_id), "statuses": [item]}

    def quality(self, event: str = "DOWNGRADE", current_limit: str = "TIER_250", old_limit: str | None = None,
                phone_number_id: str | None = None) -> dict[str, Any]:
        value = {"display_phone_number": self.metadata(phone_number_id)["display_phone_number"], "event": event,
                 "current_limit": current_limit}
        if old_limit:
            value["old_limit"] = old_limit
        return value

    def envelope(self, *values: dict[str, Any], field: str = "messages", waba_id: str | None = None) -> dict[str, Any]:
        return {"object": "whatsapp_business_account",
                "entry": [{"id": waba_id or self.waba_id, "time": int(time.time()),
                           "changes": [{"field": field, "value": v} for v in values]}]}

    @staticmethod
    def batch(*envelopes: dict[str, Any]) -> dict[str, Any]:
        return {"object": "whatsapp_business_account", "entry": [e for env in envelopes for e in env["entry"]]}

    # -- webhooks out ----------------------------------------------------------
    def sign(self, body: bytes, secret: str | None = None) -> str:
        return "sha256=" + hmac.new((secret or self.app_secret).encode(), body, hashlib.sha256).hexdigest()

    async def _post(self, url: str, payload: dict | bytes, secret: str | None, signature: str | None,
                    raw: bytes | None) -> tuple[int, str]:
        if raw is not None:
            body = raw
        elif isinstance(payload, bytes):
            body = payload
        else:
            body = json.dumps(payload, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "facebookexternalua"}
        if signature is None:
            headers["X-Hub-Signature-256"] = self.sign(body, secret)
        elif signature:
            headers["X-Hub-Signature-256"] = signature
        async with self._session.post(url, data=body, headers=headers) as resp:
            return resp.status, await resp.text()

    def post_webhook(self, url: str, payload: dict | bytes, *, secret: str | None = None,
                     signature: str | None = None, raw: bytes | None = None,
                     timeout: float = 30.0) -> tuple[int, str]:
        """POST a webhook as Meta does (blocking the caller); answers (status, text)."""
        fut = asyncio.run_coroutine_threadsafe(self._post(url, payload, secret, signature, raw), self._loop)
        return fut.result(timeout)

    async def apost_webhook(self, url: str, payload: dict | bytes, *, secret: str | None = None,
                            signature: str | None = None, raw: bytes | None = None) -> tuple[int, str]:
        """``post_webhook`` for a test running its own event loop."""
        fut = asyncio.run_coroutine_threadsafe(self._post(url, payload, secret, signature, raw), self._loop)
        return await asyncio.wrap_future(fut)

    async def _get(self, url: str, params: dict[str, str]) -> tuple[int, str]:
        async with self._session.get(url, params=params) as resp:
            return resp.status, await resp.text()

    def verify(self, url: str, token: str | None = None, challenge: str = "1158201444",
               mode: str = "subscribe", timeout: float = 30.0) -> tuple[int, str]:
        """The webhook's GET verification handshake, as Meta runs it when the URL is saved."""
        params = {"hub.mode": mode, "hub.verify_token": self.verify_token if token is None else token,
                  "hub.challenge": challenge}
        return asyncio.run_coroutine_threadsafe(self._get(url, params), self._loop).result(timeout)

    # -- serving: helpers ------------------------------------------------------
    @staticmethod
    def _error(code: int, message: str | None = None, status: int | None = None, subcode: int | None = None,
               details: str | None = None, headers: dict[str, str] | None = None) -> web.Response:
        known_message, known_status = ERRORS.get(code, (f"(#{code}) Error", 400))
        error: dict[str, Any] = {"message": message or known_message,
                                 "type": "OAuthException", "code": code,
                                 "fbtrace_id": "A" + hashlib.md5(str(time.time_ns()).encode()).hexdigest()[:22]}
        if subcode is not None:
            error["error_subcode"] = subcode
        if details or code in DETAILS:
            error["error_data"] = {"messaging_product": "whatsapp", "details": details or DETAILS[code]}
        return web.json_response({"error": error}, status=status or known_status, headers=headers)

    def _missing(self, request: web.Request) -> web.Response:
        node = request.match_info.get("node", request.path)
        verb = "post" if request.method == "POST" else "get"
        return self._error(100, f"Unsupported {verb} request. Object with ID '{node}' does not exist, cannot be "
                                "loaded due to missing permissions, or does not support this operation.",
                           subcode=33)

    @web.middleware
    async def _gate(self, request: web.Request, handler):
        self.requests.append({"method": request.method, "path": request.path, "query": dict(request.query),
                              "auth": request.headers.get("Authorization")})
        if self.offline:
            request.transport.close()  # no answer at all: a dropped connection
            return web.Response(status=503)
        auth = request.headers.get("Authorization")
        if not auth:
            return self._error(190, "An active access token must be used to query information about the "
                                    "current user.")
        if auth != f"Bearer {self.token}":
            return self._error(190, "Invalid OAuth access token - Cannot parse access token")
        if not self.token_valid:
            return self._error(190, "Error validating access token: Session has expired on Tuesday, "
                                    "01-Jan-2030 00:00:00 PST.", subcode=463)
        return await handler(request)

    # -- serving: messages -----------------------------------------------------
    def _check_template(self, template: dict[str, Any]) -> web.Response | None:
        language = (template.get("language") or {}).get("code", "")
        t = self._template(template.get("name", ""), language)
        if t is None:
            return self._error(132001, details=f"template name ({template.get('name')}) does not exist in "
                                                f"{language}")
        if t["status"] == "DISABLED":
            return self._error(132016)
        if t["status"] != "APPROVED":
            return self._error(132015, details=f"template status is {t['status']}")
        sent = {(c.get("type") or "").lower() + (f":{int(c.get('index', 0))}" if c.get("type") == "button" else ""): c
                for c in template.get("components") or []}
        for comp in t["components"]:
            kind = comp["type"].lower()
            if kind == "buttons":
                for i, button in enumerate(comp["buttons"]):
                    want = _variables(button.get("url", "")) if button.get("type") == "URL" else []
                    if error := self._check_params(want, sent.get(f"button:{i}"), f"button {i}"):
                        return error
                continue
            want = _variables(comp.get("text", "")) if comp.get("format", "TEXT") == "TEXT" else ["media"]
            if error := self._check_params(want, sent.get(kind), kind):
                return error
        return None

    def _check_params(self, want: list[str], comp: dict[str, Any] | None, where: str) -> web.Response | None:
        got = (comp or {}).get("parameters") or []
        if len(got) != len(want):
            return self._error(132000, details=f"{where}: number of localizable_params ({len(got)}) does not "
                                               f"match the expected number of params ({len(want)})")
        named = [n for n in want if not n.isdigit() and n != "media"]
        if named and [p.get("parameter_name") for p in got] != named:
            return self._error(132000, details=f"{where}: parameter names do not match the template's")
        return None

    def _check_send(self, body: Any) -> web.Response | None:
        if not isinstance(body, dict) or body.get("messaging_product") != "whatsapp":
            return self._error(100, "(#100) The parameter messaging_product is required.")
        recipient = body.get("to") or body.get("recipient")
        if not recipient:
            return self._error(100, "(#100) The parameter to is required.")
        kind = body.get("type", "text")
        if kind not in SEND_TYPES or not isinstance(body.get(kind), dict):
            return self._error(100, f"(#100) Param {kind} must be a JSON object")
        payload = body[kind]
        if kind == "text" and not (payload.get("body") or "").strip():
            return self._error(100, "(#100) Param text['body'] is required")
        if kind == "text" and len(payload["body"]) > 4096:
            return self._error(100, "(#100) Param text['body'] must be at most 4096 characters long.")
        if kind in MEDIA_TYPES and not payload.get("link") and payload.get("id") not in self._media:
            return self._error(131053, "(#131053) Media upload error", details="media id not found")
        if kind == "reaction" and not payload.get("message_id"):
            return self._error(100, "(#100) Param reaction['message_id'] is required")
        if kind == "template":
            if error := self._check_template(payload):
                return error
        elif recipient in self.cold or digits(recipient) in self.cold and "." not in recipient:
            return self._error(131047)
        return None

    async def _messages(self, request: web.Request) -> web.Response:
        pnid = request.match_info["node"]
        if pnid not in self.numbers:
            return self._missing(request)
        try:
            body = await request.json()
        except ValueError:
            return self._error(100, "(#100) Invalid JSON")
        if isinstance(body, dict) and body.get("status") == "read":
            if not body.get("message_id"):
                return self._error(100, "(#100) The parameter message_id is required.")
            self.reads.append(body["message_id"])
            return web.json_response({"success": True})
        with self._lock:
            fault = self._faults.pop(0) if self._faults else None
        if fault is not None:
            headers = {"Retry-After": f"{fault['retry_after']:g}"} if fault["retry_after"] is not None else None
            return self._error(fault["code"], fault["message"], fault["status"], fault["subcode"], fault["details"],
                               headers)
        if error := self._check_send(body):
            return error
        wamid = self.new_wamid()
        recipient = body.get("to") or body.get("recipient")
        self.sent.append({"wamid": wamid, "phone_number_id": pnid, "to": recipient, "json": body})
        with self._lock:
            hang, self._hangs = self._hangs > 0, max(0, self._hangs - 1)
        if hang:
            held = asyncio.get_running_loop().create_future()
            self._held.append(held)
            await held
        contact = {"input": recipient, "user_id": recipient} if "to" not in body else \
            {"input": recipient, "wa_id": digits(recipient)}
        answer = {"messaging_product": "whatsapp", "contacts": [contact], "messages": [{"id": wamid}]}
        if body.get("type") == "template":
            answer["messages"][0]["message_status"] = "accepted"
        return web.json_response(answer)

    # -- serving: media --------------------------------------------------------
    async def _upload(self, request: web.Request) -> web.Response:
        if request.match_info["node"] not in self.numbers:
            return self._missing(request)
        fields: dict[str, Any] = {}
        try:
            reader = await request.multipart()
        except (AssertionError, ValueError):
            return self._error(100, "(#100) The parameter file is required.")
        async for part in reader:
            data = await part.read()
            if part.name == "file":
                fields["file"] = (data, part.filename, part.headers.get("Content-Type", ""))
            else:
                fields[part.name] = data.decode()
        if fields.get("messaging_product") != "whatsapp":
            return self._error(100, "(#100) The parameter messaging_product is required.")
        if "file" not in fields:
            return self._error(100, "(#100) The parameter file is required.")
        data, filename, content_type = fields["file"]
        mime = fields.get("type") or content_type
        if not mime:
            return self._error(100, "(#100) Param type is required")
        media_id = self.add_media(data, mime, filename)
        self.uploads.append({"media_id": media_id, "mime": mime, "filename": filename, "size": len(data),
                             "data": data})
        return web.json_response({"id": media_id})

    def _media_info(self, request: web.Request, media_id: str) -> web.Response:
        media = self._media[media_id]
        fail = media.get("fail")
        if fail and fail["stage"] == "info":
            return self._error(fail["code"], status=fail["status"], subcode=33 if fail["code"] == 100 else None,
                               message=f"Unsupported get request. Object with ID '{media_id}' does not exist, "
                                       "cannot be loaded due to missing permissions, or does not support this "
                                       "operation." if fail["code"] == 100 else None)
        query = urlencode({"mid": media_id, "ext": str(int(time.time())), "hash": "ATtfake" + media_id[-6:]})
        return web.json_response({
            "messaging_product": "whatsapp", "url": f"{self.base_url}/whatsapp_business/attachments/?{query}",
            "mime_type": media["mime"], "sha256": hashlib.sha256(media["data"]).hexdigest(),
            "file_size": media["file_size"], "id": media_id})

    async def _attachment(self, request: web.Request) -> web.StreamResponse:
        media = self._media.get(request.query.get("mid", ""))
        if media is None:
            return web.Response(status=404, text="Not Found")
        fail = media.get("fail")
        if fail and fail["stage"] == "download":
            return web.Response(status=fail["status"], text="Error")
        if media.get("redirect"):
            raise web.HTTPFound(media["redirect"])
        if self.slow_media:
            await asyncio.sleep(self.slow_media)
        return web.Response(body=media["data"], content_type=media["mime"])

    # -- serving: nodes --------------------------------------------------------
    async def _node(self, request: web.Request) -> web.Response:
        node = request.match_info["node"]
        fields = [f for f in request.query.get("fields", "").split(",") if f]
        if node in self.numbers:
            number = self.numbers[node]
            shown = {k: v for k, v in number.items() if k != "waba_id" and (not fields or k in fields)}
            return web.json_response({**shown, "id": node})
        if node in self._media:
            return self._media_info(request, node)
        return self._missing(request)

    async def _templates(self, request: web.Request) -> web.Response:
        waba = request.match_info["node"]
        if waba not in {n["waba_id"] for n in self.numbers.values()} and waba not in self.templates:
            return self._missing(request)
        try:
            limit = min(self.page_size, int(request.query.get("limit", self.page_size)))
            start = int(base64.b64decode(request.query["after"]).decode()) if "after" in request.query else 0
        except (ValueError, TypeError):
            return self._error(100, "(#100) Invalid paging parameters")
        fields = [f for f in request.query.get("fields", "").split(",") if f]
        templates = self.templates.get(waba, [])
        page = [{k: v for k, v in t.items() if not fields or k in fields or k == "id"}
                for t in templates[start:start + limit]]
        paging: dict[str, Any] = {"cursors": {"before": base64.b64encode(str(start).encode()).decode(),
                                              "after": base64.b64encode(str(start + len(page)).encode()).decode()}}
        if start + len(page) < len(templates):
            query = {k: v for k, v in request.query.items() if k != "after"}
            query["after"] = paging["cursors"]["after"]
            paging["next"] = f"{self.base_url}{request.path}?{urlencode(query)}"
        return web.json_response({"data": page, "paging": paging})

    # -- lifecycle -------------------------------------------------------------
    @staticmethod
    async def _client() -> aiohttp.ClientSession:
        return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        app = web.Application(client_max_size=128 << 20, middlewares=[self._gate])
        app.router.add_post("/{v}/{node}/messages", self._messages)
        app.router.add_post("/{v}/{node}/media", self._upload)
        app.router.add_get("/{v}/{node}/message_templates", self._templates)
        app.router.add_get("/whatsapp_business/attachments/", self._attachment)
        app.router.add_get("/{v}/{node}", self._node)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]
        self._session = loop.run_until_complete(self._client())
        self._ready.set()
        loop.run_forever()
        self._release_all(drop=True)  # hung sends never answer: their connections drop
        loop.run_until_complete(self._session.close())
        loop.run_until_complete(self._runner.cleanup())
        loop.close()

    def __enter__(self) -> FakeGraph:
        self._thread = threading.Thread(target=self._serve, name="fake-graph", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fake Graph server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
