"""Lazy, quiet access to neonize.

Importing neonize loads a Go shared library and calls ``logging.basicConfig``,
which would take over the daemon's root logger. zingd must also start (and its
other tests run) without paying for the Go runtime. So neonize is imported here,
once, on first use, and the root logger's handlers and level are put back
afterwards; whatsmeow's own log lines then reach zingd's handlers through the
``whatsmeow.*`` loggers like any other library's.

Its client comes with zing's own session call (``_session_client``): through
the process-wide gate, on the caller's daemon thread, and only once the proxy
or WhatsApp answers a dial in Python (``reachable``).
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import functools
import logging
import os
import re
import socket
import ssl
import threading
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import unquote, urlsplit

from zingd.channels.whatsapp.gate import CONNECT_HOLD, GATE

ABANDONED_DIAL = 65.0  # whatsmeow's dial gives up after 60 s

# neonize reads this logger's level to decide how chatty the Go side is.
_GO_LOG_LEVEL_LOGGER = "neonize.utils.log"

_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()

_JID_USERS = {
    "s.whatsapp.net": re.compile(r"\d{5,20}"),
    "lid": re.compile(r"\d{1,30}"),
    "g.us": re.compile(r"\d{5,30}(-\d{5,20})?"),
    "newsletter": re.compile(r"\d{5,30}"),
    "broadcast": re.compile(r"[\w.-]{1,40}"),
}


@functools.cache
def load() -> SimpleNamespace:
    """Import neonize once, leaving the root logger as the daemon set it."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    # Its import-time "ffmpeg not found" warning is not ours: without ffmpeg, voice notes go
    # out as documents (whatsapp.outbound) and nothing else needs it.
    logging.getLogger("neonize.utils.ffmpeg").setLevel(logging.ERROR)
    try:
        import neonize.client as neonize_client
        from neonize import events
        from neonize.proto import Neonize_pb2
        from neonize.proto.waCommon.WACommon_pb2 import MessageKey
        from neonize.proto.waCompanionReg.WAWebProtobufsCompanionReg_pb2 import DeviceProps
        from neonize.proto.waE2E import WAWebProtobufsE2E_pb2 as waE2E
        from neonize.utils.enum import ChatPresence, ChatPresenceMedia, MediaType, ReceiptType
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    logging.getLogger(_GO_LOG_LEVEL_LOGGER).setLevel(logging.WARNING)
    return SimpleNamespace(
        NewClient=_session_client(neonize_client), events=events, EVENT_TO_INT=events.EVENT_TO_INT,
        proto=Neonize_pb2, waE2E=waE2E, MessageKey=MessageKey, DeviceProps=DeviceProps,
        ChatPresence=ChatPresence, ChatPresenceMedia=ChatPresenceMedia,
        MediaType=MediaType, ReceiptType=ReceiptType,
    )


