"""zingctl's pieces that need no daemon: value formatting, k=v parsing, pairing display, token storage, and the
shared command pieces (state from the context, `-` for stdin, the rows writer)."""

from __future__ import annotations

import json
import stat
from typing import Annotated

import keyring
import keyring.backend
import pytest
import typer
from keyring.errors import NoKeyringError, PasswordDeleteError
from typer.testing import CliRunner

from zingctl import commands, connections, credentials, exports, inputs, output
from zingctl.session import Session
from zingd.paths import credentials_path


def test_cells_make_times_sizes_and_structures_readable():
    assert output.cell("created_at", 1_700_000_000.5) == output.when(1_700_000_000.5)
    assert "1700000000" not in output.cell("created_at", 1_700_000_000.5)
    assert output.cell("uptime_s", 3725) == "1h 2m"
    assert output.cell("database_bytes", 2048) == "2.0 KiB"
    assert output.cell("custom_fields", {"vip": True}) == '{"vip": true}'
    assert output.cell("queue_id", None) == ""
    assert output.cell("id", 7) == "7"


def test_pairs_parse_and_reject():
    assert inputs.pairs(["vip=yes", "note=a=b", "empty="], "--field") == {"vip": "yes", "note": "a=b", "empty": ""}
    with pytest.raises(typer.BadParameter):
        inputs.pairs(["novalue"], "--field")


@pytest.fixture
def table_output():
    return output.Output("table")


def _updated(data: dict) -> dict:
    return {"type": "connection.updated", "seq": 1, "data": {"id": 2, **data}}


def test_pairing_renders_each_new_qr_once_and_succeeds_on_connected(capsys, table_output):
    events = [
        _updated({"status": "pairing", "qr": "2@first"}),
        {"type": "connection.updated", "data": {"id": 9, "status": "banned"}},  # another number: ignored
        _updated({"status": "pairing", "qr": "2@first"}),
        _updated({"status": "pairing", "qr": "2@second"}),
        _updated({"status": "connected", "reason": ""}),
        _updated({"status": "logged_out"}),  # never reached
    ]
    assert connections.follow(iter(events), 2, table_output) == 0
    out = capsys.readouterr().out
    assert out.count("Scan with WhatsApp") == 2
    assert "█" in out or "▀" in out
    assert "connection 2: connected" in out


def test_pairing_code_and_final_state_exit_1(capsys, table_output):
    events = [_updated({"status": "pairing", "pair_code": "ABCD-1234"}),
              _updated({"status": "logged_out", "reason": "unlinked from the phone"})]
    assert connections.follow(iter(events), 2, table_output) == 1
    captured = capsys.readouterr()
    assert "Enter this code on the phone: ABCD-1234" in captured.out
    assert "logged_out: unlinked from the phone" in captured.err


def test_pairing_as_json_lines(capsys):
    assert connections.follow(iter([_updated({"status": "pairing", "qr": "2@x"}),
                                    _updated({"status": "connected"})]), 2, output.Output("jsonl")) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.count('"status"') for line in lines] == [1, 1] and '"qr": "2@x"' in lines[0]


def test_token_file_is_private_and_per_socket(tmp_path):
    a, b = tmp_path / "a.sock", tmp_path / "b.sock"
    assert credentials.save(a, "zs_a") == str(credentials_path())
    credentials.save(b, "zs_b")
    path = credentials_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert credentials.load(a) == ("zs_a", str(path)) and credentials.load(b)[0] == "zs_b"
    assert credentials.delete(a) and credentials.load(a) is None and not credentials.delete(a)
    credentials.delete(b)
    assert not path.exists()
    assert list(path.parent.iterdir()) == []  # no temp files left behind


class MemoryKeyring(keyring.backend.KeyringBackend):
    priority = 1

    def __init__(self, broken: bool = False) -> None:
        super().__init__()
        self.broken = broken
        self.items: dict[tuple[str, str], str] = {}

    def set_password(self, service, username, password):
        if self.broken:
            raise NoKeyringError("no backend")
        self.items[service, username] = password

    def get_password(self, service, username):
        return self.items.get((service, username))

    def delete_password(self, service, username):
        if self.items.pop((service, username), None) is None:
            raise PasswordDeleteError("not there")


@pytest.fixture
def use_keyring():
    before = keyring.get_keyring()

    def use(backend):
        keyring.set_keyring(backend)
        return backend
    yield use
    keyring.set_keyring(before)


