"""Who is acting: the user, tenant and role a call runs as, and how roles rank.

It sits below both the store and the services (it imports neither), so a query in
``zingd/store`` can scope itself to an actor without the store depending on the
rules above it. Which role may call which method is policy and lives in
``zingd/services/permissions.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from zingd.errors import Forbidden

ROLES = ("agent", "supervisor", "admin", "superadmin")
RANK = {role: i for i, role in enumerate(ROLES)}


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
