"""A stand-in for zingd's RPC client with fixed data, so snapshots never depend on a clock or a race.

It answers the calls the console makes with the shapes zingd returns; behaviour
is proven against the real daemon elsewhere.
"""

from __future__ import annotations

import copy
from typing import Any

NOW = 1767268800.0  # 2026-01-01 12:00 UTC: snapshot tests run with TZ=UTC
MIN = 60.0

ANA = {"id": 2, "tenant_id": 1, "email": "ana@demo.zing", "name": "Ana Agent", "role": "agent", "status": "online",
       "signature": 0}
CONNECTIONS = [{"id": 1, "name": "Demo WhatsApp", "kind": "sim", "status": "connected", "status_reason": "",
                "phone": "5511900000000"},
               {"id": 2, "name": "Loja Centro", "kind": "whatsapp", "status": "disconnected",
                "status_reason": "logged out from the phone", "phone": "5511911112222"}]
QUEUES = [{"id": 1, "name": "Vendas", "color": "#2f9e44"}, {"id": 2, "name": "Suporte", "color": "#1c7ed6"}]
TAGS = [{"id": 1, "name": "boleto", "color": "#868e96"}, {"id": 2, "name": "vip", "color": "#868e96"}]
REPLIES = [{"id": 1, "shortcut": "ola", "body": "Olá {{first_name}}, em que posso ajudar?", "scope": "tenant"},
           {"id": 2, "shortcut": "obrigado", "body": "Obrigado pelo contato, {{first_name}}!", "scope": "tenant"},
           {"id": 3, "shortcut": "prazo", "body": "O prazo de entrega é de 5 dias úteis.", "scope": "personal"}]


def _ticket(tid: int, name: str, number: str, status: str, last: str, at: float, unread: int = 0,
            user: dict | None = None, queue: dict | None = None, tags: list[str] | None = None) -> dict[str, Any]:
    return {"id": tid, "tenant_id": 1, "connection_id": 1, "contact_id": tid, "queue_id": queue and queue["id"],
            "user_id": user and user["id"], "status": status, "unread": unread, "last_message": last,
            "last_message_at": at, "created_at": at - 3600, "updated_at": at, "contact_name": name,
            "contact_push_name": name, "contact_number": number, "queue_name": queue and queue["name"],
            "user_name": user and user["name"], "connection_name": "Demo WhatsApp", "tags": tags or []}


TICKETS = [
    _ticket(11, "Carla Dias", "5521988880003", "pending", "qual o horário de atendimento?", NOW - 2 * MIN, 2,
            queue=QUEUES[1]),
    _ticket(12, "Diego Alves", "5531977770004", "pending", "o boleto venceu, como faço?", NOW - 9 * MIN, 1,
            queue=QUEUES[0], tags=["boleto"]),
    _ticket(13, "Emily Carter", "14155550105", "pending", "hi, I need help with my order", NOW - 86400, 1),
    _ticket(21, "Ana Souza", "5511999990001", "open", "Obrigado! Vou verificar o pedido.", NOW - 5 * MIN,
            user=ANA, queue=QUEUES[1], tags=["vip"]),
    _ticket(22, "Bruno Lima", "5511999990002", "open", "[document]", NOW - 40 * MIN, 1, user=ANA, queue=QUEUES[0]),
    _ticket(31, "Frank Moore", "447700900106", "closed", "thanks, that solved it", NOW - 3 * 86400, user=ANA),
]


def _msg(mid: int, ticket_id: int, direction: str, body: str, at: float, **extra: Any) -> dict[str, Any]:
    return {"id": mid, "ticket_id": ticket_id, "direction": direction, "from_device": 0, "type": "text", "body": body,
            "media_path": None, "media_mime": None, "media_size": None, "media_error": None, "quoted_id": None,
            "participant": None, "user_id": ANA["id"] if direction == "out" else None,
            "ack": "read" if direction == "out" else "received", "error": None, "edited": 0, "deleted": 0,
            "reaction_to": None, "created_at": at, **extra}


