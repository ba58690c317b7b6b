"""Private at rest, through a real zingd: nothing it writes is readable by another OS user.

The data dir is 0700 and everything in it 0600 (files) or 0700 (directories) from creation,
the database's WAL and SHM included, media as they arrive; a data dir left open by an older
zingd, or by hand, is closed on start.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tests.helpers import Zingd, wait_for
from tests.integration.desk import make_desk


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def loose(root: Path) -> list[str]:
    """Everything under ``root`` (itself included) that another user could read or enter."""
    found = [] if mode(root) == 0o700 else [f"{root} {mode(root):04o}"]
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            path = Path(dirpath, name)
            if mode(path) != 0o700:
                found.append(f"{path} {mode(path):04o}")
        for name in filenames:
            path = Path(dirpath, name)
            if mode(path) != 0o600:
                found.append(f"{path} {mode(path):04o}")
    return found


def test_database_and_media_are_private_from_creation(tmp_path):
    desk = make_desk(tmp_path)
    try:
        data = desk.z.data_dir
        for name in ("zing.db", "zing.db-wal", "zing.db-shm", "zingd.lock"):
            assert mode(data / name) == 0o600, name
        assert loose(data) == []

        desk.say("5511960000001", "", type="image")
        ticket = wait_for(lambda: desk.ticket_of("5511960000001"))
        [image] = [m for m in desk.messages(ticket["id"]) if m["type"] == "image"]
        media = Path(image["media_path"])
        assert media.is_file() and media.is_relative_to(data / "media")
        assert mode(media) == 0o600 and mode(media.parent) == 0o700
        assert loose(data) == []  # media/<tenant>/<month>/, the sim journal, everything
    finally:
        desk.close()
        desk.z.kill()


def test_an_open_data_dir_is_made_private_on_start(tmp_path):
    z = Zingd(tmp_path).start()
    z.stop()
    data = z.data_dir
    data.chmod(0o755)
    (data / "zing.db").chmod(0o644)
    z.start()
    try:
        assert mode(data) == 0o700 and mode(data / "zing.db") == 0o600
        assert loose(data) == []
        log = z.log.read_text()
        assert f"made {data} private (mode 0700, was 0755)" in log
        assert f"made {data / 'zing.db'} private (mode 0600, was 0644)" in log
    finally:
        z.stop()
