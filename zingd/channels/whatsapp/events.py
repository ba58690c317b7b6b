"""The WhatsApp events beyond messages and receipts: calls, group names, history and offline sync.

Like ``whatsapp.inbound`` this runs on neonize's callback thread and reads protos by
field name only. What a customer should see becomes an ``InboundMessage`` for the
same sink as messages (so it is committed before the event returns):
- a call (``CallOffer``) is a system line, "📞 missed voice call" or "📹 missed
  video call" (zing takes no calls); its call id is its message id, so a replayed
  offer is stored once. Group calls (``CallOfferNotice``) and the call's end
  (``CallTerminate``: it adds nothing to "missed") are not subscribed;
- a group's new subject (a ``GroupInfoEvent`` with a name) is a system line that also
  renames the group's contact; ``JoinedGroup`` only teaches the name, and a group
  first seen in a message is looked up once (``get_group_info``), then cached.
History sync and offline sync report progress (``SyncProgress``, shown in the
connection's health); the history's old messages are not imported, but the LID <->
phone pairs it carries (``phoneNumberToLidMappings``) go to the daemon, which folds
a placeholder contact made for a LID into the person's contact.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from zingd.channels.base import CALL_LINES, InboundMessage
from zingd.channels.whatsapp.inbound import enum_name, jid_str, seconds

log = logging.getLogger(__name__)


# LoggedOut reasons that are not "this device was unlinked": neonize names whatsmeow's codes (403, 406:
# "now called LOCKED / BANNED in the WhatsApp web code"), and pairing again does not help with either.
LOGOUT_STATES = {
    "MAIN_DEVICE_GONE": ("locked", "WhatsApp locked this account (403)"),
    "UNKNOWN_LOGOUT": ("banned", "WhatsApp banned this account (406)"),
    "TEMP_BANNED": ("banned", "WhatsApp banned this account for a while (402)"),
}


def logout_state(reason: str) -> tuple[str, str] | None:
    """(state, reason) for a LoggedOut reason that is a lock or a ban; None for a plain logout."""
    return LOGOUT_STATES.get(reason)


def call_message(ev: Any) -> InboundMessage:
    """A CallOffer as the ticket's line. The offer node lists a ``video`` child for video calls."""
    meta = ev.basicCallMeta
    kind = "video" if any(node.Tag == "video" for node in ev.data.Nodes) else "voice"
    caller = jid_str(meta.callCreator) or jid_str(getattr(meta, "from"))
    return InboundMessage(wa_id=meta.callID, chat=caller, sender=caller, ts=seconds(meta.timestamp),
                          type="system", body=CALL_LINES[kind], call=kind, sender_alt=jid_str(meta.callCreatorAlt))


def rename_message(ev: Any) -> InboundMessage | None:
    """A group change (GroupInfoEvent) that sets the subject, as a line of the group's ticket;
    other changes (topic, participants…): None."""
    if not ev.HasField("Name") or not ev.Name.Name:
        return None
    group, name = jid_str(ev.JID), ev.Name.Name
    ts = seconds(ev.Name.NameSetAt or ev.Timestamp)
    return InboundMessage(wa_id=f"{group.partition('@')[0]}-name-{int(ts)}", chat=group,
                          sender=jid_str(ev.Sender) or jid_str(ev.Name.NameSetBy) or group, ts=ts, type="system",
                          body=f"group name: {name}", is_group=True, group_name=name)


class GroupNames:
    """Group subjects by group JID: learned from group events, else looked up once per group."""

    def __init__(self, lookup: Callable[[Any], Any]) -> None:
        self._lookup = lookup  # group JID proto -> GroupInfo (a server query)
        self._names: dict[str, str] = {}
        self._lock = threading.Lock()

    def learn(self, group: str, name: str) -> None:
        if name:
            with self._lock:
                self._names[group] = name

    def name(self, chat: Any) -> str:
        """The subject of the group ``chat`` (a JID proto); "" when WhatsApp would not say."""
        group = jid_str(chat)
        with self._lock:
            known = self._names.get(group)
        if known is not None:
            return known
        try:
            name = self._lookup(chat).GroupName.Name
        except Exception as exc:  # a group we left, or no connection: unnamed until a group event names it
            log.debug("no group info for %s: %s", group, exc)
            name = ""
        with self._lock:
            self._names[group] = name
        return name


class SyncProgress:
    """WhatsApp's catch-up after a connect, as connection.get's ``health.sync``.

    ``history``: history-sync chunks arriving (after pairing, and on demand);
    ``offline``: WhatsApp announced ``total`` events queued while zing was away
    (OfflineSyncPreview) and is delivering them; ``done`` once it says they all
    came (OfflineSyncCompleted, with the count it delivered).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state, self._total, self._done = "idle", 0, 0
        self._chunks, self._percent = 0, 0

    def history(self, ev: Any) -> None:
        data = ev.Data
        with self._lock:
            self._chunks += 1
            self._percent = max(self._percent, data.progress)
            if self._state in ("idle", "done"):
                self._state = "history"
        log.info("history sync: chunk %s (%s), %s%%", data.chunkOrder, enum_name(data, "syncType"), data.progress)

    def offline_preview(self, ev: Any) -> None:
        with self._lock:
            self._state, self._total, self._done = "offline", ev.Total, 0

    def offline_completed(self, ev: Any) -> None:
        with self._lock:
            self._state, self._done = "done", ev.Count
            self._total = max(self._total, ev.Count)

    def view(self) -> dict[str, Any]:
        with self._lock:
            return {"state": self._state, "total": self._total, "done": self._done,
                    "history_chunks": self._chunks, "history_percent": self._percent}


def user_jid(text: str) -> str:
    """``user@server`` of a JID string, without a device (``5511…:3@s.whatsapp.net``)."""
    user, _, server = text.partition("@")
    return f"{user.partition(':')[0]}@{server}"


def history_mappings(ev: Any) -> list[tuple[str, str]]:
    """The (phone JID, LID JID) pairs a history sync chunk reveals."""
    return [(user_jid(m.pnJID), user_jid(m.lidJID)) for m in ev.Data.phoneNumberToLidMappings
            if m.pnJID.endswith("@s.whatsapp.net") and m.lidJID.endswith("@lid")]


class ExtraEvents:
    """The handlers of one connection's extra events, by neonize event type (for ``_register``)."""

    def __init__(self, deliver: Callable[[InboundMessage], None], learn: Callable[[list[tuple[str, str]]], None],
                 group_info: Callable[[Any], Any]) -> None:
        self.deliver, self.learn = deliver, learn
        self.groups = GroupNames(group_info)
        self.sync = SyncProgress()

    def handlers(self, ev: Any) -> dict[type, Callable[[Any], None]]:
        return {
            ev.CallOfferEv: self._call, ev.GroupInfoEv: self._group_info, ev.JoinedGroupEv: self._joined,
            ev.HistorySyncEv: self._history, ev.OfflineSyncPreviewEv: self.sync.offline_preview,
            ev.OfflineSyncCompletedEv: self.sync.offline_completed,
        }

    def _history(self, ev: Any) -> None:
        self.sync.history(ev)
        pairs = history_mappings(ev)
        if pairs:
            self.learn(pairs)

    def _call(self, ev: Any) -> None:
        self.deliver(call_message(ev))

    def _group_info(self, ev: Any) -> None:
        msg = rename_message(ev)
        if msg is not None:
            self.groups.learn(msg.chat, msg.group_name)
            self.deliver(msg)

    def _joined(self, ev: Any) -> None:
        info = ev.GroupInfo
        self.groups.learn(jid_str(info.JID), info.GroupName.Name)
