"""Voice notes transcribed: a customer's voice note is sent (the daemon's own file, as a multipart
upload with the tenant's transcription model) to the scripted OpenAI-compatible server, and its
transcript lands on the message with a message.updated event. No model, no request (and the notes
that came meanwhile are transcribed once an admin sets one); a failing server leaves no transcript
and nothing else stuck; a file over the limit, or one that leads outside the tenant's media dir, is
never sent; a restart picks up the recent notes still without a transcript.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from tests.assistant.openai_fake import FakeOpenAI
from tests.helpers import wait_for
from tests.integration.desk import make_desk
from tests.integration.support import Raw, assert_serves
from zingd.assistant.transcriber import MAX_BYTES

OFF = "not transcribed: the assistant is off"


@pytest.fixture
def ai():
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def desk(tmp_path):
    """DEBUG logs: a note skipped for want of a model says so only there, and the tests wait for it."""
    d = make_desk(tmp_path, env={"ZING_LOG_LEVEL": "DEBUG"})
    yield d
    d.close()
    d.z.kill()


def transcribe_with(desk, ai, model: str = "fake-whisper") -> None:
    desk.admin.call("assistant.update", {"base_url": ai.url, "transcription": {"model": model}})


def voice(desk, number: str, **extra) -> dict:
    """A customer sends a voice note; the message as zing stored it."""
    said = desk.say(number, "", type="audio", seconds=4, **extra)
    [m] = [m for m in desk.messages(desk.ticket_of(number)["id"]) if m["wa_id"] == said["wa_id"]]
    assert m["media_path"]
    return m


def soon(predicate):
    """A failing note takes its retries (2.5 s) before it is given up on, and loaded machines are slow."""
    return wait_for(predicate, timeout=30.0)


def message(desk, m: dict) -> dict:
    [now] = [x for x in desk.messages(m["ticket_id"]) if x["id"] == m["id"]]
    return now


def transcriptions(ai) -> list[dict]:
    return [r for r in list(ai.requests) if r["path"].endswith("/audio/transcriptions")]


def logged(desk, *pieces: str) -> bool:
    return any(all(p in line for p in pieces) for line in desk.z.log.read_text().splitlines())


def sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_a_voice_note_gets_its_transcript_and_every_console_hears_it(desk, ai):
    transcribe_with(desk, ai)
    ai.transcript("quero cancelar minha assinatura")
    with Raw(desk.z.socket) as console:
        console.call("events.subscribe", {"topics": ["tenant"]})
        m = voice(desk, "5511700000401")
        heard: list[dict] = []

        def transcribed() -> dict | None:
            console.read_available(quiet=0.05, limit=1.0)
            heard.extend(e["data"] for e in console.drain_events() if e["type"] == "message.updated")
            return next((d for d in heard if d["message"]["id"] == m["id"] and d["message"]["transcript"]), None)

        update = soon(transcribed)
    assert update["message"]["transcript"] == "quero cancelar minha assinatura"
    assert update["ticket"]["id"] == m["ticket_id"]
    assert message(desk, m)["transcript"] == "quero cancelar minha assinatura"
    [sent] = transcriptions(ai)
    form = sent["form"]
    assert form["model"] == "fake-whisper"
    assert form["file"]["sha256"] == sha256(m["media_path"])
    assert form["file"]["filename"] == Path(m["media_path"]).name and form["file"]["content_type"] == "audio/ogg"

    ai.transcript("segue o áudio do boleto")  # an audio file (not recorded in the chat) is transcribed too
    audio_file = voice(desk, "5511700000401", ptt=False)
    assert soon(lambda: message(desk, audio_file)["transcript"]) == "segue o áudio do boleto"
    assert len(transcriptions(ai)) == 2


def test_without_a_transcription_model_nothing_is_sent_and_setting_one_transcribes_the_recent_notes(
        desk, ai, tmp_path):
    desk.admin.call("assistant.update", {"base_url": ai.url, "chat": {"model": "fake"}})
    notes = [voice(desk, "5511700000402") for _ in range(3)]
    for m in notes:
        soon(lambda m=m: logged(desk, f"voice note {m['id']} {OFF}"))
    assert transcriptions(ai) == [] and ai.requests == []
    later, big, linked = notes
    assert message(desk, later)["transcript"] is None
    os.truncate(big["media_path"], MAX_BYTES + 1)
    elsewhere = tmp_path / "elsewhere.ogg"
    elsewhere.write_bytes(b"OggS not the tenant's")
    os.unlink(linked["media_path"])
    os.symlink(elsewhere, linked["media_path"])
    ai.transcript("transcrito quando o modelo chegou")

    transcribe_with(desk, ai)
    assert soon(lambda: message(desk, later)["transcript"]) == "transcrito quando o modelo chegou"
    soon(lambda: logged(desk, f"voice note {big['id']} ", f"over the {MAX_BYTES:,}-byte limit"))
    soon(lambda: logged(desk, f"voice note {linked['id']} ", "is not in the tenant's media dir"))
    [sent] = transcriptions(ai)
    assert sent["form"]["file"]["sha256"] == sha256(later["media_path"])
    assert message(desk, big)["transcript"] is None and message(desk, linked)["transcript"] is None


def test_a_failing_server_leaves_no_transcript_and_the_next_voice_note_works(desk, ai):
    transcribe_with(desk, ai)
    for _ in range(3):  # a server error is tried three times in all
        ai.transcript_error(500)
    failed = voice(desk, "5511700000403")
    soon(lambda: logged(desk, f"voice note {failed['id']} ", "after 3 attempt(s)"))
    assert len(transcriptions(ai)) == 3
    assert message(desk, failed)["transcript"] is None
    assert_serves(desk.z)

    ai.transcript_error(400)  # refused: asking again would get the same answer
    refused = voice(desk, "5511700000403")
    soon(lambda: logged(desk, f"voice note {refused['id']} ", "after 1 attempt(s)"))
    assert len(transcriptions(ai)) == 4

    ai.transcript("agora foi")
    works = voice(desk, "5511700000403")
    assert soon(lambda: message(desk, works)["transcript"]) == "agora foi"
    assert message(desk, failed)["transcript"] is None and message(desk, refused)["transcript"] is None
    [row] = [r for r in desk.admin.call("assistant.usage", {})["rows"] if r["feature"] == "transcription"]
    assert (row["requests"], row["failures"]) == (5, 4)


def test_a_restart_tries_again_the_recent_notes_left_without_a_transcript(desk, ai):
    transcribe_with(desk, ai)
    for _ in range(3):
        ai.transcript_error(503)
    m = voice(desk, "5511700000404")
    soon(lambda: logged(desk, f"voice note {m['id']} ", "after 3 attempt(s)"))
    desk.z.stop()
    ai.transcript("transcrito depois do reinício")
    desk.z.start()
    desk.admin.close()
    desk.admin = desk.z.client()
    assert soon(lambda: message(desk, m)["transcript"]) == "transcrito depois do reinício"
    assert len(transcriptions(ai)) == 4
