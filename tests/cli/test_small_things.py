"""zingctl's small gaps that cost trust (issue 13), each against a real daemon: a merge shows what
would move and asks first; the contact wallet has a command; contacts list by tag; `events` lives
through a daemon restart; `campaigns watch` prints progress to a pipe; `users create` says how it
reads the password; a sim customer sends a voice note that shows as one in the ticket."""

from __future__ import annotations

import json
import os
import pty
import queue
import re
import subprocess
import threading

from tests.cli.conftest import ZINGCTL, Cli
from tests.cli.test_process import Tail
from tests.helpers import Zingd, wait_for


def usage(result) -> str:
    """A usage error's words, out of the box Typer draws around them (wrapped at its width)."""
    return " ".join(re.sub("[│╭╮╰╯─]", " ", result.stderr).split())


def contact_of(cli: Cli, number: str) -> dict:
    [c] = [c for c in cli.json("contacts", "list", "--search", number) if c["number"] == number]
    return c


def twins(cli: Cli, number: str) -> tuple[dict, dict]:
    """A customer who wrote from one number (two messages, a tag, fields) and their other, empty contact."""
    cli("sim", "say", "--from", number, "oi")
    cli("sim", "say", "--from", number, "sou eu de novo")
    source = contact_of(cli, number)
    cli("contacts", "tag", str(source["id"]), "vip")
    cli("contacts", "update", str(source["id"]), "-f", "city=Recife", "-f", "plan=gold")
    target = cli.json("contacts", "create", "+55 11 97777-" + number[-4:], "--name", "Same Person",
                      "-f", "plan=silver")
    return source, target


def test_merge_dry_run_shows_what_would_move_and_changes_nothing(cli):
    source, target = twins(cli, "5511900007001")
    preview = cli.json("contacts", "merge", str(source["id"]), "--into", str(target["id"]), "--dry-run")
    [ticket] = cli.json("contacts", "show", str(source["id"]))["tickets"]
    assert preview["tickets"] == [ticket["id"]] and preview["messages"] >= 2 and preview["tags"] == ["vip"]
    assert preview["fields"] == {"city": "Recife"} and preview["fields_kept"] == {"plan": "silver"}
    assert preview["ids"] == [f"{source['number']}@s.whatsapp.net"]
    shown = cli("contacts", "merge", str(source["id"]), "--into", str(target["id"]), "--dry-run").stdout
    assert f"merging contact {source['id']} into {target['id']} would move" in shown and "Recife" in shown
    assert contact_of(cli, source["number"])["id"] == source["id"]  # still there

    # no terminal to ask and no --yes: refused, nothing merged
    err = usage(cli("contacts", "merge", str(source["id"]), "--into", str(target["id"]), code=2))
    assert "can't be undone and there is no one to ask: add --yes to merge, or --dry-run" in err
    assert contact_of(cli, source["number"])["id"] == source["id"]
    merged = cli.json("contacts", "merge", str(source["id"]), "--into", str(target["id"]), "--yes")
    assert merged["id"] == target["id"]
    assert "[not_found]" in cli("contacts", "show", str(source["id"]), code=1).stderr


def _on_a_terminal(socket, args: list[str], answer: str) -> subprocess.CompletedProcess:
    """zingctl with a terminal on stdin (so it asks), answering ``answer``."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([str(ZINGCTL), "--socket", str(socket), *args], stdin=slave,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        os.write(master, answer.encode())
        out, err = proc.communicate(timeout=60)
    finally:
        os.close(master)
        os.close(slave)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_merge_on_a_terminal_asks_first(cli, demo_d):
    source, target = twins(cli, "5511900007002")
    args = ["contacts", "merge", str(source["id"]), "--into", str(target["id"])]
    declined = _on_a_terminal(demo_d.socket, args, "n\n")
    assert declined.returncode == 1 and "nothing merged" in declined.stderr
    assert "would move" in declined.stdout and "Merge contact" in declined.stdout
    assert contact_of(cli, source["number"])["id"] == source["id"]
    accepted = _on_a_terminal(demo_d.socket, args, "y\n")
    assert accepted.returncode == 0, accepted.stderr
    assert f"merged contact {source['id']} into {target['id']}" in accepted.stdout
    assert cli.json("contacts", "show", str(target["id"]))["tags"] == ["vip"]


def test_the_contact_wallet_has_a_command_and_shows_in_contacts_show(cli, demo_d):
    cli("sim", "say", "--from", "5511900007003", "quero falar com a Ana")
    c = str(contact_of(cli, "5511900007003")["id"])
    ana = next(u for u in cli.json("users", "list") if u["email"] == "ana@demo.zing")
    assert "is in the wallet of user" in cli("contacts", "wallet", c, "--agent", "ana@demo.zing").stdout
    assert cli.json("contacts", "show", c)["owner"] == {"id": ana["id"], "name": ana["name"]}
    assert re.search(rf"wallet +{ana['name']} \(user {ana['id']}\)", cli("contacts", "show", c).stdout)
    assert cli.json("contacts", "wallet", c, "--clear")["owner_user_id"] is None
    assert re.search(r"wallet +none", cli("contacts", "show", c).stdout)
    assert "no user 'nobody@demo.zing'" in usage(cli("contacts", "wallet", c, "--agent", "nobody@demo.zing",
                                                     code=2))
    cli("contacts", "wallet", c, code=2)  # neither --agent nor --clear

    with demo_d.client() as anon:
        token = anon.call("auth.login", {"email": "bruno@demo.zing", "password": "demo-agent"})["token"]
    bruno = ["--token", token]
    assert "own wallet: --agent me" in usage(cli(*bruno, "contacts", "wallet", c, "--agent", "ana@demo.zing",
                                                 code=2))
    mine = cli.json(*bruno, "contacts", "wallet", c, "--agent", "me")
    assert mine["owner_user_id"] == next(u["id"] for u in cli.json("users", "list")
                                         if u["email"] == "bruno@demo.zing")


def test_contacts_list_filters_by_tag(cli):
    tagged = cli.json("contacts", "create", "+55 11 96666-0001", "--tag", "atacado")
    cli.json("contacts", "create", "+55 11 96666-0002")
    assert [x["id"] for x in cli.json("contacts", "list", "--tag", "atacado")] == [tagged["id"]]
    assert cli.json("contacts", "list", "--tag", "atacado", "--search", "96666-0002") == []
    assert "no tag 'no-such-tag'" in cli("contacts", "list", "--tag", "no-such-tag", code=1).stderr


def test_events_reconnects_after_a_daemon_restart_and_misses_nothing(tmp_path):
    z = Zingd(tmp_path / "ev", demo=True).start()
    tail = None
    try:
        with z.client() as c:
            seq = c.call("daemon.status")["event_seq"]
        tail = Tail(z.socket, "--jsonl", "--since", str(seq), "--type", "message.created")
        with z.client() as c:
            c.call("sim.say", {"from": "5511900007010", "body": "antes do restart"})
        lines = tail.read_until("antes do restart")
        z.restart()
        with z.client() as c:
            c.call("sim.say", {"from": "5511900007010", "body": "depois do restart"})
        lines += tail.read_until("depois do restart")
        events = [json.loads(line) for line in lines]
        seqs = [e["seq"] for e in events]
        assert seqs == sorted(set(seqs)) and seqs[0] > seq  # in order, none twice
        inbound = [e["data"]["message"]["body"] for e in events if e["data"]["message"]["direction"] == "in"]
        assert inbound == ["antes do restart", "depois do restart"]
        assert tail.proc.poll() is None  # still following
        tail.stop()
        err = tail.proc.stderr.read()
        assert "zingd went away after seq" in err and "reconnected; following events after seq" in err
    finally:
        if tail is not None:
            tail.stop()
        z.kill()


def test_campaigns_watch_prints_progress_lines_to_a_pipe(cli, demo_d):
    ids = ",".join(str(cli.json("contacts", "create", f"+55 11 95555-000{i}")["id"]) for i in (1, 2))
    camp = cli.json("campaigns", "create", "Pipe", "-m", "oi", "--contacts", ids)
    lines: queue.Queue[str] = queue.Queue()
    watch = subprocess.Popen([str(ZINGCTL), "--socket", str(demo_d.socket), "campaigns", "watch", str(camp["id"])],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    threading.Thread(target=lambda: [lines.put(line) for line in watch.stdout], daemon=True).start()
    try:
        first = lines.get(timeout=60)  # while it waits: nothing has ended yet
        assert f"campaign {camp['id']} [draft] 0/2 0%" in first and "ETA" in first
        cli("campaigns", "cancel", str(camp["id"]))
        assert watch.wait(60) == 0
        rest = [lines.get(timeout=60)]
        while "[cancelled]" not in rest[-1]:
            rest.append(lines.get(timeout=60))
        assert rest[-1].startswith(f"campaign {camp['id']} [cancelled]")
    finally:
        if watch.poll() is None:
            watch.kill()
            watch.wait()


def test_users_create_says_how_it_reads_the_password(cli):
    helped = " ".join(cli("users", "create", "--help").stdout.split())
    assert "asked for at the terminal (hidden, twice), or, with --password-stdin, read from the first line" in helped
    u = cli.json("users", "create", "piped@demo.zing", "--password-stdin", input="piped-pass1\n")
    assert u["email"] == "piped@demo.zing"


def test_a_sim_customer_sends_a_voice_note_that_shows_as_one(cli):
    assert "sent a voice note of 42s" in cli("sim", "say", "--from", "5511900007020", "--voice", "42").stdout
    cli("sim", "say", "--from", "5511900007020", "--audio", "185")
    tid = str(cli.json("contacts", "show", str(contact_of(cli, "5511900007020")["id"]))["tickets"][0]["id"])
    voice, audio = [m for m in cli.json("messages", "list", tid) if m["type"] == "audio"]
    assert voice["media_seconds"] == 42 and voice["media_waveform"] and voice["media_path"].endswith(".ogg")
    assert audio["media_seconds"] == 185 and not audio["media_waveform"]
    shown = cli("messages", "list", tid).stdout
    assert "voice note 0:42" in shown and "audio 3:05" in shown
    assert "choose one of --image, --voice and --audio" in usage(
        cli("sim", "say", "--from", "5511900007020", "--voice", "3", "--image", code=2))
    assert "[invalid]" in cli("sim", "say", "--from", "5511900007020", "--voice", "0", code=1).stderr

