"""The library edge: one real client per session file, JID parsing, neonize imported lazily."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.channels.whatsapp.proxies import Proxy
from zingd.channels.whatsapp.lib import new_client, parse_jid, reachable


def test_one_real_client_per_session_file(tmp_path):
    first = new_client(tmp_path / "a.db")
    assert new_client(tmp_path / "a.db") is first and new_client(tmp_path / "b.db") is not first
    assert first.uuid == str((tmp_path / "a.db").resolve()).encode()


def test_jid_parsing():
    assert parse_jid("5511999990001@c.us") == ("5511999990001", "s.whatsapp.net")
    assert parse_jid("120363000000000001-1600000000@g.us")[1] == "g.us"
    for bad in ("5511999990001", "abc@s.whatsapp.net", "1@example.com", ""):
        with pytest.raises(ValueError):
            parse_jid(bad)


def test_neonize_is_imported_lazily_and_leaves_logging_alone():
    script = (
        "import logging, sys\n"
        "import zingd.channels.whatsapp.channel\n"
        "assert 'neonize' not in sys.modules\n"
        "handler = logging.StreamHandler(sys.stderr)\n"
        "logging.getLogger().addHandler(handler); logging.getLogger().setLevel(logging.ERROR)\n"
        "from zingd.channels.whatsapp.lib import load; load()\n"
        "assert logging.getLogger().handlers == [handler], logging.getLogger().handlers\n"
        "assert logging.getLogger().level == logging.ERROR\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize("kind", ["http", "socks5"])
def test_the_dial_before_a_session_call_needs_tls_from_whatsapp_through_the_proxy(kind):
    """Only a proxy that connects and a peer that speaks TLS let a session call (and its fd) go to Go."""
    answering = Proxy("tls", kind=kind)
    try:
        assert reachable(answering.url) is None
        assert answering.connects == ["web.whatsapp.com:443"]
    finally:
        answering.close()
    for behaviour, why in (("close", ""), ("refuse", "refused" if kind == "http" else "could not reach")):
        proxy = Proxy(behaviour, kind=kind)
        try:
            reason = reachable(proxy.url) or ""
            assert why in reason and proxy.url in reason
        finally:
            proxy.close()
    hole = Proxy("hang", kind=kind)
    try:
        assert "timed out" in (reachable(hole.url, timeout=0.3) or "")
    finally:
        hole.close()
    # a port nothing listens on, kept bound meanwhile: a closed proxy's port could be taken by another
    # test's server before the dial (xdist workers share the machine's ports)
    with socket.socket() as nobody:
        nobody.bind(("127.0.0.1", 0))
        scheme = "socks5" if kind == "socks5" else "http"
        assert "cannot reach" in (reachable(f"{scheme}://127.0.0.1:{nobody.getsockname()[1]}") or "")


def test_the_dial_needs_tls_not_just_a_tcp_answer():
    plain = socket.socket()
    plain.bind(("127.0.0.1", 0))
    plain.listen(4)
    threading.Thread(target=lambda: plain.accept()[0].sendall(b"SSH-2.0-OpenSSH\r\n"), daemon=True).start()
    try:
        assert "cannot reach 127.0.0.1" in (reachable("", timeout=2, target=plain.getsockname()) or "")
    finally:
        plain.close()


def test_a_proxy_password_is_not_repeated_in_the_reason():
    proxy = Proxy("refuse")
    try:
        url = proxy.url.replace("http://", "http://zing:s3cret@")
        assert "s3cret" not in reachable(url) and ":***@" in reachable(url)
    finally:
        proxy.close()
