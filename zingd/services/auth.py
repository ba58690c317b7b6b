"""Passwords, session and API tokens, peer-uid login and first-admin bootstrap.

Tokens are random, shown once, and stored only as SHA-256 hashes. Passwords use
scrypt from the standard library.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import secrets
from typing import TYPE_CHECKING, Any

from zingd.actor import RANK, ROLES, Actor
from zingd.errors import Conflict, Forbidden, Invalid, Unauthenticated
from zingd.store.db import Tx

if TYPE_CHECKING:
    from zingd.clock import Clock
    from zingd.config import RpcSettings
    from zingd.store.db import Database

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${_SCRYPT['n']}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), dklen=32, n=int(n), r=8, p=1)
    return hmac.compare_digest(got.hex(), digest)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_password_rules(password: str) -> None:
    if len(password) < 8:
        raise Invalid("password must have at least 8 characters", field="password")


def effective_role(user_role: str, token_role: str | None) -> str:
    """An API token acts with its own role, but never above its user's current one."""
    if token_role is None or RANK[token_role] >= RANK[user_role]:
        return user_role
    return token_role


def public_user(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "password_hash"}


def issue_token(tx: Tx, user: dict[str, Any], kind: str, ttl_s: float | None, name: str = "",
                role: str | None = None) -> str:
    token = ("zs_" if kind == "session" else "za_") + secrets.token_urlsafe(32)
    tx.insert("tokens", {
        "tenant_id": user["tenant_id"], "user_id": user["id"], "kind": kind, "name": name, "role": role,
        "token_hash": _token_hash(token), "created_at": tx.now,
        "expires_at": tx.now + ttl_s if ttl_s is not None else None,
    })
    return token


class Auth:
    def __init__(self, db: Database, clock: Clock, settings: RpcSettings) -> None:
        self.db, self.clock, self.settings = db, clock, settings

    @property
    def ttl_s(self) -> float:
        return self.settings.session_ttl_hours * 3600.0

    async def _actor(self, user: dict[str, Any], role: str | None = None, token_id: int | None = None) -> Actor:
        queues = await self.db.all("SELECT queue_id FROM queue_members WHERE user_id = ?", (user["id"],))
        return Actor(user["id"], user["tenant_id"], role or user["role"], user["name"], token_id,
                     frozenset(q["queue_id"] for q in queues))

    async def reload(self, actor: Actor) -> Actor | None:
        """The same login with fresh role and queues (None if the user was disabled)."""
        user = await self.db.one("SELECT * FROM users WHERE id = ? AND enabled = 1", (actor.user_id,))
        if user is None:
            return None
        token_role = None
        if actor.token_id is not None:
            token_role = await self.db.value("SELECT role FROM tokens WHERE id = ?", (actor.token_id,))
        return await self._actor(user, effective_role(user["role"], token_role), actor.token_id)

    async def actor_for_uid(self, uid: int | None) -> Actor | None:
        """Peer-uid login: an OS user linked to an enabled zing user needs no password."""
        if uid is None:
            return None
        user = await self.db.one("SELECT * FROM users WHERE os_uid = ? AND enabled = 1", (uid,))
        return await self._actor(user) if user else None

    async def login(self, email: str, password: str) -> tuple[Actor, dict[str, Any]]:
        user = await self.db.one("SELECT * FROM users WHERE email = ?", (email.strip(),))
        if user is None or not await asyncio.to_thread(verify_password, password, user["password_hash"]):
            raise Unauthenticated("wrong email or password")
        if not user["enabled"]:
            raise Unauthenticated("this user is disabled; ask an admin")

        def unit(tx: Tx) -> str:
            token = issue_token(tx, user, "session", self.ttl_s)
            tx.audit(Actor(user["id"], user["tenant_id"], user["role"]), "auth.login", "user", user["id"])
            return token

        token = await self.db.write(unit)
        actor = await self._actor(user)
        return actor, {"token": token, "user": public_user(user), "expires_in": self.ttl_s}

    async def from_token(self, token: str) -> tuple[Actor, dict[str, Any]]:
        row = await self.db.one(
            "SELECT t.id AS token_id, t.kind, t.role AS token_role, t.expires_at, t.revoked_at, u.* "
            "FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?",
            (_token_hash(token),),
        )
        now = self.clock()
        if row is None or row["revoked_at"] is not None:
            raise Unauthenticated("unknown or revoked token; log in again")
        if row["expires_at"] is not None and row["expires_at"] < now:
            raise Unauthenticated("token expired; log in again")
        if not row["enabled"]:
            raise Unauthenticated("this user is disabled; ask an admin")
        user = {k: v for k, v in row.items() if k not in ("token_id", "kind", "token_role", "expires_at", "revoked_at")}
        return (await self._actor(user, effective_role(user["role"], row["token_role"]), row["token_id"]),
                public_user(user))

    async def logout(self, actor: Actor) -> bool:
        if actor.token_id is None:
            return False

        def unit(tx: Tx) -> None:
            tx.execute("UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                       (tx.now, actor.token_id))
            tx.audit(actor, "auth.logout", "token", actor.token_id)

        await self.db.write(unit)
        return True

    async def bootstrap(self, peer_uid: int | None, tenant: str, email: str, name: str, password: str,
                        link_os_user: bool) -> dict[str, Any]:
        """Create the first tenant and its superadmin; only the daemon's own OS user, only once."""
        if peer_uid is None or peer_uid != os.getuid():
            raise Forbidden("only the OS user running zingd can bootstrap the first admin")
        check_password_rules(password)
        pw_hash = await asyncio.to_thread(hash_password, password)

        def unit(tx: Tx) -> dict[str, Any]:
            if tx.value("SELECT count(*) FROM users"):
                raise Conflict("already bootstrapped: log in with an existing admin")
            tenant_id = tx.insert("tenants", {"name": tenant, "created_at": tx.now})
            user = create_user_row(tx, tenant_id, email, name, "superadmin", pw_hash,
                                   os_uid=peer_uid if link_os_user else None)
            tx.audit(Actor(user["id"], tenant_id, "superadmin"), "auth.bootstrap", "user", user["id"])
            return public_user(user)

        return await self.db.write(unit)


def create_user_row(tx: Tx, tenant_id: int, email: str, name: str, role: str, pw_hash: str,
                    os_uid: int | None = None, max_tickets: int = 10) -> dict[str, Any]:
    """Insert a user; the password is hashed beforehand, off the writer thread."""
    if role not in ROLES:
        raise Invalid(f"role must be one of {', '.join(ROLES)}", field="role")
    email = email.strip()
    if "@" not in email:
        raise Invalid("email must look like name@example.com", field="email")
    if tx.value("SELECT 1 FROM users WHERE email = ?", (email,)):
        raise Conflict(f"a user with email {email} exists", field="email")
    uid = tx.insert("users", {
        "tenant_id": tenant_id, "email": email, "name": name or email.split("@")[0], "role": role,
        "password_hash": pw_hash, "os_uid": os_uid, "max_tickets": max_tickets,
        "created_at": tx.now, "updated_at": tx.now,
    })
    return tx.one("SELECT * FROM users WHERE id = ?", (uid,))
