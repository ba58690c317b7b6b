"""A real zingd whose disk fills up: callers get ``unavailable``, nothing half-written, nobody hangs,
and once space is back the same daemon takes writes again.

The data dir is a small tmpfs (root only: skipped where it can't be mounted). The sim's journal, which
plays the network, is linked outside it: WhatsApp's servers keep their disk when ours fills.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.helpers import Zingd
from zingd.errors import ZingError

BODY = "x" * 60_000  # a few customers' long messages fill a few MB fast


@pytest.fixture
def small_disk(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m,mode=0700", "tmpfs", str(data)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip() or 'not root'})")
    outside = tmp_path / "network"
    outside.mkdir()
    (data / "sim").symlink_to(outside)
    yield data
    subprocess.run(["umount", "-l", str(data)], check=False)


def fill(folder: Path) -> Path:
    """Take every free byte of the file system, the way another process's log would."""
    filler = folder / "filler"
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * (1 << 16))
                f.flush()
        except OSError:
            pass
    return filler


def test_a_full_disk_answers_unavailable_and_the_daemon_recovers_when_space_returns(tmp_path, small_disk):
    z = Zingd(tmp_path, demo=True).start()
    try:
        with z.client() as c:
            kept = [c.call("sim.say", {"from": "5511900000901", "body": f"before {i}"})["wa_id"] for i in range(3)]
            filler = fill(small_disk)
            refused = 0
            for i in range(200):  # bounded: the WAL reuses its space until it must grow
                try:
                    kept.append(c.call("sim.say", {"from": f"55119000010{i % 50:02d}", "body": BODY})["wa_id"])
                except ZingError as e:
                    assert e.kind == "unavailable", e
                    refused += 1
                    if refused == 5:
                        break
            assert refused == 5, "the disk never filled"
            status = c.call("daemon.status")
            assert status["writer"] == {"alive": True, "error": None}
            assert status["writes"]["failed_commits"] >= 1

            filler.unlink()
            kept.append(c.call("sim.say", {"from": "5511900000901", "body": "after"})["wa_id"])
            assert c.call("rpc.hello")
        z.stop()
        with sqlite3.connect(f"file:{small_disk / 'zing.db'}?mode=ro", uri=True) as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            stored = {r[0] for r in db.execute("SELECT wa_id FROM messages WHERE direction = 'in'")}
        assert set(kept) <= stored  # every acknowledged message is there
    finally:
        z.kill()
        os.sync()
