"""No file the caller can't read, through a real zingd: the daemon never opens a path a caller names.

Every method that once took a path (message.send / send_to media, contact.import, campaign CSV and
media, daemon.backup's target) is tried with /etc/passwd, a symlink, a hard link to the database,
``~``, ``..`` and a symlink flipping in a loop: every call fails and nothing is queued, sent,
imported or written (checked in the database, the sim network's journal and on disk). Files go
as uploads instead: an upload's name is a label, never opened; it is its uploader's alone
(a colleague and another tenant get not_found); past the media limit it is refused and nothing is
kept. Backups go only into the daemon's own directory under a plain name, 0600 in 0700. Uploads
work over HTTP with an API token only; zingctl reads files itself and uploads them.
"""

from __future__ import annotations

import base64
import io
import json
import os
import socket
import stat
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from tests.helpers import Zingd, wait_for
from tests.integration.support import db_rows, journal_path, read_journal
from tests.integration.test_http import free_port, http
from zingctl.main import app as zingctl
from zingd.errors import ZingError
from zingd.rpc.client import SyncClient
from zingd.services.uploads import MAX_MEDIA

PASSWORD = "password-123"
CUSTOMER = "5511911110001"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    """Tenant A (root, superadmin linked to this OS user; agents Ana and Bruno) with a customer's ticket
    that is Ana's, and tenant B with its admin Bia; HTTP on."""
    root = tmp_path_factory.mktemp("files")
    port = free_port()
    z = Zingd(root, env={"ZING_HTTP__ENABLED": "true", "ZING_HTTP__PORT": str(port)}).start()
    ns = SimpleNamespace(z=z, root=root, base=f"http://127.0.0.1:{port}", clients=[])
    try:
        with SyncClient(z.socket) as c:
            c.call("auth.bootstrap", {"email": "root@acme.test", "password": PASSWORD, "tenant": "Acme",
                                      "link_os_user": True})
        ns.admin = z.client()  # this OS user: the superadmin, by peer credentials
        tenant_b = ns.admin.call("tenant.create", {"name": "Bravo"})["id"]
        for email, role, tenant in (("ana@acme.test", "agent", None), ("bruno@acme.test", "agent", None),
                                    ("bia@bravo.test", "admin", tenant_b)):
            params = {"email": email, "password": PASSWORD, "role": role, "name": email.split("@")[0]}
            ns.admin.call("user.create", {**params, **({"tenant_id": tenant} if tenant else {})})
        ns.connection = ns.admin.call("connection.create", {"name": "Main", "kind": "sim"})["id"]
        ns.ana, ns.bruno, ns.bia = (_login(z, ns, e) for e in ("ana@acme.test", "bruno@acme.test", "bia@bravo.test"))
        ns.admin.call("sim.say", {"from": CUSTOMER, "body": "oi"})
        ns.ticket = wait_for(lambda: ns.admin.call("ticket.list", {})["tickets"])[0]["id"]
        ns.admin.call("ticket.transfer", {"id": ns.ticket, "user_id": ns.ana.user["id"]})
        yield ns
    finally:
        for c in ns.clients:
            c.close()
        if hasattr(ns, "admin"):
            ns.admin.close()
        z.kill()


def _login(z: Zingd, ns: SimpleNamespace, email: str) -> SyncClient:
    with SyncClient(z.socket) as c:
        token = c.call("auth.login", {"email": email, "password": PASSWORD})["token"]
    client = z.client(token)
    ns.clients.append(client)
    return client


def refused(client: SyncClient, method: str, params: dict) -> ZingError | None:
    """The error a call got, or None when it SUCCEEDED."""
    try:
        client.call(method, params)
    except ZingError as e:
        return e
    return None


def outbound_media(w) -> list[dict]:
    return db_rows(w.z, "SELECT id, media_path, media_size FROM messages WHERE direction = 'out' "
                        "AND media_path IS NOT NULL ORDER BY id")


def upload(client: SyncClient, data: bytes, name: str = "file.bin") -> dict:
    return client.upload(io.BytesIO(data), name)


# -- paths ------------------------------------------------------------------------------

