"""zingctl on an empty daemon: bootstrap, tenants, users, and logging in and out with a stored token."""

from __future__ import annotations

import json
import stat

import pytest

from tests.cli.conftest import FAIL_KEYRING, Cli
from tests.helpers import Zingd
from zingd.errors import Unauthenticated
from zingd.paths import credentials_path
from zingd.rpc.client import SyncClient

ROOT, ROOT_PW = "root@example.com", "rootpass1"


@pytest.fixture(scope="module")
def root_cli(tmp_path_factory):
    """An empty daemon whose first superadmin zingctl bootstraps, linked to this OS user."""
    z = Zingd(tmp_path_factory.mktemp("empty")).start()
    cli = Cli(z.socket)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))
        mp.setenv("PYTHON_KEYRING_BACKEND", FAIL_KEYRING)
        out = cli("bootstrap", "--email", ROOT, "--name", "Root", "--tenant", "Acme", "--password-stdin",
                  input=ROOT_PW + "\n").stdout
    assert "created superadmin root@example.com in tenant 'Acme'; this OS user needs no login" in out
    yield cli
    z.kill()


def test_bootstrap_links_this_os_user_and_happens_once(root_cli):
    info = root_cli.json("status")
    assert info["user"]["email"] == ROOT and info["user"]["role"] == "superadmin" and info["user"]["via"] == "os_user"
    err = root_cli("bootstrap", "--email", "again@example.com", "--password-stdin", input="whatever1\n",
                   code=1).stderr
    assert err.startswith("error:")


def test_tenants(root_cli):
    made = root_cli.json("tenants", "create", "Beta", "--max-users", "3", "--timezone", "America/Recife")
    assert made["name"] == "Beta" and made["max_users"] == 3 and made["timezone"] == "America/Recife"
    listed = root_cli.json("tenants", "list")
    assert {"Acme", "Beta"} <= {t["name"] for t in listed}
    assert "Beta" in root_cli("tenants", "list").stdout
    assert root_cli.json("tenants", "show", str(made["id"]))["max_users"] == 3
    assert root_cli.json("tenants", "show")["name"] == "Acme"
    assert "max_connections" in root_cli("tenants", "show", str(made["id"])).stdout
    updated = root_cli.json("tenants", "update", str(made["id"]), "--name", "Beta Ltda", "--status", "suspended",
                            "--max-queues", "4")
    assert (updated["name"], updated["status"], updated["max_queues"]) == ("Beta Ltda", "suspended", 4)
    assert "[invalid]" in root_cli("tenants", "update", str(made["id"]), "--status", "gone", code=1).stderr
    assert "[not_found]" in root_cli("tenants", "show", "9999", code=1).stderr


def test_users(root_cli):
    u = root_cli.json("users", "create", "agent@example.com", "--name", "Agent A", "--role", "agent",
                      "--max-tickets", "4", "--password-stdin", input="agentpass1\n")
    uid = str(u["id"])
    assert (u["role"], u["max_tickets"]) == ("agent", 4) and "password_hash" not in u
    assert "agent@example.com" in root_cli("users", "list").stdout
    assert root_cli.json("users", "show", uid)["name"] == "Agent A"
    changed = root_cli.json("users", "update", uid, "--name", "Agent B", "--role", "supervisor")
    assert (changed["name"], changed["role"]) == ("Agent B", "supervisor")
    assert "disabled user" in root_cli("users", "disable", uid).stdout
    assert "disabled" in root_cli("login", "-e", "agent@example.com", "--password-stdin", input="agentpass1\n",
                                  code=1).stderr
    assert root_cli.json("users", "enable", uid)["enabled"]
    root_cli("users", "reset-password", uid, "--password-stdin", input="newpass123\n")
    root_cli("login", "-e", "agent@example.com", "--password-stdin", input="agentpass1\n", code=1)
    assert "supervisor" in root_cli("login", "-e", "agent@example.com", "--password-stdin",
                                    input="newpass123\n").stdout
    assert root_cli.json("users", "status", "away")["status"] == "away"  # as the stored login: Agent B
    root_cli("logout")
    assert root_cli.json("status")["user"]["email"] == ROOT  # back to peer-uid
    assert "[invalid]" in root_cli("users", "create", "short@example.com", "--password-stdin", input="short\n",
                                   code=1).stderr
    root_cli("users", "create", "nopw@example.com", "--password-stdin", input="", code=2)


def test_login_keeps_a_0600_token_file_and_logout_revokes_it(root_cli, cli_env):
    out = root_cli("login", "--email", ROOT, "--password-stdin", input=ROOT_PW + "\n").stdout
    path = credentials_path()
    assert str(cli_env) in str(path) and f"token kept in {path}" in out
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    token = json.loads(path.read_text())["tokens"][str(root_cli.socket)]

    info = root_cli.json("status")
    assert info["token_location"] == str(path) and info["user"]["via"] == "token"
    assert f"token        {path}" in root_cli("status").stdout

    assert "logged out" in root_cli("logout").stdout
    assert not path.exists()
    with pytest.raises(Unauthenticated):
        SyncClient(root_cli.socket, token=token)
    assert "not logged in" in root_cli("logout").stdout
    assert root_cli.json("status")["token_location"] == "none: peer-uid login"


def test_prompts_for_email_and_hidden_password(root_cli):
    out = root_cli("login", input=f"{ROOT}\n{ROOT_PW}\n").stdout
    assert "Email:" in out and ROOT_PW not in out and f"logged in as {ROOT}" in out
    root_cli("logout")


def test_wrong_password_and_stale_token(root_cli):
    err = root_cli("login", "-e", ROOT, "--password-stdin", input="wrong-pass\n", code=1).stderr
    assert "wrong email or password" in err and "[unauthenticated]" in err and "zingctl login" in err
    credentials_path().parent.mkdir(parents=True)
    credentials_path().write_text(json.dumps({"tokens": {str(root_cli.socket): "zs_stale"}}))
    assert "[unauthenticated]" in root_cli("tickets", "list", code=1).stderr
    info = root_cli.json("status")  # status still reports the daemon, and why we're not in
    assert info["authenticated"] is False and "revoked" in info["auth_error"] and info["server"]
    assert "not logged in" in root_cli("status").stdout
    root_cli("logout")
    assert not credentials_path().exists()


def test_token_from_the_environment(root_cli, monkeypatch):
    with SyncClient(root_cli.socket) as c:
        token = c.call("auth.login", {"email": ROOT, "password": ROOT_PW})["token"]
    monkeypatch.setenv("ZING_TOKEN", token)
    info = root_cli.json("status")
    assert info["token_location"] == "ZING_TOKEN" and info["user"]["via"] == "token"
    assert root_cli.json("--token", token, "status")["token_location"] == "--token"
