"""A cloud connection's account: the ids, secrets and address it reaches Meta with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from zingd.store.db import Database

DEFAULT_API_VERSION = "v23.0"
DEFAULT_BASE_URL = "https://graph.facebook.com"


@dataclass(frozen=True, slots=True)
class CloudAccount:
    phone_number_id: str
    business_account_id: str
    access_token: str
    app_secret: str
    verify_token: str
    api_version: str = DEFAULT_API_VERSION
    base_url: str = DEFAULT_BASE_URL  # overridable: a proxy, or the tests' fake Graph server

    def __repr__(self) -> str:  # never the secrets, not even in a traceback's locals
        return f"CloudAccount(phone_number_id={self.phone_number_id!r}, base_url={self.base_url!r})"


FIELDS = ("phone_number_id", "business_account_id", "access_token", "app_secret", "verify_token", "api_version",
          "base_url")


async def load(db: Database, connection_id: int) -> CloudAccount | None:
    row = await db.one(f"SELECT {', '.join(FIELDS)} FROM cloud_accounts WHERE connection_id = ?", (connection_id,))
    return None if row is None else CloudAccount(**row)
