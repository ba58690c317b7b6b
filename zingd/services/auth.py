"""Passwords, session and API tokens, peer-uid login and first-admin bootstrap.

Tokens are random, shown once, and stored only as SHA-256 hashes. Passwords use
scrypt from the standard library.

A password login says nothing an attacker can use: an unknown email costs the
same scrypt as a known one, and failed logins are throttled per account and per
peer (``LoginThrottle``). A suspended tenant's users (below superadmin, who runs
the daemon and reactivates it) get no login of any kind.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import math
import os
import secrets
import time
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

from zingd.actor import RANK, ROLES, Actor
from zingd.errors import Conflict, Forbidden, Invalid, RateLimited, Unauthenticated
from zingd.store.db import Tx

if TYPE_CHECKING:
    from zingd.clock import Clock
    from zingd.config import RpcSettings
    from zingd.store.db import Database

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
# Checked when the email is unknown, so that answer costs the scrypt a known email's does.
_DUMMY_HASH = f"scrypt${_SCRYPT['n']}${'00' * 16}${'00' * 32}"


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


def revoke_token(tx: Tx, tenant_id: int, token_id: int, user_id: int) -> None:
    """Revoke a token; once this commits, the RPC server closes every connection using it."""
    tx.execute("UPDATE tokens SET revoked_at = ifnull(revoked_at, ?) WHERE id = ?", (tx.now, token_id))
    tx.emit(tenant_id, "token.revoked", {"token": {"id": token_id, "user_id": user_id}})


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
                role: str | None = None) -> tuple[str, int]:
    """A new token (the secret, shown once) and its row id."""
    token = ("zs_" if kind == "session" else "za_") + secrets.token_urlsafe(32)
    token_id = tx.insert("tokens", {
        "tenant_id": user["tenant_id"], "user_id": user["id"], "kind": kind, "name": name, "role": role,
        "token_hash": _token_hash(token), "created_at": tx.now,
        "expires_at": tx.now + ttl_s if ttl_s is not None else None,
    })
    return token, token_id


_TOKEN_COLUMNS = ("token_id", "kind", "token_role", "expires_at", "revoked_at", "tenant_name", "tenant_status")


def _suspended_error(tenant_name: str, tenant_id: int) -> Forbidden:
    return Forbidden(f"tenant {tenant_name} is suspended: its users can't log in until it is reactivated",
                     reason="tenant_suspended", tenant_id=tenant_id)


class LoginThrottle:
    """Login tries per key (an account, a peer) as token buckets: ``capacity`` tries refilling
    evenly over ``window_s``. A try is taken before the password is checked (so concurrent guesses
    can't all slip through) and handed back when it succeeds; an empty bucket refuses every try, the
    right password too. In memory: a restart starts every count afresh."""

    PRUNE_AT = 4096  # keys kept before full (idle) buckets are forgotten

    def __init__(self, capacity: int, window_s: float) -> None:
        self.capacity, self.rate = float(capacity), capacity / window_s
        self._buckets: dict[Hashable, tuple[float, float]] = {}  # key -> (tries left, counted at)

    def _left(self, key: Hashable, now: float) -> float:
        left, at = self._buckets.get(key, (self.capacity, now))
        return min(self.capacity, left + (now - at) * self.rate)

    def wait(self, key: Hashable) -> float:
        """Seconds until ``key`` has a try again (0: it has one now)."""
        left = self._left(key, time.monotonic())
        return 0.0 if left >= 1 else (1 - left) / self.rate

    def take(self, key: Hashable) -> None:
        now = time.monotonic()
        self._buckets[key] = (self._left(key, now) - 1, now)
        if len(self._buckets) > self.PRUNE_AT:
            self._buckets = {k: v for k, v in self._buckets.items() if self._left(k, now) < self.capacity}

    def give_back(self, key: Hashable) -> None:
        now = time.monotonic()
        self._buckets[key] = (min(self.capacity, self._left(key, now) + 1), now)

    def reset(self, key: Hashable) -> None:
        self._buckets.pop(key, None)


class Auth:
    def __init__(self, db: Database, clock: Clock, settings: RpcSettings) -> None:
        self.db, self.clock, self.settings = db, clock, settings
        self.accounts = LoginThrottle(settings.login_account_failures, settings.login_window_s)
        self.peers = LoginThrottle(settings.login_peer_failures, settings.login_window_s)

    @property
    def ttl_s(self) -> float:
        return self.settings.session_ttl_hours * 3600.0

    async def _actor(self, user: dict[str, Any], role: str | None = None, token_id: int | None = None) -> Actor:
        queues = await self.db.all("SELECT queue_id FROM queue_members WHERE user_id = ?", (user["id"],))
        return Actor(user["id"], user["tenant_id"], role or user["role"], user["name"], token_id,
                     frozenset(q["queue_id"] for q in queues))

    async def suspended(self, tenant_id: int, role: str) -> str | None:
        """The tenant's name if it is suspended for this role (a superadmin is never held out)."""
        if role == "superadmin":
            return None
        row = await self.db.one("SELECT name, status FROM tenants WHERE id = ?", (tenant_id,))
        return row["name"] if row is not None and row["status"] == "suspended" else None

    async def reload(self, actor: Actor) -> Actor | None:
        """The same login with fresh role and queues (None if the user was disabled or the tenant suspended)."""
        user = await self.db.one("SELECT * FROM users WHERE id = ? AND enabled = 1", (actor.user_id,))
        if user is None:
            return None
        token_role = None
        if actor.token_id is not None:
            token_role = await self.db.value("SELECT role FROM tokens WHERE id = ?", (actor.token_id,))
        role = effective_role(user["role"], token_role)
        if await self.suspended(user["tenant_id"], role) is not None:
            return None
        return await self._actor(user, role, actor.token_id)

    async def actor_for_uid(self, uid: int | None) -> Actor | None:
        """Peer-uid login: an OS user linked to an enabled zing user of an active tenant needs no password."""
        if uid is None:
            return None
        user = await self.db.one("SELECT * FROM users WHERE os_uid = ? AND enabled = 1", (uid,))
        if user is None or await self.suspended(user["tenant_id"], user["role"]) is not None:
            return None
        return await self._actor(user)

    def _throttle(self, account: str, peer: Hashable) -> None:
        """Take a try from the account's and the peer's buckets, or refuse while either is empty."""
        wait = max(self.accounts.wait(account), self.peers.wait(peer))
        if wait > 0:
            retry_after = math.ceil(wait * 10) / 10
            raise RateLimited(f"too many failed logins; try again in {retry_after:g} s", retry_after=retry_after)
        self.accounts.take(account)
        self.peers.take(peer)

    async def login(self, email: str, password: str, peer_uid: int | None) -> tuple[Actor, dict[str, Any]]:
        """A session for email and password; throttled, and as slow for an unknown email as for a known one."""
        email = email.strip()
        account, peer = email.lower(), ("uid", peer_uid)  # emails compare without case (NOCASE)
        self._throttle(account, peer)
        user = await self.db.one("SELECT * FROM users WHERE email = ?", (email,))
        stored = user["password_hash"] if user is not None else _DUMMY_HASH
        if not await asyncio.to_thread(verify_password, password, stored) or user is None:
            raise Unauthenticated("wrong email or password")
        self.accounts.reset(account)
        self.peers.give_back(peer)  # not a reset: one's own good login must not buy a guesser more tries
        if not user["enabled"]:
            raise Unauthenticated("this user is disabled; ask an admin")
        if (tenant := await self.suspended(user["tenant_id"], user["role"])) is not None:
            raise _suspended_error(tenant, user["tenant_id"])

        def unit(tx: Tx) -> tuple[str, int]:
            issued = issue_token(tx, user, "session", self.ttl_s)
            tx.audit(Actor(user["id"], user["tenant_id"], user["role"]), "auth.login", "user", user["id"])
            return issued

        token, token_id = await self.db.write(unit)
        # the connection acts with the session it was given, so auth.logout revokes it and
        # revoking it elsewhere (token.revoke, another connection's logout) closes this one
        actor = await self._actor(user, token_id=token_id)
        return actor, {"token": token, "user": public_user(user), "expires_in": self.ttl_s}

    async def from_token(self, token: str, kind: str | None = None) -> tuple[Actor, dict[str, Any]]:
        """The actor a token stands for; with ``kind``, only a token of that kind (HTTP takes API tokens)."""
        row = await self.db.one(
            "SELECT t.id AS token_id, t.kind, t.role AS token_role, t.expires_at, t.revoked_at, "
            "n.name AS tenant_name, n.status AS tenant_status, u.* FROM tokens t "
            "JOIN users u ON u.id = t.user_id JOIN tenants n ON n.id = u.tenant_id WHERE t.token_hash = ?",
            (_token_hash(token),),
        )
        now = self.clock()
        if row is None or row["revoked_at"] is not None:
            raise Unauthenticated("unknown or revoked token; log in again")
        if row["expires_at"] is not None and row["expires_at"] < now:
            raise Unauthenticated("token expired; log in again")
        if not row["enabled"]:
            raise Unauthenticated("this user is disabled; ask an admin")
        if kind is not None and row["kind"] != kind:
            raise Unauthenticated(f"a {row['kind']} token is not accepted here; send an {kind} token "
                                  "(zingctl tokens create)")
        user = {k: v for k, v in row.items() if k not in _TOKEN_COLUMNS}
        role = effective_role(user["role"], row["token_role"])
        if row["tenant_status"] == "suspended" and role != "superadmin":
            raise _suspended_error(row["tenant_name"], user["tenant_id"])
        return await self._actor(user, role, row["token_id"]), public_user(user)

    async def logout(self, actor: Actor) -> bool:
        """Revoke the token this login used: every connection using it closes, as for ``token.revoke``."""
        if actor.token_id is None:
            return False

        def unit(tx: Tx) -> None:
            revoke_token(tx, actor.tenant_id, actor.token_id, actor.user_id)
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
    # Emails are login names, unique across the daemon: the answer is the same whichever tenant
    # holds the address, and names neither the tenant nor the user.
    if tx.value("SELECT 1 FROM users WHERE email = ?", (email,)):
        raise Conflict(f"email {email} is already in use on this zingd; choose another", field="email")
    uid = tx.insert("users", {
        "tenant_id": tenant_id, "email": email, "name": name or email.split("@")[0], "role": role,
        "password_hash": pw_hash, "os_uid": os_uid, "max_tickets": max_tickets,
        "created_at": tx.now, "updated_at": tx.now,
    })
    return tx.one("SELECT * FROM users WHERE id = ?", (uid,))
