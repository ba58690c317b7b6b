"""The Cloud API's webhook on zing's HTTP server: ``/webhooks/whatsapp`` (docs/cloud.md).

- ``GET``: Meta's verification handshake when an admin saves the URL: ``hub.mode=subscribe`` and a
  ``hub.verify_token`` equal (constant-time) to a running cloud number's → 200 with ``hub.challenge``;
  anything else → 403.
- ``POST``: a delivery. The raw body (bounded) must carry ``X-Hub-Signature-256`` = HMAC-SHA256 of
  exactly those bytes with the app secret of a running cloud number, checked constant-time against
  each distinct secret before anything is parsed: no match → 401, nothing read. Then every entry
  and every change (not just the first) goes to the cloud number it names — by
  ``metadata.phone_number_id``, or for a change about the business account (template status,
  quality, account updates: no metadata) by the entry's business-account id — and only to numbers
  whose own app secret signed this body: one tenant's secret can't deliver into another's number.
  Each change is committed before the answer; 200 means all of it is. A change that fails → 500
  (Meta delivers the whole body again later; what was already stored is not stored twice), the log
  naming the entry, the field and the number. Unknown numbers and fields are logged and skipped.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from zingd.channels.cloud.payloads import digits

if TYPE_CHECKING:
    from zingd.channels.cloud.channel import CloudChannel
    from zingd.channels.manager import Channels

log = logging.getLogger(__name__)

PATH = "/webhooks/whatsapp"
BODY_LIMIT = 4 << 20       # Meta's deliveries are at most a few MB
BODY_TIMEOUT_S = 15.0
MAX_CHANGES = 1000         # entries × changes in one delivery (Meta batches far fewer)
CHALLENGE_LIMIT = 256
REFUSED_LOG_S = 60.0       # a refused peer is logged once a minute, with how many it sent meanwhile


class Refusals:
    """Unsigned or mis-signed deliveries, logged once per peer and minute (a flood is not a log flood)."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[float, int]] = {}

    def note(self, peer: str, why: str) -> None:
        now = time.monotonic()
        last, count = self._last.get(peer, (0.0, 0))
        if now - last < REFUSED_LOG_S:
            self._last[peer] = (last, count + 1)
            return
        if len(self._last) > 1024:
            self._last.clear()
        self._last[peer] = (now, 0)
        more = f" ({count} more refused since the last line)" if count else ""
        log.warning("webhook from %s refused: %s%s", peer, why, more)


def _cloud(channels: Channels) -> list[CloudChannel]:
    found = []
    for cid in channels.ids():
        channel = channels.get(cid)
        if channel is not None and channel.kind == "cloud":
            found.append(channel)
    return found


def _signed_by(body: bytes, header: str, numbers: list[CloudChannel]) -> list[CloudChannel]:
    """The numbers whose app secret made this signature (each distinct secret computed once)."""
    scheme, _, given = header.partition("=")
    if scheme.strip().lower() != "sha256" or not given:
        return []
    given = given.strip().lower().encode()
    verdict: dict[str, bool] = {}
    signed = []
    for number in numbers:
        secret = number.account.app_secret
        if secret and secret not in verdict:
            expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest().encode()
            verdict[secret] = hmac.compare_digest(expected, given)
        if verdict.get(secret):
            signed.append(number)
    return signed


def _targets(entry: dict[str, Any], field: str, value: dict[str, Any],
             signed: list[CloudChannel]) -> list[CloudChannel]:
    """The numbers a change is for: its phone-number id's, else (a business-account change) the
    entry's account's; a quality change names the number by its display phone."""
    metadata = value.get("metadata")
    pnid = str(metadata.get("phone_number_id") or "") if isinstance(metadata, dict) else ""
    if pnid:
        return [n for n in signed if n.account.phone_number_id == pnid]
    waba = str(entry.get("id") or "")
    found = [n for n in signed if waba and n.account.business_account_id == waba]
    shown = digits(str(value.get("display_phone_number") or "")) if field == "phone_number_quality_update" else ""
    if shown:
        exact = [n for n in found if digits(n.health().get("display_phone")) == shown]
        return exact or found
    return found


