"""Media off the event path: a stalled download holds neither the next text nor the number."""

from __future__ import annotations

import threading
import time

import pytest

from tests.channels.whatsapp.rig import DownloadError, E, fast, message_event
from zingd.channels.base import SendError
from tests.helpers import until


def stall(client) -> threading.Event:
    """The CDN stops answering until the returned event is set."""
    go_on = threading.Event()
    plain = client.download_any

    def stalled(message, path=None):
        go_on.wait(30)
        return plain(message, path)

    client.download_any = stalled
    return go_on


async def test_a_stalled_download_does_not_delay_the_next_text(rig):
    client = await rig.connected()
    go_on = stall(client)
    photo = E.Message(imageMessage=E.ImageMessage(mimetype="image/jpeg", caption="the receipt"))
    await rig.push(message_event(photo, wa_id="3EB0PHOTO"))
    started = time.monotonic()
    await rig.push(message_event(E.Message(conversation="are you there?"), wa_id="3EB0TEXT"))
    await until(lambda: [m.wa_id for m in rig.sink.messages] == ["3EB0TEXT"])
    assert time.monotonic() - started < 1
    go_on.set()
    await rig.media_done()
    text, image = rig.sink.messages
    assert (image.wa_id, image.body, image.media.error) == ("3EB0PHOTO", "the receipt", None)
    assert image.media.path.endswith("3EB0PHOTO.jpg")


async def test_a_download_past_its_timeout_is_stored_with_a_media_error(make_rig):
    rig = make_rig(fast(media_timeout=0.2))
    client = await rig.connected()
    go_on = stall(client)
    try:
        late = await rig.deliver(E.Message(imageMessage=E.ImageMessage(mimetype="image/jpeg")), wa_id="3EB0LATE")
        assert (late.media.path, late.media.error) == (None, "download failed: timed out after 0.2s")
    finally:
        go_on.set()
    client.download_any = type(client).download_any.__get__(client)
    fine = await rig.deliver(E.Message(imageMessage=E.ImageMessage(mimetype="image/jpeg")), wa_id="3EB0FINE")
    assert fine.media.error is None and fine.media.path.endswith("3EB0FINE.jpg")


async def test_a_failed_download_can_be_fetched_again_once(rig):
    client = await rig.connected()
    client.download_error = DownloadError("Get https://mmg.whatsapp.net/v/x: dial tcp: i/o timeout")
    photo = E.Message(imageMessage=E.ImageMessage(mimetype="image/jpeg", caption="the receipt", fileLength=11))
    failed = await rig.deliver(photo, wa_id="3EB0AGAIN")
    assert failed.media.path is None and failed.media.retryable and "i/o timeout" in failed.media.error
    with pytest.raises(SendError):  # down: whatsmeow downloads through the session
        rig.channel.state = "disconnected"
        await rig.channel.fetch_media("3EB0AGAIN")
    rig.channel.state = "connected"
    client.download_error = None
    await rig.channel.fetch_media("3EB0AGAIN")
    again = rig.sink.messages[-1]
    assert (again.wa_id, again.body, again.media.error) == ("3EB0AGAIN", "the receipt", None)
    assert again.media.path.endswith("3EB0AGAIN.jpg") and len(client.downloads) == 2
    with pytest.raises(LookupError, match="fetched already"):
        await rig.channel.fetch_media("3EB0AGAIN")


async def test_a_file_gone_from_whatsapps_servers_is_not_fetched_again(rig):
    client = await rig.connected()
    client.download_error = DownloadError("download failed with status code 410")
    gone = await rig.deliver(E.Message(documentMessage=E.DocumentMessage(mimetype="application/pdf", fileLength=9)),
                             wa_id="3EB0GONE")
    assert "ask the customer to send it again" in gone.media.error and not gone.media.retryable
    with pytest.raises(LookupError):
        await rig.channel.fetch_media("3EB0GONE")