def _session_client(nc: Any) -> type:
    """neonize's client with zing's session call (``connect``) and stop."""

    class SessionClient(nc.NewClient):
        """``connect`` runs the session on the caller's thread, through the gate.

        neonize's own ``connect`` runs its Go session call on a non-daemon thread
        and waits for it; a session that never returns (a pairing nobody
        completed loops forever inside neonize's FetchMe, and ``Stop`` cannot
        reach it) then keeps the process from exiting. Here the caller's thread,
        a daemon thread the channel owns, makes the call; the gate is held alone
        over the call's map writes and released by the first callback from this
        session, its return, or ``CONNECT_HOLD`` (gate.py). It first dials the
        proxy (or WhatsApp) itself: see ``reachable``.
        """

        proxy = ""  # http://, https:// or socks5:// URL; "" for none
        abandoned = False  # the owner stopped waiting for the session call still dialling

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._dialled = threading.Event()  # no session call is dialling (none, or one Go answered)
            self._dialled.set()

        def abandon(self) -> None:
            """Stop this session as soon as Go reports it up, should the dial still succeed."""
            self.abandoned = True

        def connect(self, proxy_settings: Any = None) -> None:
            unreachable = reachable(self.proxy)
            if unreachable:
                raise nc.NeonizeError(unreachable)
            if proxy_settings is None and self.proxy:
                proxy_settings = nc.ProxySettings(self.proxy)
            # An abandoned dial still owns the session's map entries until it fails (60 s at most); a
            # call that got as far as a callback (a pairing disconnected, parked in FetchMe) is done with them.
            self._dialled.wait(ABANDONED_DIAL)
            self._dialled.clear()
            try:
                self.abandoned = False
                self._session(proxy_settings)
            finally:
                self._dialled.set()

        def _session(self, proxy_settings: Any) -> None:
            lock, released = threading.Lock(), False

            def release() -> None:
                nonlocal released
                with lock:  # once: the first of a callback, the return, the timer
                    if released:
                        return
                    released = True
                GATE.release()

            def ended_by(end: Callable[[], None]) -> bool:
                """The first callback of an abandoned session ends it; the next session call waits for that."""
                release()
                if not self.abandoned:
                    self._dialled.set()
                    return False
                self.abandoned = False

                def run() -> None:
                    end()
                    self._dialled.set()
                threading.Thread(target=run, name="zing-wa-abandoned", daemon=True).start()
                return True

            def on_event(uuid: int, binary: int, size: int, code: int) -> None:
                if not ended_by(self.stop):
                    self.event.execute(uuid, binary, size, code)

            def on_qr(uuid: int, address: int) -> None:
                if not ended_by(self.disconnect):  # a pairing: disconnect, never Stop (channel docstring)
                    self._NewClient__onQr(uuid, address)

            subscribed = bytearray(list(self.event.list_func))
            device = self.device_props or nc.DeviceProps(os="zing", platformType=nc.DeviceProps.CHROME)
            props = device.SerializeToString()
            proxy = ctypes.byref(proxy_settings._to_c_struct()) if proxy_settings is not None else None
            # Go calls these for the whole session: keep them referenced.
            self._connect_refs = (nc.func_string(on_qr), nc.func_string(self._NewClient__onLoginStatus),
                                  nc.func_callback_bytes(on_event), nc.func_callback_bytes2(nc.log_whatsmeow),
                                  (ctypes.c_char * len(subscribed)).from_buffer(subscribed), subscribed)
            qr_cb, login_cb, event_cb, log_cb, subscribers, _ = self._connect_refs
            GATE.acquire()
            timer = threading.Timer(CONNECT_HOLD, release)
            timer.daemon = True
            timer.start()
            try:
                error = self._NewClient__client.Neonize(
                    self.name.encode(), self.uuid, b"", 0, int(self.new_device),
                    nc.LogLevel.from_logging(nc.log.level).level, qr_cb, login_cb, event_cb, log_cb,
                    subscribers, len(subscribed), props, len(props), b"", 0, proxy)
            finally:
                timer.cancel()
                release()
            if error:
                raise nc.NeonizeError(error.decode())

        def stop(self) -> None:
            """Stop writes the maps: alone."""
            with GATE.alone():
                super().stop()

        def disconnect(self) -> None:
            with GATE.shared():
                super().disconnect()

    return SessionClient


def proxy_from_env() -> str:
    """The proxy whatsmeow would take from the environment for its ``https://`` websocket URL."""
    return os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy") or ""


WHATSAPP = ("web.whatsapp.com", 443)  # whatsmeow's websocket: wss://web.whatsapp.com/ws/chat


def reachable(proxy: str, timeout: float = 5.0, target: tuple[str, int] = WHATSAPP) -> str | None:
    """None if WhatsApp's TLS endpoint answers (through the proxy, if any), else why not.

    Every session call neonize makes opens a SQLite pool it never closes (+1 fd,
    ~+200 KB per call). So the client first does in Python what whatsmeow's dial
    would: the proxy's CONNECT (HTTP) or SOCKS5 handshake, then a TLS handshake
    with WhatsApp's host. An outage costs no session call, whether the network
    refuses, the proxy is up with WhatsApp down behind it, or something answers
    the TCP connection without speaking TLS. The handshake is not verified here
    (whatsmeow authenticates the server itself); it only proves the endpoint talks.
    """
    host, port = target
    try:
        with contextlib.closing(_dial(proxy, host, port, timeout)) as raw:
            context = ssl.create_default_context()
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
            context.wrap_socket(raw, server_hostname=host).close()
    except Unreachable as exc:
        return str(exc)
    except (OSError, ssl.SSLError) as exc:
        return f"cannot reach {host}:{port}{' through ' + _hide_password(proxy) if proxy else ''} " \
               f"({getattr(exc, 'strerror', None) or exc})"
    return None


class Unreachable(Exception):
    """A dial that got an answer, but not the one WhatsApp's would (a proxy saying no)."""


def _dial(proxy: str, host: str, port: int, timeout: float) -> socket.socket:
    """A TCP connection to ``host:port``, direct or through an HTTP or SOCKS5 proxy."""
    if not proxy:
        return socket.create_connection((host, port), timeout=timeout)
    parts = urlsplit(proxy if "//" in proxy else f"//{proxy}")
    scheme = parts.scheme or "http"
    default_port = 1080 if scheme.startswith("socks") else 8080
    sock = socket.create_connection((parts.hostname or "", parts.port or default_port), timeout=timeout)
    try:
        if scheme.startswith("socks"):
            _socks5(sock, host, port, parts.username, parts.password, proxy)
        else:
            _http_connect(sock, host, port, parts.username, parts.password, proxy)
    except BaseException:
        sock.close()
        raise
    return sock