async def _body(request: web.Request) -> bytes | None:
    """The raw body, read in chunks up to BODY_LIMIT within BODY_TIMEOUT_S (None: larger, or a peer
    trickling it: an unsigned body holds no connection open for long)."""
    if (request.content_length or 0) > BODY_LIMIT:
        return None
    data = bytearray()
    try:
        async with asyncio.timeout(BODY_TIMEOUT_S):
            async for chunk in request.content.iter_chunked(64 << 10):
                data += chunk
                if len(data) > BODY_LIMIT:
                    return None
    except TimeoutError:
        return None
    return bytes(data)


def routes(channels: Channels) -> list[web.RouteDef]:
    refusals = Refusals()

    async def verify(request: web.Request) -> web.Response:
        q = request.query
        token, challenge = q.get("hub.verify_token", ""), q.get("hub.challenge", "")
        known = [n.account.verify_token for n in _cloud(channels) if n.account.verify_token]
        matched = False
        for candidate in known:  # every one compared, constant-time: no early exit to time
            matched |= hmac.compare_digest(candidate.encode(), token.encode())
        if q.get("hub.mode") != "subscribe" or not matched or not challenge or len(challenge) > CHALLENGE_LIMIT:
            log.info("webhook verification from %s refused (mode %r, %s)", request.remote, q.get("hub.mode"),
                     "token matches no cloud number" if not matched else "no usable challenge")
            return web.Response(status=403, text="forbidden")
        log.info("webhook verified by %s", request.remote)
        return web.Response(text=challenge)

    async def deliver(request: web.Request) -> web.Response:
        peer = request.remote or "?"
        body = await _body(request)
        if body is None:
            refusals.note(peer, f"body over {BODY_LIMIT} bytes or not sent within {BODY_TIMEOUT_S:g}s")
            return web.Response(status=413, text="too large or too slow")
        header = request.headers.get("X-Hub-Signature-256", "")
        numbers = _cloud(channels)
        signed = _signed_by(body, header, numbers) if header else []
        if not signed:
            refusals.note(peer, "no X-Hub-Signature-256" if not header else
                          "its signature matches no cloud number's app secret" if numbers else "no cloud numbers")
            return web.Response(status=401, text="bad signature")
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError) as e:  # nested past Python's stack: not Meta's
            log.warning("webhook from %s: signed but not JSON (%s)", peer, type(e).__name__ if isinstance(
                e, RecursionError) else e)
            return web.Response(status=400, text="not JSON")
        entries = payload.get("entry") if isinstance(payload, dict) else None
        if not isinstance(entries, list):
            log.warning("webhook from %s: signed but no entry list", peer)
            return web.Response(status=400, text="no entries")
        if payload.get("object") != "whatsapp_business_account":
            log.info("webhook from %s: object %r is not WhatsApp's, ignored", peer, payload.get("object"))
            return web.Response(text="ignored")
        changes = [(e, c) for e in entries if isinstance(e, dict)
                   for c in (e.get("changes") if isinstance(e.get("changes"), list) else []) if isinstance(c, dict)]
        if len(changes) > MAX_CHANGES:
            log.warning("webhook from %s: %d changes, over the %d zing takes in one delivery", peer, len(changes),
                        MAX_CHANGES)
            return web.Response(status=413, text="too many changes")
        failed = 0
        for entry, change in changes:
            field, value = str(change.get("field") or ""), change.get("value")
            if not isinstance(value, dict):
                log.info("webhook entry %s: change %r without a value, skipped", entry.get("id"), field)
                continue
            targets = _targets(entry, field, value, signed)
            if not targets:
                pnid = (value.get("metadata") or {}).get("phone_number_id") if isinstance(
                    value.get("metadata"), dict) else None
                log.info("webhook entry %s: %s change for %s: no cloud number here signed with its secret, "
                         "skipped", entry.get("id"), field or "a", f"phone-number id {pnid}" if pnid
                         else f"business account {entry.get('id')}")
                continue
            for number in targets:
                try:
                    await number.on_change(field, value)
                except Exception:
                    failed += 1
                    log.exception("webhook entry %s: the %s change for connection %s failed (Meta will deliver "
                                  "it again)", entry.get("id"), field, number.connection_id)
        if failed:
            return web.Response(status=500, text=f"{failed} changes failed")
        return web.Response(text="ok")

    return [web.get(PATH, verify), web.post(PATH, deliver)]
