"""A console on another machine, without a browser: OpenSSH forwards zingd's Unix socket.

``ssh -N -L /tmp/zing.sock:/run/user/1000/zing/zingd.sock desk-server`` makes a local socket whose
connections sshd opens on zingd's socket, as the SSH account. zingd sees sshd's peer uid, never the
uid of whoever connects to the local end: an SSH account with no zing user linked to it is nobody
until it logs in (a password, or a token), and one that is linked hands its zing user to every
process that can open the forwarded socket (docs/remote.md says which to use).

Here a real sshd (Debian's openssh-server) runs on a free port of 127.0.0.1 as the current user,
with a generated host key and one authorized key; the tests skip, saying why, where it can't.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.helpers import Zingd, bootstrap, wait_for
from tests.remote.conftest import free_port
from tests.tui.conftest import ANA, ready, until
from zingd.errors import Unauthenticated
from zingd.rpc.client import SyncClient
from zingtui.app import ZingApp
from zingtui.credentials import TokenStore

SSHD = shutil.which("sshd", path=f"{os.environ.get('PATH', '')}:/usr/sbin")  # not on a user's PATH
ZINGCTL = Path(sys.executable).with_name("zingctl")
# docs/remote.md's sshd settings for an account that forwards zingd's socket: local forwards only, no
# remote ones, no terminal. OpenSSH 9.2 (Debian 12) refuses a Unix socket's forward under
# AllowTcpForwarding no or PermitOpen none too, so those can't be part of it.
FORWARD_ONLY = ("AllowStreamLocalForwarding local", "AllowTcpForwarding local", "PermitListen none",
                "X11Forwarding no", "AllowAgentForwarding no", "PermitTTY no")


def _why_not() -> str | None:
    if SSHD is None or shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
        return "no sshd/ssh: run scripts/remote-test-setup.sh (Debian's openssh-server, openssh-client)"
    if os.getuid() == 0 and not Path("/run/sshd").is_dir():
        return "sshd as root needs its privilege separation dir /run/sshd (scripts/remote-test-setup.sh makes it)"
    return None


pytestmark = [pytest.mark.remote, pytest.mark.skipif(_why_not() is not None, reason=_why_not() or "")]


class Tunnel:
    """A private sshd and an ``ssh -N -L local.sock:zingd.sock`` through it, as the current user."""

    def __init__(self, root: Path, remote: Path, local: Path, bind_mask: str = "0177") -> None:
        self.root, self.remote, self.local = root, remote, local
        root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        for name in ("host_key", "client_key"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(root / name)], check=True)
        (root / "authorized_keys").write_text((root / "client_key.pub").read_text())
        (root / "sshd_config").write_text("\n".join([
            f"Port {self.port}", "ListenAddress 127.0.0.1", f"HostKey {root / 'host_key'}",
            f"PidFile {root / 'sshd.pid'}", f"AuthorizedKeysFile {root / 'authorized_keys'}", "StrictModes no",
            "UsePAM no", "PasswordAuthentication no", "KbdInteractiveAuthentication no", "PubkeyAuthentication yes",
            "PermitRootLogin prohibit-password", *FORWARD_ONLY, "LogLevel ERROR", ""]))
        self.sshd = subprocess.Popen([SSHD, "-D", "-e", "-f", str(root / "sshd_config")],
                                     stdout=subprocess.DEVNULL, stderr=open(root / "sshd.log", "wb"))
        wait_for(lambda: self._listening(), timeout=30)
        self.ssh = subprocess.Popen(
            ["ssh", "-N", "-F", "/dev/null", "-i", str(root / "client_key"), "-o", "IdentitiesOnly=yes",
             "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
             "-o", f"UserKnownHostsFile={root / 'known_hosts'}", "-o", "ExitOnForwardFailure=yes",
             "-o", "StreamLocalBindUnlink=yes", "-o", f"StreamLocalBindMask={bind_mask}",
             "-p", str(self.port), "-L", f"{local}:{remote}", f"{_user()}@127.0.0.1"],
            stdout=subprocess.DEVNULL, stderr=open(root / "ssh.log", "wb"))
        wait_for(self._forwarding, timeout=30)

    def _listening(self) -> bool:
        if self.sshd.poll() is not None:
            raise RuntimeError(f"sshd exited {self.sshd.returncode}: {(self.root / 'sshd.log').read_text()}")
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    def _forwarding(self) -> bool:
        if self.ssh.poll() is not None:
            raise RuntimeError(f"ssh exited {self.ssh.returncode}: {(self.root / 'ssh.log').read_text()}")
        return self.local.exists()

    def close(self) -> None:
        for proc in (self.ssh, self.sshd):
            if proc.poll() is None:
                proc.kill()  # ours, and nothing of theirs to keep
                proc.wait()


def _user() -> str:
    return pwd.getpwuid(os.getuid()).pw_name


@pytest.fixture
def short_dir():
    """A folder for the forwarded socket: a Unix socket's path must stay under 108 bytes."""
    path = Path(tempfile.mkdtemp(prefix="zing-ssh-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def zingctl(socket_path: Path, *args: str, input: str | None = None, env: dict | None = None):
    return subprocess.run([str(ZINGCTL), "--socket", str(socket_path), *args], input=input, capture_output=True,
                          text=True, timeout=60, env={**os.environ, **(env or {})})


async def test_zingctl_and_zingtui_log_in_through_a_forwarded_socket(zingd: Zingd, tmp_path, short_dir):
    token = bootstrap(zingd)  # root@example.com, linked to no OS user: the SSH account is nobody to zingd
    tunnel = Tunnel(tmp_path / "ssh", zingd.socket, short_dir / "zing.sock")
    try:
        with SyncClient(tunnel.local) as c:
            assert c.call("rpc.hello")["authenticated"] is False
            with pytest.raises(Unauthenticated):
                c.call("auth.whoami")

        anonymous = zingctl(tunnel.local, "status", "--json")
        assert anonymous.returncode == 0 and json.loads(anonymous.stdout)["authenticated"] is False
        logged = zingctl(tunnel.local, "login", "--email", "root@example.com", "--password-stdin", input="rootpass1\n")
        assert logged.returncode == 0, logged.stderr
        status = zingctl(tunnel.local, "status", "--json")
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["authenticated"] is True and "root@example.com" in status.stdout
        by_token = zingctl(tunnel.local, "status", "--json", env={"ZING_TOKEN": token})
        assert by_token.returncode == 0 and "root@example.com" in by_token.stdout

        with SyncClient(tunnel.local, token=token) as admin:  # an agent to log the console in as
            admin.call("user.create", {"email": ANA[0], "name": "Ana Agent", "password": ANA[1], "role": "agent"})
        tokens = TokenStore(tmp_path / "credentials.json", use_keyring=False)
        app = ZingApp(tunnel.local, *ANA, alerts=False, tokens=tokens, drafts_file=tmp_path / "drafts.json")
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: ready(app), what="the queue screen over the tunnel")
            assert app.session.user["email"] == ANA[0]
            app.exit()
    finally:
        tunnel.close()


@pytest.mark.skipif(os.getuid() != 0, reason="needs root, to connect to the forwarded socket as another OS user")
def test_zingd_sees_the_ssh_account_not_whoever_opens_the_forwarded_socket(demo: Zingd, tmp_path, short_dir):
    """Demo Co's admin is linked to the OS user running zingd, here also the SSH account: a process of
    another OS user (nobody) on the forwarded socket is that admin. So forward with an account no zing
    user is linked to, and keep the local socket 0600 (OpenSSH's default StreamLocalBindMask)."""
    short_dir.chmod(0o711)
    tunnel = Tunnel(tmp_path / "ssh", demo.socket, short_dir / "zing.sock", bind_mask="0111")
    try:
        seen = whoami_as(65534, tunnel.local)
        assert seen["result"]["email"] == "admin@demo.zing", seen
        with SyncClient(tunnel.local) as c:  # and the served console's hello forgets it, as on zingd's own socket
            assert c.call("rpc.hello", {"os_user": False})["authenticated"] is False
    finally:
        tunnel.close()


def whoami_as(uid: int, path: Path) -> dict:
    """``auth.whoami`` on ``path`` from a forked child that became ``uid`` (it can't run this venv's Python)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: become uid, ask, hand the raw answer back, and leave without cleanup
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(str(path))
                s.sendall(b'{"jsonrpc": "2.0", "method": "auth.whoami", "id": 1}\n')
                answer = s.makefile("rb").readline()
            os.write(write, answer)
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        answer = pipe.read()
    os.waitpid(pid, 0)
    return json.loads(answer)