def test_a_real_keyring_is_preferred_over_the_file(tmp_path, use_keyring):
    ring = use_keyring(MemoryKeyring())
    where = credentials.save(tmp_path / "s.sock", "zs_k")
    assert where.startswith("keyring (") and "MemoryKeyring" in where
    assert ring.items == {("zing", str(tmp_path / "s.sock")): "zs_k"}
    assert not credentials_path().exists()
    assert credentials.load(tmp_path / "s.sock") == ("zs_k", where)
    assert credentials.delete(tmp_path / "s.sock") and ring.items == {}


def test_a_keyring_that_raises_falls_back_to_the_file(tmp_path, use_keyring):
    use_keyring(MemoryKeyring(broken=True))
    assert credentials.save(tmp_path / "s.sock", "zs_f") == str(credentials_path())
    assert credentials.load(tmp_path / "s.sock") == ("zs_f", str(credentials_path()))


# -- the shared command pieces, on a small group of their own (no daemon needed) -------------
probe = commands.Typer(name="probe")


@probe.command("read")
def _read(
    session: Session, out: output.Output,
    text: Annotated[str, typer.Argument(parser=inputs.text_or_stdin)] = "",
    source: Annotated[inputs.Source | None, typer.Option("--source", parser=inputs.FileOrStdin())] = None,
    variant: Annotated[str | None, typer.Option("--variant", parser=inputs.FileOrStdin(inputs.Source.text))]
    = None,
    menu: Annotated[list | None, typer.Option("--menu", parser=inputs.FileOrStdin(inputs.json_document(list)))]
    = None,
) -> None:
    out.done({"text": text, "source": {"name": source.name, "data": source.data} if source else None, "variant": variant, "menu": menu,
              "socket": str(session.socket), "format": out.format}, f"read {text!r}")


def probe_run(tmp_path, *args: str, input: str | None = None):
    root = typer.Typer()

    @root.callback()
    def _root(ctx: typer.Context) -> None:
        ctx.obj = commands.Invocation(Session(tmp_path / "zingd.sock"))

    root.add_typer(probe)
    return CliRunner().invoke(root, ["probe", "read", *args], input=input)


def test_commands_take_session_and_output_from_the_context(tmp_path):
    result = probe_run(tmp_path, "plain", "--jsonl")
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)
    assert (got["text"], got["socket"], got["format"]) == ("plain", str(tmp_path / "zingd.sock"), "jsonl")
    assert probe_run(tmp_path, "plain").stdout == "read 'plain'\n"
    assert probe_run(tmp_path, "--json", "--jsonl").exit_code == 2


def test_dash_reads_stdin_once_as_text_or_as_a_file(tmp_path):
    piped = json.loads(probe_run(tmp_path, "-", "--json", input="two\nlines\n").stdout)
    assert piped["text"] == "two\nlines"  # the newline echo adds is dropped
    data = json.loads(probe_run(tmp_path, "--source", "-", "--json", input="number\n551100\n").stdout)
    assert data["source"] == {"name": "-", "data": "number\n551100\n"}  # data for the daemon goes as it is
    (tmp_path / "people.csv").write_text("number\n")
    (tmp_path / "variant.txt").write_text("Oi\n\n")
    named = json.loads(probe_run(tmp_path, "--source", str(tmp_path / "people.csv"), "--variant",
                                 str(tmp_path / "variant.txt"), "--json").stdout)
    assert named["source"] == {"name": str(tmp_path / "people.csv"), "data": ""} and named["variant"] == "Oi\n"
    assert json.loads(probe_run(tmp_path, "--menu", "-", "--json", input="[1]").stdout)["menu"] == [1]

    twice = probe_run(tmp_path, "-", "--source", "-", input="once\n")
    assert twice.exit_code == 2 and "only one value per command can be `-`" in twice.output
    assert "no file" in probe_run(tmp_path, "--source", str(tmp_path / "missing.csv")).output
    assert "expected a JSON array" in probe_run(tmp_path, "--menu", "-", input="{}").output
    assert "not JSON" in probe_run(tmp_path, "--menu", "-", input="[1,").output


def test_exports_write_csv_columns_and_json_whole(tmp_path, capsys):
    rows = [{"id": 1, "name": "Ana", "extra": "left out"}, {"id": 2, "name": None}]
    assert exports.export(rows, "csv", ["name", "id"], None) is None
    assert capsys.readouterr().out == "name,id\r\nAna,1\r\n,2\r\n"
    exports.export(rows, "jsonl", [], None)
    assert [json.loads(line)["id"] for line in capsys.readouterr().out.splitlines()] == [1, 2]
    written = exports.export(rows, "json", [], tmp_path / "out.json")
    assert written == tmp_path / "out.json" and json.loads(written.read_text()) == rows
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]  # no temp file left behind
