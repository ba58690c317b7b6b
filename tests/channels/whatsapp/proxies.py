"""Proxies on loopback that play the network between zing and WhatsApp, offline.

``Proxy(behaviour)`` accepts connections and, per connection, does one of:

- ``"tls"``: answers CONNECT (or SOCKS5) and then speaks TLS itself, with a
  self-signed certificate for web.whatsapp.com, and hangs up after the handshake
  (something answers, as WhatsApp would, as far as zing's dial can tell);
- ``"close"``: hangs up at once (a proxy up, WhatsApp down behind it);
- ``"refuse"``: answers CONNECT with 403 (SOCKS5: "connection not allowed");
- ``"hang"``: never answers (a black hole).

``then`` is how every connection after the first behaves: ``Proxy("tls", then="hang")``
lets zing's own dial through and swallows whatsmeow's, so the session call sits
inside Go, dialling.
"""

from __future__ import annotations

import datetime
import socket
import ssl
import tempfile
import threading
from functools import cache
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@cache
def _certificate() -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "web.whatsapp.com")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    folder = Path(tempfile.mkdtemp(prefix="zing-proxy-cert-"))
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    return str(folder / "cert.pem"), str(folder / "key.pem")


class Proxy:
    def __init__(self, behaviour: str, then: str | None = None, kind: str = "http") -> None:
        self.behaviour, self.then, self.kind = behaviour, then or behaviour, kind
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(256)
        scheme = "socks5" if kind == "socks5" else "http"
        self.url = f"{scheme}://127.0.0.1:{self.server.getsockname()[1]}"
        self.accepted: list[socket.socket] = []
        self.connects: list[str] = []  # the targets asked for
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        try:
            while True:
                conn = self.server.accept()[0]
                behaviour = self.behaviour if not self.accepted else self.then
                self.accepted.append(conn)
                threading.Thread(target=self._handle, args=(conn, behaviour), daemon=True).start()
        except OSError:
            pass

    def _handle(self, conn: socket.socket, behaviour: str) -> None:
        try:
            if behaviour == "hang":
                return
            if behaviour == "close":
                conn.close()
                return
            ok = behaviour == "tls"
            self._socks5(conn, ok) if self.kind == "socks5" else self._http(conn, ok)
            if ok:
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                context.load_cert_chain(*_certificate())
                context.wrap_socket(conn, server_side=True).close()
            else:
                conn.close()
        except OSError:
            conn.close()

    def _http(self, conn: socket.socket, ok: bool) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            head += conn.recv(4096)
        self.connects.append(head.split(b" ")[1].decode())
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n" if ok else b"HTTP/1.1 403 Forbidden\r\n\r\n")

    def _socks5(self, conn: socket.socket, ok: bool) -> None:
        conn.recv(3)
        conn.sendall(b"\x05\x00")
        request = conn.recv(262)
        length = request[4]
        self.connects.append(f"{request[5:5 + length].decode()}:{int.from_bytes(request[5 + length:7 + length], 'big')}")
        conn.sendall(b"\x05" + (b"\x00" if ok else b"\x02") + b"\x00\x01" + bytes(4) + bytes(2))

    def close(self) -> None:
        self.server.close()
        for conn in self.accepted:
            conn.close()
