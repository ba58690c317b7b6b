"""Safe start and stop, the socket path, logs and the systemd units, through real zingd processes.

A start that cannot complete exits at once with one line and leaves nothing behind (no lock, no
socket, no thread keeping the process alive); the socket path is only ever a stale socket to
replace, never a file, never a live daemon's socket, and a shared directory is left as it is.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import Zingd, wait_for
from tests.integration.support import assert_serves

REPO = Path(__file__).resolve().parents[2]
UNITS = REPO / "deploy" / "systemd"


# Bounds for a process to run at all: a loaded, shared CI machine can take many seconds to import.
PROCESS_S = 60.0


def attempt(z: Zingd, timeout: float = PROCESS_S) -> tuple[int, list[str], float]:
    """Run zingd to its exit (a start expected to fail): status, stderr lines, and when it exited
    (wall clock, to compare with the time its log line gives)."""
    args = [sys.executable, "-m", "zingd", "--data-dir", str(z.data_dir), "--socket", str(z.socket)]
    done = subprocess.run(args, env=z.env, capture_output=True, text=True, timeout=timeout)
    return done.returncode, [line for line in done.stderr.splitlines() if line.strip()], time.time()


def logged_at(line: str) -> float:
    """The time a text log line gives (``%(asctime)s``: local time, milliseconds after the comma)."""
    stamp = re.match(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3})", line)
    assert stamp, line
    return time.mktime(time.strptime(stamp[1], "%Y-%m-%d %H:%M:%S")) + int(stamp[2]) / 1000


def lock_is_free(z: Zingd) -> bool:
    fd = os.open(z.data_dir / "zingd.lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def refused(z: Zingd, *words: str) -> str:
    """zingd refused to start: non-zero, one line naming the cause, no lock held."""
    status, lines, _ = attempt(z)
    assert status == 1, lines
    assert len(lines) == 1 and "Traceback" not in lines[0], lines
    assert "cannot " in lines[0] and all(w in lines[0] for w in words), lines
    assert lock_is_free(z)
    return lines[0]


def test_http_port_taken_exits_within_2s_with_one_line_and_leaves_nothing(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        z = Zingd(tmp_path, env={"ZING_HTTP__ENABLED": "true", "ZING_HTTP__PORT": str(port)})
        status, lines, exited = attempt(z)
        assert status == 1, (status, lines)
        # from giving up to the process gone: nothing (a thread, a part's stop) holds the exit
        assert exited - logged_at(lines[0]) < 2.0, (exited - logged_at(lines[0]), lines)
        assert len(lines) == 1 and "Traceback" not in lines[0], lines
        assert f"cannot listen for HTTP on 127.0.0.1:{port}" in lines[0]
        assert "address already in use" in lines[0]
        assert not z.socket.exists() and lock_is_free(z)
    z.start()  # the port is free again: nothing was left behind to stop this start
    try:
        assert_serves(z)
    finally:
        assert z.stop() == 0
    assert not z.socket.exists()


def test_sigterm_during_start_stops_it_cleanly(tmp_path):
    """A SIGTERM arriving while a part starts is honoured as soon as that part is done."""
    z = Zingd(tmp_path, env={"ZING_LOG_LEVEL": "INFO"})
    z.data_dir.mkdir(mode=0o700)
    # Hold the (empty) database's write lock: zingd's start waits in its migrations.
    held = sqlite3.connect(z.data_dir / "zing.db", isolation_level=None)
    held.execute("BEGIN EXCLUSIVE")
    args = [sys.executable, "-m", "zingd", "--data-dir", str(z.data_dir), "--socket", str(z.socket)]
    proc = subprocess.Popen(args, env=z.env, stderr=subprocess.PIPE, text=True)
    try:
        lock = z.data_dir / "zingd.lock"
        wait_for(lambda: lock.exists() and lock.read_text() == str(proc.pid), timeout=PROCESS_S)  # starting
        proc.send_signal(signal.SIGTERM)
        held.rollback()
        assert proc.wait(PROCESS_S) == 0, proc.stderr.read()
    finally:
        held.close()
        if proc.poll() is None:
            proc.kill()
    log = proc.stderr.read()
    assert "Traceback" not in log and "serving on" not in log and "stopped cleanly" in log, log
    assert not z.socket.exists() and lock_is_free(z)


def test_a_regular_file_at_the_socket_path_is_refused_and_left_untouched(tmp_path):
    z = Zingd(tmp_path)
    z.socket.write_text("precious")
    refused(z, str(z.socket), "is not a socket")
    assert z.socket.read_text() == "precious"


def test_a_live_daemons_socket_is_never_taken_over(tmp_path):
    first = Zingd(tmp_path / "first").start()
    try:
        ino = os.stat(first.socket).st_ino
        second = Zingd(tmp_path / "second")  # another data dir: its lock does not cover the socket
        second.socket = first.socket
        refused(second, "another zingd is serving at", str(first.socket))
        assert os.stat(first.socket).st_ino == ino
        assert_serves(first)
        third = Zingd(tmp_path / "third")  # another socket, the first one's data dir
        third.data_dir = first.data_dir
        status, lines, _ = attempt(third)
        assert status == 1 and lines == [lines[0]] and f"another zingd is using {first.data_dir}" in lines[0]
        assert not third.socket.exists()
        assert_serves(first)
    finally:
        assert first.stop() == 0
    assert not first.socket.exists()


def test_only_a_stale_socket_is_replaced(tmp_path):
    z = Zingd(tmp_path).start()
    z.kill()  # SIGKILL: the socket stays behind, nobody serving at it
    assert stat.S_ISSOCK(os.lstat(z.socket).st_mode)
    z.start()
    try:
        assert_serves(z)
    finally:
        z.stop()


def test_a_shared_socket_dir_keeps_its_mode_and_an_unsafe_one_is_refused(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # like /tmp
    z = Zingd(tmp_path / "z")
    z.socket = shared / "zingd.sock"
    z.start()
    try:
        assert stat.S_IMODE(os.stat(shared).st_mode) == 0o1777
        assert stat.S_IMODE(os.stat(z.socket).st_mode) == 0o600
    finally:
        z.stop()
    assert stat.S_IMODE(os.stat(shared).st_mode) == 0o1777 and not z.socket.exists()

    open_dir = tmp_path / "open"
    open_dir.mkdir()
    open_dir.chmod(0o777)  # anyone may rename the socket away and put theirs in its place
    z.socket = open_dir / "zingd.sock"
    refused(z, str(open_dir), "writable by every user")
    assert stat.S_IMODE(os.stat(open_dir).st_mode) == 0o777


def test_the_default_socket_dir_is_made_private(tmp_path):
    runtime = tmp_path / "runtime"
    (runtime / "zing").mkdir(parents=True, mode=0o755)
    (runtime / "zing").chmod(0o755)
    z = Zingd(tmp_path / "z", env={"XDG_RUNTIME_DIR": str(runtime)})
    z.socket = runtime / "zing" / "zingd.sock"  # zing's own runtime directory (zingd.paths.socket_dir)
    z.start()
    try:
        assert stat.S_IMODE(os.stat(runtime / "zing").st_mode) == 0o700
    finally:
        z.stop()


def test_json_logs_are_one_object_per_line(tmp_path):
    z = Zingd(tmp_path, env={"ZING_LOG_LEVEL": "INFO", "ZING_LOG_FORMAT": "json"}).start()
    with z.client() as c:
        c.call("auth.bootstrap", {"email": "root@example.com", "password": "rootpass1", "tenant": "Acme",
                                  "link_os_user": False})
    assert z.stop() == 0
    lines = z.log.read_text().splitlines()
    records = [json.loads(line) for line in lines]  # every line parses
    assert len(records) >= 3
    for record in records:
        assert {"ts", "level", "logger", "msg"} <= record.keys()
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["ts"])
    messages = [r["msg"] for r in records]
    assert any("serving on" in m for m in messages) and "stopped cleanly" in messages

    # A failed start says why in one JSON line too (--log-format beats the environment).
    z.socket.write_text("not a socket")
    args = [sys.executable, "-m", "zingd", "--data-dir", str(z.data_dir), "--socket", str(z.socket),
            "--log-format", "json", "--log-level", "WARNING"]
    done = subprocess.run(args, env={**z.env, "ZING_LOG_FORMAT": "text"}, capture_output=True, text=True,
                          timeout=PROCESS_S)
    [line] = done.stderr.splitlines()
    record = json.loads(line)
    assert done.returncode == 1 and record["level"] == "CRITICAL" and "is not a socket" in record["msg"]


def test_a_bad_log_format_is_a_bad_setting(tmp_path):
    z = Zingd(tmp_path, env={"ZING_LOG_FORMAT": "xml"})
    status, lines, _ = attempt(z)
    assert status == 2 and lines == ["zingd: log_format must be one of text, json, not 'xml'"]


# -- the systemd units ----------------------------------------------------------------------------

def unit(name: str) -> dict[str, dict[str, list[str]]]:
    """A unit file as {section: {key: [values]}} (a key may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for raw in (UNITS / name).read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key, []).append(value)
    return sections