def test_no_method_opens_a_path_a_caller_names(w, tmp_path):
    (tmp_path / "harmless.txt").write_text("harmless")
    (tmp_path / "to-passwd").symlink_to("/etc/passwd")
    os.link(w.z.data_dir / "zing.db", tmp_path / "db-link")   # outside the data dir, the whole database inside
    paths = {"/etc/passwd": "/etc/passwd", "a symlink": str(tmp_path / "to-passwd"),
             "a hard link to the database": str(tmp_path / "db-link"), "~": "~/.bashrc",
             "..": "../../../../../../etc/passwd", "a relative path": "./zing.db"}
    before = {"contacts": db_rows(w.z, "SELECT count(*) AS n FROM contacts")[0]["n"],
              "outs": sum(read_journal(journal_path(w.z, w.connection)).outs.values())}
    contact = db_rows(w.z, "SELECT id FROM contacts WHERE number = ?", (CUSTOMER,))[0]["id"]
    successes, kinds = [], set()
    for what, path in paths.items():
        target = str(tmp_path / f"backup-{len(kinds)}.db")
        for client, method, params in (
            (w.ana, "message.send", {"ticket_id": w.ticket, "body": "x", "media_path": path}),
            (w.ana, "message.send", {"ticket_id": w.ticket, "upload_id": path}),
            (w.ana, "message.send_to", {"number": "+5511911110002", "media_path": path}),
            (w.ana, "media.upload", {"path": path, "done": True}),
            (w.admin, "campaign.create", {"name": "c", "variants": ["x"], "contact_ids": [contact], "media_path": path}),
            (w.admin, "campaign.create", {"name": "c", "variants": ["x"], "csv": {"path": path}, "dry_run": True}),
            (w.admin, "contact.import", {"path": path, "dry_run": True}),
            (w.admin, "contact.import", {"format": "vcard", "path": path}),
            (w.admin, "daemon.backup", {"path": path}),
            (w.admin, "daemon.backup", {"path": target}),
            (w.admin, "daemon.backup", {"name": path}),
        ):
            error = refused(client, method, params)
            if error is None:
                successes.append(f"{method} with {what}: {params}")
            else:
                kinds.add(error.kind)
            assert not Path(target).exists(), f"daemon.backup wrote to {target}"
    assert not successes, "\n".join(successes)
    assert kinds <= {"invalid_params", "invalid"}, kinds
    _nothing_happened(w, before)


def test_a_symlink_flipping_under_the_calls_gets_nothing(w, tmp_path):
    """The check-then-use race: a symlink flips between a harmless file and the database while calls name it."""
    (tmp_path / "harmless.txt").write_text("harmless")
    flip = tmp_path / "flip"
    flip.symlink_to(tmp_path / "harmless.txt")
    before = {"contacts": db_rows(w.z, "SELECT count(*) AS n FROM contacts")[0]["n"],
              "outs": sum(read_journal(journal_path(w.z, w.connection)).outs.values())}
    stop = threading.Event()

    def flipper() -> None:
        targets = [w.z.data_dir / "zing.db", tmp_path / "harmless.txt"]
        i = 0
        while not stop.is_set():
            tmp = tmp_path / "flip.new"
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(targets[i % 2])
            os.replace(tmp, flip)
            i += 1
    thread = threading.Thread(target=flipper, daemon=True)
    thread.start()
    successes = 0
    try:
        for _ in range(100):
            for client, method, params in (
                (w.ana, "message.send", {"ticket_id": w.ticket, "media_path": str(flip)}),
                (w.admin, "contact.import", {"path": str(flip)}),
            ):
                successes += refused(client, method, params) is None
    finally:
        stop.set()
        thread.join()
    assert successes == 0
    _nothing_happened(w, before)


def _nothing_happened(w, before: dict) -> None:
    assert outbound_media(w) == [], "a file went out"
    assert db_rows(w.z, "SELECT count(*) AS n FROM outbox")[0]["n"] == 0
    assert db_rows(w.z, "SELECT count(*) AS n FROM campaigns")[0]["n"] == 0
    assert db_rows(w.z, "SELECT count(*) AS n FROM contacts")[0]["n"] == before["contacts"]
    assert sum(read_journal(journal_path(w.z, w.connection)).outs.values()) == before["outs"]
    backups = w.z.data_dir / "backups"
    assert not backups.exists() or not list(backups.iterdir())


# -- uploads ----------------------------------------------------------------------------

def test_an_uploads_name_is_a_label_never_opened(w):
    outs = sum(read_journal(journal_path(w.z, w.connection)).outs.values())
    for name in ("/etc/passwd", "../../zing.db", "~/.bashrc"):
        up = upload(w.ana, b"harmless bytes", name)
        assert up["done"] and up["size"] == len(b"harmless bytes") and "/" not in up["name"]
        sent = w.ana.call("message.send", {"ticket_id": w.ticket, "body": "segue", "upload_id": up["upload_id"]})
        media = Path(sent["media_path"])
        # checked right after the call: the file is the tenant's, private, and holds what was sent
        assert media.parent == w.z.data_dir / "media" / str(w.ana.user["tenant_id"])
        assert media.read_bytes() == b"harmless bytes" and mode(media) == 0o600 and mode(media.parent) == 0o700
        assert media.name.endswith(up["name"].lstrip("."))
        assert not (w.z.data_dir / "uploads" / str(w.ana.user["tenant_id"]) / str(up["upload_id"])).exists()
        err = refused(w.ana, "message.send", {"ticket_id": w.ticket, "upload_id": up["upload_id"]})
        assert err is not None and err.kind == "not_found", "an upload is used once"
    wait_for(lambda: sum(read_journal(journal_path(w.z, w.connection)).outs.values()) == outs + 3)
    assert db_rows(w.z, "SELECT count(*) AS n FROM uploads")[0]["n"] == 0


def test_an_upload_is_its_uploaders_alone(w):
    done = upload(w.ana, b"ana's file", "ana.txt")
    part = w.ana.call("media.upload", {"name": "half.txt", "data": b64(b"half")})
    assert not part["done"] and part["mime"] is None
    outs = len(outbound_media(w))
    problems = []
    for who, client, calls in (
        ("a colleague", w.bruno, [
            ("message.send_to", {"number": "+5511911110003", "upload_id": done["upload_id"]}),
            ("media.upload", {"upload_id": part["upload_id"], "data": b64(b"more")}),
            ("media.upload", {"upload_id": part["upload_id"], "done": True}),
            ("media.discard", {"upload_id": done["upload_id"]}),
            ("media.discard", {"upload_id": part["upload_id"]})]),
        ("the tenant's superadmin", w.admin, [
            ("message.send_to", {"number": "+5511911110003", "upload_id": done["upload_id"]}),
            ("contact.import", {"upload_id": done["upload_id"]}),
            ("campaign.create", {"name": "x", "variants": ["x"], "csv": {"upload_id": done["upload_id"]}}),
            ("media.discard", {"upload_id": done["upload_id"]})]),
        ("another tenant's admin", w.bia, [
            ("message.send_to", {"number": "+5511911110003", "upload_id": done["upload_id"]}),
            ("contact.import", {"upload_id": done["upload_id"], "dry_run": True}),
            ("campaign.create", {"name": "x", "variants": ["x"], "filter": {}, "upload_id": done["upload_id"],
                                 "dry_run": True}),
            ("media.upload", {"upload_id": part["upload_id"], "data": b64(b"more")}),
            ("media.discard", {"upload_id": done["upload_id"]})]),
    ):
        for method, params in calls:
            err = refused(client, method, params)
            if err is None or err.kind != "not_found":
                problems.append(f"{who}: {method} {params}: {err.kind if err else 'SUCCEEDED'}")
    assert not problems, "\n".join(problems)
    assert len(outbound_media(w)) == outs
    # still Ana's, whole
    more = w.ana.call("media.upload", {"upload_id": part["upload_id"], "offset": 4, "data": b64(b"!"), "done": True})
    assert more["size"] == 5 and more["done"]
    sent = w.ana.call("message.send", {"ticket_id": w.ticket, "upload_id": done["upload_id"]})
    assert Path(sent["media_path"]).read_bytes() == b"ana's file" and sent["type"] == "document"
    assert w.ana.call("media.discard", {"upload_id": more["upload_id"]}) == {"removed": True}
    assert db_rows(w.z, "SELECT count(*) AS n FROM uploads")[0]["n"] == 0


def test_chunks_go_in_order_and_the_limit_counts_what_arrives(w):
    first = w.ana.call("media.upload", {"name": "big.bin", "data": b64(b"a" * 10)})
    err = refused(w.ana, "media.upload", {"upload_id": first["upload_id"], "offset": 0, "data": b64(b"b")})
    assert err is not None and err.kind == "conflict" and err.details["received"] == 10
    err = refused(w.ana, "media.upload", {"upload_id": first["upload_id"], "data": "not base64!"})
    assert err is not None and err.kind == "invalid"
    w.ana.call("media.discard", {"upload_id": first["upload_id"]})
    folder = w.z.data_dir / "uploads" / str(w.ana.user["tenant_id"])
    with pytest.raises(ZingError) as empty:
        upload(w.ana, b"", "empty.txt")
    assert empty.value.kind == "invalid" and "empty" in empty.value.message
    with pytest.raises(ZingError) as refusal:
        upload(w.ana, b"\0" * (MAX_MEDIA + 1), "big.bin")
    assert refusal.value.kind == "invalid" and "discarded" in refusal.value.message
    assert refusal.value.details["limit"] == MAX_MEDIA
    assert db_rows(w.z, "SELECT count(*) AS n FROM uploads")[0]["n"] == 0
    assert list(folder.iterdir()) == [], "nothing of a refused upload is kept"
    gone = refused(w.ana, "media.upload", {"upload_id": refusal.value.details["id"], "data": b64(b"x")})
    assert gone is not None and gone.kind == "not_found"


# -- backups ----------------------------------------------------------------------------

def test_backups_go_only_into_the_daemons_directory(w, tmp_path):
    folder = w.z.data_dir / "backups"
    made = w.admin.call("daemon.backup", {})
    path = Path(made["path"])
    assert path.parent == folder and mode(path) == 0o600 and mode(folder) == 0o700   # right after the call
    named = w.admin.call("daemon.backup", {"name": "before-upgrade.db"})
    assert named["path"] == str(folder / "before-upgrade.db") and mode(Path(named["path"])) == 0o600
    outside = tmp_path / "planted-target"
    (folder / "planted.db").symlink_to(outside)   # a dangling symlink: the write must not follow it
    for name, kind in (("../x", "invalid"), ("/etc/x", "invalid"), (".hidden", "invalid"), ("a/b", "invalid"),
                       ("x..y", "invalid"), ("", "invalid"), (str(tmp_path / "x.db"), "invalid"),
                       ("before-upgrade.db", "conflict"), ("planted.db", "conflict")):
        err = refused(w.admin, "daemon.backup", {"name": name})
        assert err is not None and err.kind == kind, (name, err)
    assert not outside.exists() and not (w.z.data_dir / "x").exists() and not (tmp_path / "x.db").exists()
    assert sorted(p.name for p in folder.iterdir()) == sorted([path.name, "before-upgrade.db", "planted.db"])
    token = w.admin.call("token.create", {"name": "ops"})["token"]
    status, out = http("POST", f"{w.base}/api/v1/daemon.backup", {"path": str(tmp_path / "http.db")}, token)
    assert status == 422 and out["error"]["data"]["kind"] == "invalid_params"
    assert not (tmp_path / "http.db").exists()


# -- HTTP -------------------------------------------------------------------------------

def _post_raw(url: str, body: bytes, token: str | None) -> tuple[int, dict]:
    import urllib.error
    import urllib.request
    req = urllib.request.Request(url, data=body, method="POST")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_upload_over_http_needs_an_api_token(w):
    png = b"\x89PNG\r\n\x1a\n" + bytes(600 << 10)  # more than one chunk
    token = w.ana.call("token.create", {"name": "crm"})["token"]
    status, out = _post_raw(f"{w.base}/api/v1/media?name=photo.png", png, token)
    assert status == 200, out
    up = out["result"]
    assert up["done"] and up["size"] == len(png) and up["mime"] == "image/png" and up["name"] == "photo.png"
    sent = w.ana.call("message.send", {"ticket_id": w.ticket, "upload_id": up["upload_id"]})
    assert sent["type"] == "image" and Path(sent["media_path"]).read_bytes() == png

    uploads = db_rows(w.z, "SELECT count(*) AS n FROM uploads")[0]["n"]
    with SyncClient(w.z.socket) as c:
        session_token = c.call("auth.login", {"email": "ana@acme.test", "password": PASSWORD})["token"]
    for bad in (None, "za_wrong", session_token):
        status, out = _post_raw(f"{w.base}/api/v1/media?name=x.txt", b"hello", bad)
        assert status == 401 and out["error"]["data"]["kind"] == "unauthenticated", (bad, out)
    status, out = _post_raw(f"{w.base}/api/v1/media", b"hello", token)
    assert status == 422 and out["error"]["data"]["field"] == "name"
    assert db_rows(w.z, "SELECT count(*) AS n FROM uploads")[0]["n"] == uploads

    # a body announced past the limit is refused before it is read
    host, port = w.base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall((f"POST /api/v1/media?name=big.bin HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
                   f"Content-Length: {MAX_MEDIA + 1}\r\nConnection: close\r\n\r\n").encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = s.recv(65536)
            if not chunk:
                break
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 422"), answer[:200]
    assert db_rows(w.z, "SELECT count(*) AS n FROM uploads")[0]["n"] == uploads


# -- the clients ------------------------------------------------------------------------

def test_zingctl_reads_files_itself_and_uploads_them(w, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    for name in ("ZING_TOKEN", "ZING_SOCKET", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()

    def cli(*args: str, input: str | None = None, code: int = 0):
        result = runner.invoke(zingctl, ["--socket", str(w.z.socket), *args], input=input)
        assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr, result.exception)
        return result

    doc = tmp_path / "manual.pdf"
    doc.write_bytes(b"%PDF-1.4 " + os.urandom(1 << 20))   # two chunks and a bit
    sent = json.loads(cli("messages", "send-to", "+5511911110009", "o manual", "--file", str(doc), "--json").stdout)
    assert sent["media_mime"] == "application/pdf" and Path(sent["media_path"]).read_bytes() == doc.read_bytes()
    assert "--file" in cli("messages", "send-to", "+5511911110009", "x", "--file", str(tmp_path / "nope"),
                           code=2).output

    people = tmp_path / "people.csv"
    people.write_text("number,name\n+5511911110010,Carla\n+5511911110011,Davi\n")
    dry = json.loads(cli("contacts", "import", str(people), "--dry-run", "--json").stdout)
    assert dry["to_create"] == 2 and not dry["imported"]
    done = json.loads(cli("contacts", "import", str(people), "--json").stdout)
    assert done["imported"] and done["to_create"] == 2
    piped = json.loads(cli("contacts", "import", "-", "--json", input="number\n+5511911110012\n").stdout)
    assert piped["imported"] and piped["to_create"] == 1
    numbers = {r["number"] for r in db_rows(w.z, "SELECT number FROM contacts")}
    assert {"5511911110010", "5511911110011", "5511911110012"} <= numbers
    bad = tmp_path / "bad.csv"
    bad.write_text("number\n" + "not-a-number-" * 20 + "\n")
    err = json.loads(cli("contacts", "import", str(bad), "--json", code=1).stderr)["error"]
    [row] = err["details"]["report"]["invalid"]
    assert row["row"] == 2 and row["column"] == "number" and len(row["error"]) < 80   # the cell is cut short

    if os.getuid() != 0:  # root reads any file
        locked = tmp_path / "locked.csv"
        locked.write_text("number\n+5511911110013\n")
        locked.chmod(0)
        assert "cannot read" in cli("contacts", "import", str(locked), code=2).output

    backup = cli("backup", "from-cli.db")
    assert str(w.z.data_dir / "backups" / "from-cli.db") in backup.stdout
    # every upload zingctl made was used or dropped: nothing waits to expire
    assert db_rows(w.z, "SELECT count(*) AS n FROM uploads")[0]["n"] == 0
    assert list((w.z.data_dir / "uploads" / str(w.ana.user["tenant_id"])).iterdir()) == []
