"""`zingctl knowledge` against a real zingd: documents read from a file or standard input (the
title from their first heading), FAQ entries, list/show/search/update/rm, and what isn't UTF-8
text or is too big refused before anything is sent, saying why."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tests.helpers import Zingd, bootstrap
from zingctl import knowledge as cli_knowledge
from zingctl.main import app

PASSWORD = "password-123"


class Cli:
    def __init__(self, z: Zingd, token: str) -> None:
        self.args = ["--socket", str(z.socket), "--token", token]
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | bytes | None = None, code: int = 0):
        result = self.runner.invoke(app, [*self.args, *args], input=input)
        assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr, result.exception)
        return result

    def json(self, *args: str, input: str | bytes | None = None):
        return json.loads(self(*args, "--json", input=input).stdout)

    def error(self, *args: str, input: str | bytes | None = None, code: int = 2) -> str:
        """What the command said on stderr, as one line (a usage error comes in a box, wrapped)."""
        return " ".join(self(*args, input=input, code=code).stderr.replace("│", " ").split())


@pytest.fixture(scope="module")
def z(tmp_path_factory):
    d = Zingd(tmp_path_factory.mktemp("knowledge-cli")).start()
    root = bootstrap(d)
    with d.client(root) as c:
        for role in ("supervisor", "agent"):
            c.call("user.create", {"email": f"{role}@acme.test", "name": role.title(), "role": role,
                                   "password": PASSWORD})
    yield d
    d.stop()


def _cli(z: Zingd, role: str) -> Cli:
    with z.client() as c:
        return Cli(z, c.call("auth.login", {"email": f"{role}@acme.test", "password": PASSWORD})["token"])


@pytest.fixture
def sue(z) -> Cli:
    return _cli(z, "supervisor")


@pytest.fixture
def ana(z) -> Cli:
    return _cli(z, "agent")


def test_documents_and_faq_from_the_command_line(z, sue, ana, tmp_path):
    manual = tmp_path / "manual.md"
    manual.write_text("# Printer manual\n\nIntro.\n\n## Paper jams\n\nOpen the back door and pull the sheet.\n",
                      encoding="utf-8")
    out = sue("knowledge", "add", str(manual)).stdout
    assert "added document" in out and "'Printer manual'" in out and "2 chunks" in out
    notes = sue.json("knowledge", "add", "-", "--title", "Shop notes", input="Open 9 to 18.\nClosed Sundays.\n")
    assert notes["source"] == "" and notes["title"] == "Shop notes"
    plain = tmp_path / "returns policy.txt"
    plain.write_bytes("\ufeffReturns within 30 days.\r\n".encode())   # a BOM and CRLF, as Windows saves it
    assert sue.json("knowledge", "add", str(plain))["title"] == "returns policy"
    entry = sue.json("knowledge", "faq", "Do you deliver?", "-", input="Yes, in 2 days.\n")
    assert entry["kind"] == "faq" and entry["size"] == len("Yes, in 2 days.")

    listed = ana.json("knowledge", "list")
    assert [e["title"] for e in listed] == ["Printer manual", "Shop notes", "returns policy", "Do you deliver?"]
    assert "Printer manual" in ana("knowledge", "list").stdout

    found = ana.json("knowledge", "search", "paper jam in the printer")
    assert found["by"] == "words" and found["hits"][0]["context"] == "Printer manual › Paper jams"
    result = ana("knowledge", "search", "paper jams")
    assert "Paper jams" in result.stdout and "searched by words" in result.stderr

    shown = ana("knowledge", "show", str(listed[0]["id"])).stdout
    assert "Open the back door" in shown and "manual.md" in shown
    assert ana.json("knowledge", "show", str(listed[2]["id"]))["body"] == "Returns within 30 days."

    ana("knowledge", "rm", str(entry["id"]), code=1)   # agents only read
    sue("knowledge", "update", str(entry["id"]), "--body", "-", input="Yes, in 3 days.\n")
    assert ana.json("knowledge", "show", str(entry["id"]))["body"] == "Yes, in 3 days."
    sue("knowledge", "update", str(entry["id"]), code=2)   # nothing to change
    assert "deleted faq" in sue("knowledge", "rm", str(entry["id"])).stdout
    assert "no knowledge entry" in sue("knowledge", "show", str(entry["id"]), code=1).stderr


def test_binary_huge_or_empty_files_are_refused_before_sending(z, sue, tmp_path):
    png = tmp_path / "logo.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    assert "binary file" in sue.error("knowledge", "add", str(png))
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("Devolução em 30 dias".encode("latin-1"))
    assert "not UTF-8 text" in sue.error("knowledge", "add", str(latin))
    big = tmp_path / "big.md"
    big.write_bytes(b"# Big\n" + b"x" * cli_knowledge.MAX_BYTES)
    assert "larger than 800,000 bytes" in sue.error("knowledge", "add", str(big))
    piped = b"y" * (cli_knowledge.MAX_BYTES + 1)
    assert "standard input is larger than" in sue.error("knowledge", "add", "-", "--title", "T", input=piped)
    empty = tmp_path / "empty.md"
    empty.write_text("\n  \n")
    assert "is empty" in sue.error("knowledge", "add", str(empty))
    assert "needs --title" in sue.error("knowledge", "add", "-", input="no heading here")
    assert "no file" in sue.error("knowledge", "add", str(tmp_path / "missing.md"))
    long_doc = tmp_path / "long.md"
    long_doc.write_text("# Long\n\n" + "é" * 200_001, encoding="utf-8")   # fits the bytes, not the characters
    assert "at most 200,000 characters" in sue.error("knowledge", "add", str(long_doc), code=1)
    assert not {"Long", "Big", "T", "logo", "latin1", "empty"} & {e["title"] for e in sue.json("knowledge", "list")}