def _http_connect(sock: socket.socket, host: str, port: int, user: str | None, password: str | None,
                  proxy: str) -> None:
    auth = ""
    if user is not None:
        token = base64.b64encode(f"{unquote(user)}:{unquote(password or '')}".encode()).decode()
        auth = f"Proxy-Authorization: Basic {token}\r\n"
    sock.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n{auth}\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            raise Unreachable(f"the proxy {_hide_password(proxy)} hung up on CONNECT {host}:{port}")
        head += chunk
        if len(head) > 16384:
            raise Unreachable(f"the proxy {_hide_password(proxy)} sent no end of headers")
    status = head.split(b"\r\n", 1)[0].decode("latin-1")
    if status.split(" ")[1:2] != ["200"]:
        raise Unreachable(f"the proxy {_hide_password(proxy)} refused CONNECT {host}:{port}: {status[:80]}")


def _socks5(sock: socket.socket, host: str, port: int, user: str | None, password: str | None,
            proxy: str) -> None:
    def read(n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                raise Unreachable(f"the SOCKS proxy {_hide_password(proxy)} hung up")
            data += chunk
        return data

    sock.sendall(b"\x05\x01\x02" if user is not None else b"\x05\x01\x00")
    version, method = read(2)
    if version != 5 or method == 0xFF:
        raise Unreachable(f"the SOCKS proxy {_hide_password(proxy)} accepts no method zing offers")
    if method == 2:
        name, secret = unquote(user or "").encode(), unquote(password or "").encode()
        sock.sendall(bytes([1, len(name)]) + name + bytes([len(secret)]) + secret)
        if read(2)[1] != 0:
            raise Unreachable(f"the SOCKS proxy {_hide_password(proxy)} refused the credentials")
    sock.sendall(b"\x05\x01\x00\x03" + bytes([len(host)]) + host.encode() + port.to_bytes(2, "big"))
    reply = read(4)
    if reply[1] != 0:
        raise Unreachable(f"the SOCKS proxy {_hide_password(proxy)} could not reach {host}:{port} (code {reply[1]})")
    address_type = reply[3]
    read(read(1)[0] if address_type == 3 else 16 if address_type == 4 else 4)  # the bound address, then port
    read(2)


def _hide_password(proxy: str) -> str:
    parts = urlsplit(proxy if "//" in proxy else f"//{proxy}")
    return proxy.replace(f":{parts.password}@", ":***@") if parts.password else proxy


def new_client(session_path: Path, proxy: str | None = None) -> Any:
    """The real client, one per session file for the life of the process.

    neonize names the Go session after the database path, so a second client for
    the same file (a restarted connection) would share its Go session anyway;
    reusing the object keeps one, and the new channel simply registers its
    handlers over the old ones. The phone lists the device
    as "zing" under Linked devices. ``proxy`` defaults to ``HTTPS_PROXY``.
    """
    key = str(Path(session_path).resolve())
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            lib = load()
            props = lib.DeviceProps(os="zing", platformType=lib.DeviceProps.CHROME)
            client = _clients[key] = lib.NewClient(key, props=props)
            client.proxy = proxy_from_env() if proxy is None else proxy
            # zing stops its sessions itself; a Stop from this finalizer at exit could race a
            # session still ending (gate.py).
            client._stop_finalizer.detach()
        return client


def parse_jid(text: str) -> tuple[str, str]:
    """Split and validate ``user@server``; ``c.us`` is the legacy phone server."""
    user, _, server = text.strip().partition("@")
    server = "s.whatsapp.net" if server == "c.us" else server
    pattern = _JID_USERS.get(server)
    if pattern is None or not pattern.fullmatch(user):
        raise ValueError(f"invalid JID {text!r}: expected user@server, e.g. 5511999990001@s.whatsapp.net")
    return user, server


def to_jid(text: str) -> Any:
    """A JID proto for neonize calls (no device: zing addresses users, not devices)."""
    user, server = parse_jid(text)
    return load().proto.JID(User=user, Server=server, RawAgent=0, Device=0, Integrator=0, IsEmpty=False)


def empty_jid() -> Any:
    """What whatsmeow takes for "no participant" (1:1 chats)."""
    return load().proto.JID(User="", Server="", RawAgent=0, Device=0, Integrator=0, IsEmpty=True)
