"""Drive LazyFS (tools/lazyfs): build it, mount a directory through it, cut the power, unmount.

LazyFS keeps file data in its own cache and writes it to the backing directory only on fsync;
``lazyfs::clear-cache`` on its fault FIFO drops everything not yet synced, and so does
unmounting (its destroy hook flushes nothing). A power cut here is: freeze the victim (SIGSTOP,
so it issues no more I/O: the cut is one instant), clear the cache, SIGKILL the victim, wait for
``finished::clear-cache``, then unmount and mount again (the kernel's caches of the mount go too).
"""

from __future__ import annotations

import errno
import os
import select
import shutil
import signal
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "tools" / "lazyfs" / "build.sh"
BUILD_DIR = Path(os.environ.get("ZING_LAZYFS_DIR", REPO / ".bench" / "lazyfs"))


class Unavailable(Exception):
    """LazyFS cannot run here (no FUSE, no build, no mount): the test skips with this reason."""


def fuse_available() -> str | None:
    """None when FUSE is usable, else why not."""
    if not os.path.exists("/dev/fuse"):
        return "/dev/fuse does not exist (no FUSE in this machine/container)"
    if not os.access("/dev/fuse", os.R_OK | os.W_OK):
        return "/dev/fuse is not readable and writable by this user"
    return None


def build(timeout: float = 900) -> Path:
    """Build LazyFS with the vendored script (a no-op when already built); the binary's path."""
    try:
        r = subprocess.run(["bash", str(BUILD_SCRIPT), str(BUILD_DIR)], capture_output=True, text=True,
                           timeout=timeout, cwd=REPO)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise Unavailable(f"LazyFS build did not run: {e}") from None
    lines = r.stdout.strip().splitlines()
    binary = Path(lines[-1]) if lines else None
    if r.returncode != 0 or binary is None or not os.access(REPO / binary, os.X_OK):
        tail = (r.stdout + r.stderr).strip()[-1500:]
        raise Unavailable(f"LazyFS build failed (tools/lazyfs/build.sh exit {r.returncode}):\n{tail}")
    if shutil.which("fusermount3") is None:
        raise Unavailable("fusermount3 is missing after the LazyFS build (package fuse3)")
    return (REPO / binary).resolve()


def _mounted(mnt: Path) -> bool:
    with open("/proc/mounts") as f:
        return any(len(fields) > 2 and fields[1] == str(mnt) and fields[2].startswith("fuse")
                   for fields in (line.split() for line in f))


