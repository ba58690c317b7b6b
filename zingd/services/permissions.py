"""Who is acting, and the one permission table.

Every RPC method has exactly one row in PERMISSIONS (the registry refuses a
method without one): the lowest role allowed to call it, or ``public`` for the
few that work before authentication. A deprecated name in ALIASES gets the row
of the method it stands for. Tenancy is enforced below this, in every
query: a user of one tenant gets ``not_found`` for another tenant's ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from zingd.errors import Forbidden

ROLES = ("agent", "supervisor", "admin", "superadmin")
RANK = {role: i for i, role in enumerate(ROLES)}
PUBLIC = "public"

PERMISSIONS: dict[str, str] = {
    "rpc.hello": PUBLIC,
    "rpc.discover": PUBLIC,
    "auth.login": PUBLIC,
    "auth.token": PUBLIC,
    "auth.bootstrap": PUBLIC,
    "auth.whoami": "agent",
    "auth.logout": "agent",
    "daemon.status": "agent",
    "tenant.list": "superadmin",
    "tenant.create": "superadmin",
    "tenant.get": "admin",
    "tenant.update": "superadmin",
    "user.list": "supervisor",
    "user.get": "agent",
    "user.create": "admin",
    "user.update": "admin",
    "user.set_status": "agent",
    "user.directory": "agent",
    "connection.list": "agent",
    "connection.get": "agent",
    "connection.create": "admin",
    "connection.update": "admin",
    "connection.delete": "admin",
    "connection.restart": "admin",
    "connection.pair": "admin",
    "connection.logout": "admin",
    "contact.list": "agent",
    "contact.get": "agent",
    "contact.update": "agent",
    "ticket.list": "agent",
    "ticket.get": "agent",
    "ticket.accept": "agent",
    "ticket.transfer": "agent",
    "ticket.close": "agent",
    "ticket.reopen": "agent",
    "message.list": "agent",
    "message.send": "agent",
    "message.retry": "agent",
    "message.search": "agent",
    "sim.say": "admin",
    "sim.customers": "agent",
    "sim.fault": "admin",
    "sim.journal": "admin",
    "events.subscribe": "agent",
    "events.unsubscribe": "agent",
    "user.update_me": "agent",
    "tenant.update_settings": "admin",
    "queue.list": "agent",
    "queue.create": "admin",
    "queue.update": "admin",
    "queue.delete": "admin",
    "queue.set_members": "admin",
    "connection.set_queues": "admin",
    "tag.list": "agent",
    "tag.create": "supervisor",
    "tag.delete": "admin",
    "ticket.set_tags": "agent",
    "ticket.history": "agent",
    "contact.set_tags": "agent",
    "contact.create": "agent",
    "contact.import": "admin",
    "contact.export": "supervisor",
    "contact.merge": "supervisor",
    "contact.delete": "admin",
    "note.create": "agent",
    "note.list": "agent",
    "quickreply.list": "agent",
    "quickreply.create": "agent",
    "quickreply.update": "agent",
    "quickreply.delete": "agent",
    "message.read": "agent",
    "message.typing": "agent",
    "token.create": "agent",
    "token.list": "agent",
    "token.revoke": "agent",
    "audit.list": "admin",
    "report.summary": "supervisor",
    "campaign.create": "supervisor",
    "campaign.list": "supervisor",
    "campaign.get": "supervisor",
    "campaign.start": "supervisor",
    "campaign.pause": "supervisor",
    "campaign.cancel": "supervisor",
    "campaign.recipients": "supervisor",
    "schedule.create": "agent",
    "schedule.list": "agent",
    "schedule.update": "agent",
    "schedule.cancel": "agent",
    "webhook.create": "admin",
    "webhook.list": "admin",
    "webhook.delete": "admin",
    "webhook.update": "admin",
    "webhook.deliveries": "admin",
    "message.send_to": "agent",
    "daemon.backup": "superadmin",
}

# Old names, kept working for one release: the same handler under the same permission row;
# rpc.discover lists them with "deprecated": true. Remove them in the release after.
ALIASES: dict[str, str] = {
    "campaign.show": "campaign.get",
    "webhook.enable": "webhook.update",
    "tenant.settings": "tenant.update_settings",
    "ticket.tag": "ticket.set_tags",
    "contact.tag": "contact.set_tags",
}
PERMISSIONS.update({old: PERMISSIONS[new] for old, new in ALIASES.items()})


@dataclass(frozen=True, slots=True)
class Actor:
    user_id: int
    tenant_id: int
    role: str
    name: str = ""
    token_id: int | None = None
    queue_ids: frozenset[int] = field(default_factory=frozenset)

    @property
    def is_superadmin(self) -> bool:
        return self.role == "superadmin"

    def at_least(self, role: str) -> bool:
        return RANK[self.role] >= RANK[role]

    def require(self, role: str, what: str = "this") -> None:
        if not self.at_least(role):
            raise Forbidden(f"{what} needs the {role} role; you are {self.role}", need=role)

    def tenant(self, requested: int | None) -> int:
        """The tenant a call acts on: one's own, or any for a superadmin."""
        if requested is None or requested == self.tenant_id:
            return self.tenant_id
        if not self.is_superadmin:
            raise Forbidden("only a superadmin can act on another tenant")
        return requested

    @property
    def sees_all_tickets(self) -> bool:
        return self.at_least("supervisor")


def may_call(actor: Actor | None, method: str) -> bool:
    need = PERMISSIONS[method]
    if need == PUBLIC:
        return True
    return actor is not None and RANK[actor.role] >= RANK[need]
