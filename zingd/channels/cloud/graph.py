"""Meta's Graph API as one cloud number uses it: messages, read marks, media, templates, the number.

aiohttp directly, not a client library: the calls are few and small, each needs a bound on what it
reads and a Graph error mapped onto what zing does next (``KINDS``), and the token must go to
Graph's URLs only and never into a log line or an exception's text.

One ``Graph`` per channel, over one ``aiohttp.ClientSession`` (``open``/``close``). The token travels
in an ``Authorization: Bearer`` header on each request, never in a URL or the session's defaults,
so a request to a host Graph didn't name can't carry it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import aiohttp
from yarl import URL

from zingd.channels.cloud.account import CloudAccount

log = logging.getLogger(__name__)

# What each Graph error code means for zing (Meta's error-code reference), by kind:
# auth: the token or its permissions (an admin must act); throttle: too fast (wait, then go on);
# spam: the spam rate limit (pause long); blocked: the account is blocked or locked; window: outside the
# customer's 24-hour window (only a template may go); template: the template or its parameters;
# invalid: this request can't succeed as it is; server: Meta's side, another attempt may pass.
KINDS: dict[int, str] = {
    190: "auth", 102: "auth", 10: "auth", 131005: "auth", **{code: "auth" for code in range(200, 300)},
    4: "throttle", 80007: "throttle", 130429: "throttle", 131056: "throttle",
    131048: "spam",
    368: "blocked", 131031: "blocked",
    131047: "window",
    **{code: "template" for code in (132000, 132001, 132005, 132007, 132012, 132015, 132016)},
    **{code: "invalid" for code in (100, 131008, 131009, 131021, 131026, 131051, 131053)},
    1: "server", 2: "server", 131000: "server", 131016: "server",
}
KIND_NAMES = ("auth", "throttle", "spam", "window", "template", "blocked", "invalid", "server", "timeout",
              "unreachable", "bad_response")

JSON_LIMIT = 4 << 20        # any Graph answer but a file (a page of 100 templates is well under this)
ERROR_LIMIT = 64 << 10      # an error body
TEMPLATE_PAGES = 100        # 100 pages of 100: far over Meta's per-account template limit
NUMBER_FIELDS = "display_phone_number,verified_name,quality_rating,messaging_limit_tier,throughput,name_status"
TEMPLATE_FIELDS = "name,status,language,category,components,rejected_reason,parameter_format"
_REDIRECTS = 3


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float = 10.0
    request: float = 20.0    # a whole JSON call; under the outbox's send timeout, so a send answers first
    download: float = 120.0  # a whole file


class GraphError(Exception):
    """A Graph call that failed: ``kind`` (one of ``KIND_NAMES``) says what zing does about it."""

    def __init__(self, kind: str, code: int, message: str, http_status: int = 0, details: str = "",
                 retry_after: float | None = None, subcode: int | None = None) -> None:
        super().__init__(message)
        self.kind, self.code, self.message = kind, code, message
        self.http_status, self.details, self.retry_after, self.subcode = http_status, details, retry_after, subcode

    def __str__(self) -> str:
        text = self.message
        if self.details and self.details not in text:
            text = f"{text}: {self.details}"
        return f"{text} (code {self.code})" if self.code else text


def kind_of(code: int, http_status: int) -> str:
    """The one mapping from a Graph error to its kind: the code first, else the HTTP status."""
    if code in KINDS:
        return KINDS[code]
    if http_status in (401, 403):
        return "auth"
    if http_status == 429:
        return "throttle"
    if http_status >= 500:
        return "server"
    return "invalid"


def _retry_after(headers: Any) -> float | None:
    """How long Meta asks us to wait: ``Retry-After`` (seconds), or the business-use-case usage header's
    ``estimated_time_to_regain_access`` (minutes)."""
    value = headers.get("Retry-After")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
    usage = headers.get("X-Business-Use-Case-Usage")
    if usage:
        try:
            minutes = [entry.get("estimated_time_to_regain_access", 0) or 0
                       for entries in json.loads(usage).values() for entry in entries]
        except (ValueError, AttributeError, TypeError):
            return None
        if minutes and max(minutes) > 0:
            return max(minutes) * 60.0
    return None


class Graph:
    def __init__(self, account: CloudAccount, timeouts: Timeouts | None = None) -> None:
        self.account = account
        self.timeouts = timeouts or Timeouts()
        self.root = URL(account.base_url.rstrip("/") + "/" + account.api_version.strip("/") + "/")
        self._origin = URL(account.base_url).origin()
        self._session: aiohttp.ClientSession | None = None
        self._file_urls: deque[str] = deque(maxlen=512)  # file URLs Graph named (media_info), the token may go there
        self._file_hosts: set[str] = set()
        self.calls = 0
        self.last_latency: float | None = None

    async def open(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeouts.request, connect=self.timeouts.connect),
                raise_for_status=False, trust_env=False)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _scrub(self, text: str) -> str:
        token = self.account.access_token
        return text.replace(token, "[token]") if token else text

    @property
    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.account.access_token}"}

    # ---------------------------------------------------------------- calls

    async def send(self, payload: dict[str, Any]) -> str:
        """POST a message; Meta's id for it (``wamid.…``)."""
        answer = await self._call("POST", f"{self.account.phone_number_id}/messages", json_body=payload)
        try:
            wamid = answer["messages"][0]["id"]
        except (KeyError, IndexError, TypeError):
            raise GraphError("bad_response", 0, "Graph accepted the message but named no message id") from None
        if not isinstance(wamid, str) or not wamid:
            raise GraphError("bad_response", 0, "Graph answered a message id that is not a string")
        return wamid

    async def mark_read(self, wamid: str) -> None:
        await self._call("POST", f"{self.account.phone_number_id}/messages",
                         json_body={"messaging_product": "whatsapp", "status": "read", "message_id": wamid})

    async def upload(self, data: bytes, mime: str, filename: str) -> str:
        """Upload a file for sending; its media id (Meta keeps it 30 days)."""
        form = aiohttp.FormData()
        form.add_field("messaging_product", "whatsapp")
        form.add_field("type", mime)
        form.add_field("file", data, filename=filename or "file", content_type=mime)
        answer = await self._call("POST", f"{self.account.phone_number_id}/media", data=form,
                                  timeout=self.timeouts.download)
        media_id = answer.get("id") if isinstance(answer, dict) else None
        if not isinstance(media_id, str) or not media_id:
            raise GraphError("bad_response", 0, "Graph took the upload but named no media id")
        return media_id

    async def media_info(self, media_id: str) -> dict[str, Any]:
        """``{"url","mime_type","sha256","file_size","id"}``; the URL lasts about five minutes."""
        if not media_id.isdigit():  # it comes from a webhook: an id, never a path on Graph's host
            raise GraphError("invalid", 0, f"{media_id[:40]!r} is not a media id")
        info = await self._call("GET", media_id)
        url = info.get("url") if isinstance(info, dict) else None
        if not isinstance(url, str) or URL(url).scheme not in ("https", self._origin.scheme):
            raise GraphError("bad_response", 0, "Graph named no usable URL for the file")
        self._file_urls.append(url)
        self._file_hosts.add(URL(url).host or "")
        return info

    async def download(self, url: str, limit: int) -> bytes:
        """The file at a URL ``media_info`` named, streamed; refused past ``limit`` bytes. Redirects are
        followed only to Graph's own host or hosts Graph named for files, and never off https."""
        if url not in self._file_urls and URL(url).origin() != self._origin:
            raise GraphError("invalid", 0, "refusing to send the token to a URL Graph didn't name")
        await self.open()
        target = URL(url, encoded=True)
        started = time.monotonic()
        try:
            for _ in range(_REDIRECTS + 1):
                async with self._session.get(
                        target, headers=self._auth, allow_redirects=False,
                        timeout=aiohttp.ClientTimeout(total=self.timeouts.download,
                                                      connect=self.timeouts.connect)) as resp:
                    if resp.status in (301, 302, 303, 307, 308):
                        target = self._redirect(target, resp.headers.get("Location", ""))
                        continue
                    if resp.status >= 400:
                        raise await self._error(resp)
                    if resp.content_length is not None and resp.content_length > limit:
                        raise GraphError("invalid", 0, f"the file is {resp.content_length} bytes, over the "
                                                       f"{limit}-byte limit", resp.status)
                    data = bytearray()
                    async for chunk in resp.content.iter_chunked(64 << 10):
                        data += chunk
                        if len(data) > limit:
                            raise GraphError("invalid", 0, f"the file is over the {limit}-byte limit", resp.status)
                    return bytes(data)
            raise GraphError("bad_response", 0, f"more than {_REDIRECTS} redirects for one file")
        except GraphError:
            raise
        except BaseException as exc:
            raise self._transport_error(exc, "GET file", started) from None

    def _redirect(self, current: URL, location: str) -> URL:
        if not location:
            raise GraphError("bad_response", 0, "a redirect without a Location")
        target = URL(urljoin(str(current), location), encoded=True)
        allowed = target.origin() == self._origin or (target.scheme == "https" and target.host in self._file_hosts)
        if not allowed:
            raise GraphError("invalid", 0, f"refusing a redirect to {target.host}, a host Graph didn't name")
        return target

    async def templates(self) -> list[dict[str, Any]]:
        """Every message template of the business account (Graph's objects), following the pages."""
        found: list[dict[str, Any]] = []
        url: str | None = str(self.root / self.account.business_account_id / "message_templates" %
                              {"fields": TEMPLATE_FIELDS, "limit": "100"})
        for _ in range(TEMPLATE_PAGES):
            page = await self._call("GET", url, absolute=True)
            data = page.get("data") if isinstance(page, dict) else None
            if not isinstance(data, list):
                raise GraphError("bad_response", 0, "Graph's template list has no data")
            found.extend(t for t in data if isinstance(t, dict))
            url = (page.get("paging") or {}).get("next")
            if not url:
                return found
            if URL(url).origin() != self._origin:
                raise GraphError("bad_response", 0, "Graph's next template page is on another host")
        raise GraphError("bad_response", 0, f"more than {TEMPLATE_PAGES} pages of templates")

    async def number(self) -> dict[str, Any]:
        """The number as Meta sees it: display number, verified name, quality rating, messaging limit."""
        answer = await self._call("GET", self.account.phone_number_id, params={"fields": NUMBER_FIELDS})
        if not isinstance(answer, dict):
            raise GraphError("bad_response", 0, "Graph's answer about the number is not an object")
        return answer

    # ------------------------------------------------------------- plumbing

    async def _call(self, method: str, path: str, *, json_body: Any = None, data: Any = None,
                    params: dict[str, str] | None = None, absolute: bool = False,
                    timeout: float | None = None) -> Any:
        await self.open()
        url = URL(path, encoded=True) if absolute else self.root / path
        if params:
            url = url.update_query(params)
        what = f"{method} {url.path}"
        started = time.monotonic()
        kwargs: dict[str, Any] = {"headers": self._auth, "allow_redirects": False}
        if json_body is not None:
            kwargs["json"] = json_body
        if data is not None:
            kwargs["data"] = data
        if timeout is not None:
            kwargs["timeout"] = aiohttp.ClientTimeout(total=timeout, connect=self.timeouts.connect)
        self.calls += 1
        try:
            async with self._session.request(method, url, **kwargs) as resp:
                if resp.status >= 300:
                    error = await self._error(resp)
                    log.info("graph %s: HTTP %s code %s (%s)", what, resp.status, error.code, error.kind)
                    raise error
                body = await self._read(resp, JSON_LIMIT)
        except GraphError:
            raise
        except BaseException as exc:
            raise self._transport_error(exc, what, started) from None
        finally:
            self.last_latency = time.monotonic() - started
        try:
            return json.loads(body)
        except ValueError:
            raise GraphError("bad_response", 0, f"Graph's answer to {what} is not JSON", resp.status) from None

    def _transport_error(self, exc: BaseException, what: str, started: float) -> BaseException:
        """A failure below HTTP: unreachable (nothing left), timeout (no answer: the request may have
        arrived), or a dropped connection (counted as a timeout: it may have arrived too)."""
        if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt | SystemExit):
            return exc
        waited = time.monotonic() - started
        if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.InvalidURL):
            reason = self._scrub(str(getattr(exc, "os_error", None) or exc))
            return GraphError("unreachable", 0, f"could not reach Graph at {self._origin}: {reason}")
        if isinstance(exc, TimeoutError | asyncio.TimeoutError):
            return GraphError("timeout", 0, f"no answer from Graph within {waited:.0f}s ({what})")
        if isinstance(exc, aiohttp.ClientError | OSError):
            name = type(exc).__name__
            return GraphError("timeout", 0, f"the connection to Graph dropped before its answer ({what}: {name})")
        return exc

    async def _read(self, resp: aiohttp.ClientResponse, limit: int) -> bytes:
        if resp.content_length is not None and resp.content_length > limit:
            raise GraphError("bad_response", 0, f"Graph's answer is over {limit} bytes", resp.status)
        data = bytearray()
        async for chunk in resp.content.iter_chunked(64 << 10):
            data += chunk
            if len(data) > limit:
                raise GraphError("bad_response", 0, f"Graph's answer is over {limit} bytes", resp.status)
        return bytes(data)

    async def _error(self, resp: aiohttp.ClientResponse) -> GraphError:
        """Graph's ``{"error": {...}}`` as a GraphError; a body that isn't one is judged by its status."""
        retry_after = _retry_after(resp.headers)
        try:
            body = json.loads(await self._read(resp, ERROR_LIMIT))
            error = body["error"]
            code = int(error.get("code") or 0)
        except (ValueError, KeyError, TypeError, AttributeError, GraphError):
            return GraphError(kind_of(0, resp.status), 0, f"Graph answered HTTP {resp.status}", resp.status,
                              retry_after=retry_after)
        details = (error.get("error_data") or {}).get("details") if isinstance(error.get("error_data"), dict) else ""
        subcode = error.get("error_subcode")
        return GraphError(kind_of(code, resp.status), code, self._scrub(str(error.get("message") or "")) or
                          f"Graph answered HTTP {resp.status}", resp.status, self._scrub(str(details or "")),
                          retry_after, subcode if isinstance(subcode, int) else None)