SYSTEM_HARDENING = {
    "User": "zing", "StateDirectory": "zing", "RuntimeDirectory": "zing", "StateDirectoryMode": "0700",
    "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes", "NoNewPrivileges": "yes",
    "CapabilityBoundingSet": "", "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
    "SystemCallFilter": "@system-service", "Restart": "on-failure", "UMask": "0077",
}
USER_HARDENING = {"NoNewPrivileges": "yes", "SystemCallFilter": "@system-service",
                  "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6", "Restart": "on-failure", "UMask": "0077"}


@pytest.mark.parametrize("name, hardening", [("zingd.service", SYSTEM_HARDENING),
                                             ("zingd-user.service", USER_HARDENING)])
def test_the_units_are_hardened_and_run_flags_zingd_has(name, hardening):
    service = unit(name)["Service"]
    for key, value in hardening.items():
        assert service.get(key) == [value], f"{name}: {key}={service.get(key)}"
    assert "ReadWritePaths" not in service  # the state and runtime directories are the writable ones
    help_text = subprocess.run([sys.executable, "-m", "zingd", "--help"], capture_output=True, text=True).stdout
    [exec_start] = service["ExecStart"]
    for flag in re.findall(r"--[a-z-]+", exec_start):
        assert flag in help_text, f"{name} runs zingd {flag}, which zingd --help does not list"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
@pytest.mark.parametrize("name, scope", [("zingd.service", []), ("zingd-user.service", ["--user"])])
def test_systemd_analyze_verifies_the_units(tmp_path, name, scope):
    """With ExecStart pointed at this checkout's zingd (verify checks that the program exists)."""
    text = (UNITS / name).read_text()
    zingd = Path(sys.executable).with_name("zingd")
    text = re.sub(r"^ExecStart=\S+", f"ExecStart={zingd}", text, flags=re.M)
    copy = tmp_path / "zingd.service"
    copy.write_text(text)
    runtime = tmp_path / "runtime"  # a user manager needs one, even to verify
    runtime.mkdir(mode=0o700)
    done = subprocess.run(["systemd-analyze", *scope, "verify", str(copy)], capture_output=True, text=True,
                          env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)}, timeout=60)
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr
