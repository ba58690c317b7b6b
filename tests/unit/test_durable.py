"""Whole-file writes: fsync the data before the rename, fsync the directory after it."""

from __future__ import annotations

import os
import stat

import pytest

from zingd import durable


@pytest.fixture
def calls(monkeypatch):
    """The order of fsyncs and renames, by what each fd or path names."""
    seen: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        seen.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src, dst):
        seen.append(("replace", str(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    return seen


def test_write_atomic_syncs_data_then_renames_then_syncs_the_directory(tmp_path, calls):
    target = tmp_path / "new" / "deeper" / "file.bin"
    durable.write_atomic(target, b"payload")
    assert target.read_bytes() == b"payload"
    kinds = [(kind, os.path.basename(what)) for kind, what in calls]
    data_sync = next(i for i, (k, name) in enumerate(kinds) if k == "fsync" and name.endswith(".part"))
    rename = kinds.index(("replace", "file.bin"))
    assert data_sync < rename
    assert ("fsync", "deeper") in kinds[rename:]           # the rename is made durable
    assert ("fsync", "new") in kinds[:rename]              # so is each directory it had to create
    assert ("fsync", tmp_path.name) in kinds[:rename]


def test_write_atomic_is_private_from_the_first_byte_and_replaces_whole(tmp_path):
    target = tmp_path / "credentials.json"
    durable.write_atomic(target, "old")
    durable.write_atomic(target, "new text")
    assert target.read_text() == "new text"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["credentials.json"]


def test_a_failed_write_leaves_the_old_file_and_no_part(tmp_path, monkeypatch):
    target = tmp_path / "media.png"
    durable.write_atomic(target, b"first")

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        durable.write_atomic(target, b"second")
    assert target.read_bytes() == b"first"
    assert [p.name for p in tmp_path.iterdir()] == ["media.png"]