def _stopped(pid: int) -> bool:
    """Every thread of pid is stopped (T/t), or the process is gone."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return True
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, IndexError):
            continue
        if state not in ("T", "t", "Z", "X"):
            return False
    return True


class LazyFS:
    """One LazyFS file system: ``mnt`` shows ``backend`` through LazyFS's cache."""

    def __init__(self, binary: Path, root: Path, cache_size: str = "128mb") -> None:
        self.binary = binary
        self.root = root
        self.backend = root / "backend"
        self.mnt = root / "mnt"
        self.fifo = root / "faults.fifo"
        self.done_fifo = root / "faults-done.fifo"
        self.config = root / "lazyfs.toml"
        self.log = root / "lazyfs.log"
        self.proc: subprocess.Popen | None = None
        self._done_fd: int | None = None
        self.mounts = 0
        for d in (self.backend, self.mnt):
            d.mkdir(parents=True, exist_ok=True)
        self.config.write_text(
            "[faults]\n"
            f'fifo_path="{self.fifo}"\n'
            f'fifo_path_completed="{self.done_fifo}"\n'
            "[cache]\napply_eviction=false\n"
            f'[cache.simple]\ncustom_size="{cache_size}"\nblocks_per_page=1\n'
            '[filesystem]\nlog_all_operations=false\nlogfile=""\n')

    @property
    def is_mounted(self) -> bool:
        return _mounted(self.mnt)

    def log_tail(self, n: int = 1500) -> str:
        try:
            return self.log.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def mount(self, timeout: float = 20.0) -> None:
        """Start LazyFS in the foreground (our child) and wait for the mount; Unavailable if it never comes."""
        assert self.proc is None, "already mounted"
        for fifo in (self.fifo, self.done_fifo):
            if not fifo.exists():
                os.mkfifo(fifo, 0o600)
        # the config path is given relative to cwd: LazyFS ignores a --config-path containing "-o"
        # anywhere (case-insensitive), as /tmp/pytest-of-root/... does
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [str(self.binary), str(self.mnt), "--config-path", self.config.name, "-o", "allow_other",
                 "-o", "modules=subdir", "-o", f"subdir={self.backend}", "-f"],
                stdout=log, stderr=log, stdin=subprocess.DEVNULL, cwd=self.root)
        # LazyFS opens the completion FIFO for writing at start and blocks until a reader is there:
        # keep one reader open for the whole life of the mount.
        self._done_fd = os.open(self.done_fifo, os.O_RDONLY | os.O_NONBLOCK)
        deadline = time.monotonic() + timeout
        while not self.is_mounted:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                why = f"exited with {self.proc.returncode}" if self.proc.poll() is not None else \
                    f"no mount within {timeout:.0f} s"
                self.unmount()
                raise Unavailable(f"LazyFS mount at {self.mnt} did not come up ({why}):\n{self.log_tail()}")
            time.sleep(0.02)
        self.mounts += 1

    def _command(self, command: bytes, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError as e:  # ENXIO: LazyFS has not opened its end yet
                if e.errno != errno.ENXIO or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        try:
            os.write(fd, command + b"\n")
        finally:
            os.close(fd)

    def _await_reply(self, reply: bytes, timeout: float) -> None:
        assert self._done_fd is not None
        deadline = time.monotonic() + timeout
        got = b""
        while reply not in got:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"LazyFS did not answer {reply!r} within {timeout} s "
                                     f"(got {got!r}):\n{self.log_tail()}")
            readable, _, _ = select.select([self._done_fd], [], [], min(left, 0.5))
            if not readable:
                continue
            try:
                chunk = os.read(self._done_fd, 4096)
            except BlockingIOError:
                continue
            if chunk:
                got += chunk
                continue
            # EOF: LazyFS has not opened its writing end yet, or it died
            if self.proc is None or self.proc.poll() is not None:
                raise AssertionError(f"LazyFS died before answering {reply!r}:\n{self.log_tail()}")
            time.sleep(0.01)

    def power_cut(self, victim: subprocess.Popen, timeout: float = 30.0) -> None:
        """Freeze the victim, drop every unsynced byte, SIGKILL the victim, wait for LazyFS's reply.

        The caller then unmounts and mounts again (what was written after the clear and never synced
        goes with the unmount), and restarts the victim.
        """
        if victim.poll() is None:
            victim.send_signal(signal.SIGSTOP)
            deadline = time.monotonic() + 5
            while not _stopped(victim.pid) and time.monotonic() < deadline:
                time.sleep(0.001)
        self._command(b"lazyfs::clear-cache", timeout)
        if victim.poll() is None:
            victim.kill()
            victim.wait()
        self._await_reply(b"finished::clear-cache", timeout)

    def unmount(self, timeout: float = 15.0) -> None:
        """Unmount (lazily if it stays busy) and reap LazyFS; never leaves the mount behind."""
        deadline = time.monotonic() + timeout
        while self.is_mounted:
            r = subprocess.run(["fusermount3", "-u", str(self.mnt)], capture_output=True, text=True)
            if r.returncode == 0 or not self.is_mounted:
                break
            if time.monotonic() > deadline:
                subprocess.run(["fusermount3", "-u", "-z", str(self.mnt)], capture_output=True)
                break
            time.sleep(0.05)
        if self.proc is not None:
            try:
                self.proc.wait(timeout=10)  # it aborts on unmount ("terminate called ..."): ignore the code
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        if self._done_fd is not None:
            os.close(self._done_fd)
            self._done_fd = None
        if self.is_mounted:  # LazyFS gone but the kernel still lists it ("transport endpoint not connected")
            subprocess.run(["fusermount3", "-u", "-z", str(self.mnt)], capture_output=True)
        assert not self.is_mounted, f"{self.mnt} is still mounted"

    def remount(self) -> None:
        self.unmount()
        try:
            self.mount()
        except Unavailable as e:  # it mounted before: now it is a failure, not a missing tool
            raise AssertionError(str(e)) from None
