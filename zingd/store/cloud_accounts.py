"""A cloud connection's account row (``cloud_accounts``): Meta's ids for the number, its secrets,
and what Meta last said of it. The secrets leave this module only as hints."""

from __future__ import annotations

import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

from zingd.errors import Conflict, Invalid
from zingd.store.db import Tx
from zingd.store.rows import with_json

SECRETS = ("access_token", "app_secret", "verify_token")
IDS = ("phone_number_id", "business_account_id")
FIELDS = (*IDS, *SECRETS, "api_version", "base_url")  # what an admin sets (connection.create / update)
# What Meta said of the number: it belongs to one phone-number id, so a new id starts it afresh.
LEARNED = {"display_phone": "", "verified_name": "", "quality_rating": "", "messaging_limit": "", "last_notice": "{}"}
MAX_SECRET = 4096
_API_VERSION = re.compile(r"v\d{1,3}\.\d{1,2}")


def normalize(values: dict[str, Any]) -> dict[str, str]:
    """What an admin typed, as stored: trimmed, a base URL without its trailing slash."""
    out = {k: str(v).strip() for k, v in values.items() if k in FIELDS and v is not None}
    if "base_url" in out:
        out["base_url"] = out["base_url"].rstrip("/")
    return out


def _check_base_url(url: str) -> None:
    """https, or plain http only to this machine (the tests' fake Graph, a local proxy): the access
    token travels in every request."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        parts, port = None, None
    if parts is None or parts.scheme not in ("https", "http") or not parts.hostname or len(url) > 2048:
        raise Invalid("cloud.base_url must be an http(s) URL, e.g. https://graph.facebook.com", field="cloud.base_url")
    if parts.username or parts.password or parts.query or parts.fragment or port == 0:
        raise Invalid("cloud.base_url takes no user, password, query or fragment", field="cloud.base_url")
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise Invalid("cloud.base_url must use https (plain http only to 127.0.0.1 or localhost): the access token "
                      "travels in every request", field="cloud.base_url")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check(tx: Tx, tenant_id: int, account: dict[str, str], connection_id: int | None = None) -> None:
    """A whole account (a new one, or one after an update) as zing can use it; the first problem
    names its field."""
    missing = [k for k in (*IDS, *SECRETS) if not account.get(k)]
    if missing:
        raise Invalid(f"a cloud connection needs {', '.join(missing)}", field=f"cloud.{missing[0]}", missing=missing)
    for key in IDS:
        if not account[key].isdigit() or len(account[key]) > 32:
            raise Invalid(f"cloud.{key} is Meta's numeric id (digits only, as WhatsApp Manager shows it)",
                          field=f"cloud.{key}")
    for key in SECRETS:
        value = account[key]
        if len(value) > MAX_SECRET or not value.isprintable() or any(c.isspace() for c in value):
            raise Invalid(f"cloud.{key} is one line of printable characters without spaces", field=f"cloud.{key}")
    if not _API_VERSION.fullmatch(account.get("api_version", "")):
        raise Invalid("cloud.api_version is Graph's version, like v23.0", field="cloud.api_version")
    _check_base_url(account.get("base_url", ""))
    # One connection per Meta number on this zingd, and a business account in one tenant only: numbers
    # on one Meta app share its secret, so a webhook must name exactly one connection, never another
    # tenant's. Which tenant holds it is not said.
    taken = tx.value("SELECT tenant_id FROM cloud_accounts WHERE phone_number_id = ? AND connection_id IS NOT ?",
                     (account["phone_number_id"], connection_id))
    if taken is not None:
        where = "one of this tenant's numbers" if taken == tenant_id else "a number of another company on this zingd"
        raise Conflict(f"phone-number id {account['phone_number_id']} is already {where}", field="cloud.phone_number_id")
    if tx.value("SELECT 1 FROM cloud_accounts WHERE business_account_id = ? AND tenant_id != ?",
                (account["business_account_id"], tenant_id)):
        raise Conflict(f"business account {account['business_account_id']} belongs to another company on this zingd",
                       field="cloud.business_account_id")


def insert(tx: Tx, tenant_id: int, connection_id: int, account: dict[str, str]) -> None:
    tx.insert("cloud_accounts", {**account, "connection_id": connection_id, "tenant_id": tenant_id,
                                 "updated_at": tx.now})


def update(tx: Tx, connection_id: int, changes: dict[str, str]) -> None:
    """Store fields already checked (``check`` on the merged account); a new phone-number id
    forgets what Meta said of the old one."""
    if "phone_number_id" in changes:
        changes = {**LEARNED, **changes}
    sets = ", ".join(f"{k} = ?" for k in changes)
    tx.execute(f"UPDATE cloud_accounts SET {sets}, updated_at = ? WHERE connection_id = ?",
               (*changes.values(), tx.now, connection_id))


def forget_token(tx: Tx, connection_id: int) -> None:
    """connection.logout: zing no longer holds a token for the number, so nothing (not even a
    daemon restart) reaches Meta with it until an admin sets a new one."""
    tx.execute("UPDATE cloud_accounts SET access_token = '', updated_at = ? WHERE connection_id = ?",
               (tx.now, connection_id))


def hint(secret: str) -> str:
    """Enough of a secret to tell which one is set, never enough to use it."""
    return f"…{secret[-4:]}" if len(secret) >= 12 else "set" if secret else ""


def view(row: dict[str, Any] | None, health: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The account as answers show it: the secrets as hints. What Meta says of the number comes
    from the running channel's ``health`` (Graph's answer, asked again every few minutes and right
    after a quality webhook) and, where it has nothing (stopped, not connected yet), from the row
    (the last quality webhook's word)."""
    if row is None:
        return None
    hidden = (*SECRETS, "tenant_id", "connection_id")
    out = {k: v for k, v in with_json(dict(row), "last_notice").items() if k not in hidden}
    for key in ("display_phone", "verified_name", "quality_rating", "messaging_limit"):
        if health and health.get(key):
            out[key] = str(health[key])
    out.update({f"{k}_hint": hint(row[k]) for k in SECRETS})
    return out


def get(tx: Tx, connection_id: int) -> dict[str, Any] | None:
    return tx.one("SELECT * FROM cloud_accounts WHERE connection_id = ?", (connection_id,))
