"""The library edge: one real client per session file, JID parsing, neonize imported lazily."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from zingd.channels.whatsapp.lib import new_client, parse_jid


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
