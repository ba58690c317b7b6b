"""Times in the company's time zone: the one people type them in (`schedules add --at`, `reports
--since`) and read them back in, whatever the zone of the machine zingctl runs on. Shown times say
the zone's name, so "09:00" is never a guess."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from zingctl.session import Session


@dataclass(frozen=True)
class CompanyTime:
    name: str
    zone: ZoneInfo

    def at(self, ts: float | None) -> str:
        """``2026-12-01 09:00`` in the company's zone ("" for none)."""
        return datetime.fromtimestamp(ts, self.zone).strftime("%Y-%m-%d %H:%M") if ts else ""

    def labelled(self, ts: float | None) -> str:
        """``2026-12-01 09:00 America/Sao_Paulo``."""
        return f"{self.at(ts)} {self.name}" if ts else ""


def of(session: Session) -> CompanyTime:
    """The caller's company's zone (any role may ask: it comes with ``auth.whoami``)."""
    name = session.call("auth.whoami").get("timezone") or "UTC"
    try:
        return CompanyTime(name, ZoneInfo(name))
    except (ZoneInfoNotFoundError, ValueError):
        return CompanyTime("UTC", ZoneInfo("UTC"))


def named_zone(session: Session) -> tuple[str, ZoneInfo]:
    """(name, zone) for every other table's times (``output.show_times_in``)."""
    company = of(session)
    return company.name, company.zone
