"""A company with a sim number and a cloud number on FakeGraph, for the template, window and campaign
tests: customers write to the cloud number through signed webhooks on zingd's HTTP server."""

from __future__ import annotations

import socket
import sqlite3
from dataclasses import dataclass

import pytest

from tests.channels.cloud import webhooks as W
from tests.channels.cloud.graph_fake import FakeGraph
from tests.helpers import wait_for
from tests.integration.desk import Desk, make_desk

WEBHOOK_PATH = "/webhooks/whatsapp"
NO_LIMITS = {"min_interval_s": 0, "jitter_s": 0, "pause_every": 10000, "pause_s": 0, "daily_cap": 100000,
             "quiet_start": "00:00", "quiet_end": "00:00", "warmup": []}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class CloudDesk:
    d: Desk
    g: FakeGraph
    cloud_id: int
    url: str

    @property
    def admin(self):
        return self.d.admin

    def writes(self, number: str, body: str, name: str = "Cliente") -> dict:
        """The customer writes to the cloud number (a signed webhook); their ticket, once stored."""
        value = W.value(W.text(body, sender=number), contacts=[W.contact(number, name)])
        status, text = self.g.post_webhook(self.url, W.envelope(("messages", value)))
        assert status == 200, (status, text)
        return wait_for(lambda: self.ticket(number))

    def ticket(self, number: str) -> dict | None:
        contacts = [c for c in self.admin.call("contact.list", {"query": number}) if c["number"] == number]
        if not contacts:
            return None
        tickets = self.admin.call("ticket.list", {"contact_id": contacts[0]["id"]})["tickets"]
        return next((t for t in tickets if t["connection_id"] == self.cloud_id), None)

    def age(self, number: str, hours: float) -> None:
        """Make the customer's last message to the cloud number ``hours`` old (the daemon reads it per call)."""
        db = sqlite3.connect(self.d.z.data_dir / "zing.db", timeout=10)
        with db:
            db.execute("UPDATE tickets SET last_inbound_at = last_inbound_at - ? WHERE connection_id = ? AND "
                       "contact_id = (SELECT id FROM contacts WHERE number = ?)", (hours * 3600, self.cloud_id, number))
        db.close()

    def sync(self) -> dict:
        return self.admin.call("template.sync", {"connection_id": self.cloud_id})

    def template(self, name: str, language: str = "pt_BR") -> dict:
        [t] = [t for t in self.admin.call("template.list", {"connection_id": self.cloud_id})
               if (t["name"], t["language"]) == (name, language)]
        return t

    def close(self) -> None:
        self.d.close()
        self.d.z.kill()


def cloud_desk(tmp_path, g: FakeGraph, env: dict | None = None) -> CloudDesk:
    port = free_port()
    d = make_desk(tmp_path, env={"ZING_HTTP__ENABLED": "true", "ZING_HTTP__PORT": str(port),
                                 "ZING_PACING__QUIET_START": "00:00", "ZING_PACING__QUIET_END": "00:00",
                                 "ZING_PACING__MIN_INTERVAL_S": "0", "ZING_PACING__JITTER_S": "0", **(env or {})})
    cloud = d.admin.call("connection.create", {"name": "Cloud", "kind": "cloud", "cloud": g.cloud_params()})
    wait_for(lambda: d.admin.call("connection.get", {"id": cloud["id"]})["status"] == "connected", timeout=20)
    return CloudDesk(d, g, cloud["id"], f"http://127.0.0.1:{port}{WEBHOOK_PATH}")


@pytest.fixture
def g():
    """A fake Graph server with nothing on it yet (a test file with templates overrides this)."""
    with FakeGraph() as fake:
        yield fake


@pytest.fixture
def cd(tmp_path, g):
    """The company of ``cloud_desk`` on the fake Graph server ``g``."""
    desk = cloud_desk(tmp_path, g)
    yield desk
    desk.close()
