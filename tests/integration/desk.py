"""A small company on a real daemon, for helpdesk tests: an admin linked to this OS
user (so calls need no login), agents with their own tokens, queues, a sim number."""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.helpers import Zingd, wait_for
from zingd.rpc.client import SyncClient


@dataclass
class Desk:
    z: Zingd
    admin: SyncClient
    agents: dict[str, SyncClient] = field(default_factory=dict)
    agent_ids: dict[str, int] = field(default_factory=dict)
    queues: dict[str, int] = field(default_factory=dict)
    connection_id: int = 0

    def agent(self, name: str, role: str = "agent", status: str = "offline") -> SyncClient:
        email = f"{name}@acme.test"
        user = self.admin.call("user.create", {"email": email, "password": "secret-pw", "name": name.title(),
                                               "role": role})
        c = self.z.client()
        c.call("auth.login", {"email": email, "password": "secret-pw"})
        if status != "offline":
            c.call("user.set_status", {"status": status})
        self.agents[name], self.agent_ids[name] = c, user["id"]
        return c

    def queue(self, name: str, members: list[str] = (), **fields) -> int:
        q = self.admin.call("queue.create", {"name": name, **fields})
        if members:
            self.admin.call("queue.set_members", {"id": q["id"], "user_ids": [self.agent_ids[m] for m in members]})
        self.queues[name] = q["id"]
        return q["id"]

    def say(self, number: str, body: str, **extra) -> dict:
        return self.admin.call("sim.say", {"from": number, "body": body, **extra})

    def ticket_of(self, number: str) -> dict:
        contacts = self.admin.call("contact.list", {"query": number})
        [contact] = [c for c in contacts if c["number"] == number]
        tickets = self.admin.call("ticket.list", {"contact_id": contact["id"]})["tickets"]
        return tickets[0]

    def messages(self, ticket_id: int) -> list[dict]:
        return self.admin.call("message.list", {"ticket_id": ticket_id, "limit": 200})["messages"]

    def bot_texts(self, ticket_id: int) -> list[str]:
        return [m["body"] for m in self.messages(ticket_id) if m["direction"] == "out" and m["user_id"] is None]

    def wait_acks(self, ticket_id: int, ack: str = "read") -> list[dict]:
        return wait_for(lambda: all(m["ack"] == ack for m in self.messages(ticket_id) if m["direction"] == "out")
                        and self.messages(ticket_id))

    def close(self) -> None:
        for c in self.agents.values():
            c.close()
        self.admin.close()


def make_desk(root, env: dict | None = None) -> Desk:
    z = Zingd(root, env=env).start()
    admin = z.client()
    admin.call("auth.bootstrap", {"email": "boss@acme.test", "password": "boss-pass1", "tenant": "Acme"})
    desk = Desk(z, admin)
    desk.connection_id = admin.call("connection.create", {"name": "Main", "kind": "sim"})["id"]
    return desk