MESSAGES = {
    21: [
        _msg(101, 21, "in", "bom dia! meu pedido ainda não chegou", NOW - 86400 - 30 * MIN),
        _msg(102, 21, "out", "Bom dia, Ana! Qual o número do pedido?", NOW - 86400 - 28 * MIN),
        _msg(103, 21, "in", "é o 4471", NOW - 86400 - 27 * MIN, edited=1),
        _msg(104, 21, "in", "", NOW - 20 * MIN, type="image", media_path="/data/media/1/2026-01/SIM4471.png",
             media_mime="image/png", media_size=48213),
        _msg(105, 21, "in", "mandei a foto da etiqueta", NOW - 19 * MIN, deleted=1),
        _msg(106, 21, "out", "Recebi, já estou verificando.", NOW - 10 * MIN, quoted_id=104, ack="delivered"),
        _msg(107, 21, "out", "Seu pedido sai hoje.", NOW - 6 * MIN, ack="failed", error="network timeout"),
        _msg(108, 21, "in", "Obrigado! Vou verificar o pedido.", NOW - 5 * MIN),
    ],
    11: [_msg(111, 11, "in", "qual o horário de atendimento?", NOW - 2 * MIN)],
}
NOTES = {21: [{"id": 1, "ticket_id": 21, "user_id": ANA["id"], "user_name": "Ana Agent",
               "body": "Cliente VIP: priorizar a entrega.", "created_at": NOW - 15 * MIN}]}
CONTACTS = {21: {"id": 21, "number": "5511999990001", "name": "Ana Souza", "push_name": "Ana S.",
                 "email": "ana.souza@example.com", "custom_fields": {"plano": "anual", "cidade": "São Paulo"},
                 "tags": ["cliente-ouro"], "opted_out": 0,
                 "tickets": [{"id": 21, "status": "open", "created_at": NOW - 86400, "last_message": "Obrigado!"},
                             {"id": 7, "status": "closed", "created_at": NOW - 40 * 86400,
                              "last_message": "tudo certo, obrigada"}]}}
HISTORY = {21: [{"action": "queue", "user_id": None, "user_name": None, "data": {"queue_id": 2},
                 "created_at": NOW - 86400},
                {"action": "accept", "user_id": ANA["id"], "user_name": "Ana Agent", "data": {},
                 "created_at": NOW - 86400 + 60},
                {"action": "tags", "user_id": ANA["id"], "user_name": "Ana Agent", "data": {"tags": ["vip"]},
                 "created_at": NOW - 86400 + 120}]}
METHODS = ["auth.login", "auth.token", "auth.whoami", "connection.list", "connection.pair", "contact.get",
           "contact.update", "contact.set_tags", "message.list", "message.read", "message.send", "message.typing",
           "note.create", "note.list", "queue.list", "quickreply.list", "tag.list", "ticket.accept", "ticket.close",
           "ticket.get", "ticket.history", "ticket.list", "ticket.set_tags", "ticket.transfer", "user.set_status"]


class FakeClient:
    """Quacks like zingd.rpc.client.Client for the calls the console makes."""

    def __init__(self, path=None, token=None, reconnect=True, on_state=None, user: dict | None = None) -> None:
        self.token = token
        self.user = user or ANA
        self.handler = None
        self.calls: list[tuple[str, dict]] = []

    async def connect(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def login(self, email: str, password: str) -> dict[str, Any]:
        self.token = "zt_fake"
        return {"token": self.token, "user": copy.deepcopy(self.user)}

    async def subscribe(self, topics: list[str], handler) -> int:
        self.handler = handler
        return 1

    async def call(self, method: str, params: dict[str, Any] | None = None, timeout: float | None = None) -> Any:
        params = params or {}
        self.calls.append((method, params))
        return copy.deepcopy(self._answer(method, params))

    def _answer(self, method: str, p: dict[str, Any]) -> Any:
        if method in ("auth.token", "auth.whoami"):
            return self.user
        if method == "rpc.discover":
            return {"methods": [{"name": m} for m in METHODS]}
        if method == "ticket.list":
            rows = [t for t in TICKETS if (p.get("status") is None or t["status"] == p["status"])
                    and (not p.get("mine") or t["user_id"] == self.user["id"])]
            counts = {"pending": {"count": 3, "unread": 3}, "open": {"count": 2, "unread": 1}}
            return {"tickets": rows, "counts": counts}
        if method == "ticket.get":
            return next(t for t in TICKETS if t["id"] == p["id"])
        if method == "message.list":
            return {"messages": MESSAGES.get(p["ticket_id"], []), "more": False}
        if method == "note.list":
            return NOTES.get(p["ticket_id"], [])
        if method == "ticket.history":
            return HISTORY.get(p["id"], [])
        if method == "contact.get":
            return CONTACTS[p["id"]]
        if method == "message.send":
            return _msg(900 + len(self.calls), p["ticket_id"], "out", p.get("body", ""), NOW, ack="queued")
        if method == "connection.pair":
            return {"id": p["id"], "status": "pairing", "qr": "2@fixed-qr-for-snapshots,abc,def", "pair_code": None}
        fixed = {"connection.list": CONNECTIONS, "queue.list": QUEUES, "tag.list": TAGS, "quickreply.list": REPLIES,
                 "user.set_status": self.user, "message.read": {"marked": 0}, "message.typing": {"sent": True}}
        return fixed.get(method, {})
