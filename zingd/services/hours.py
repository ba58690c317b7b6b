"""Business hours: per weekday up to two intervals, a time zone, holidays.

Spec (JSON): {"timezone": "America/Sao_Paulo",
              "days": {"mon": [["08:00", "12:00"], ["13:00", "18:00"]], ...},
              "holidays": ["2026-12-25"]}
An empty spec means always open. Days not listed are closed.
``add_business_seconds`` counts open time forward from a moment, for the service-level targets
(zingd/services/sla.py).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from zingd.errors import Invalid

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")
_YMD = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")


def _minutes(text: str) -> int:
    h, m = text.split(":")
    return int(h) * 60 + int(m)


def zone(name: Any) -> ZoneInfo:
    """The time zone called ``name``; Invalid for anything that is not one. Besides unknown names,
    ZoneInfo raises IsADirectoryError for a tz directory ('America') and OSError for a name too long
    for a file name."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        raise Invalid(f"unknown time zone {name!r} (e.g. America/Sao_Paulo)") from None


def validate(spec: dict[str, Any]) -> dict[str, Any]:
    """Return the spec if valid; else raise Invalid saying exactly what to fix."""
    if not spec:
        return {}
    unknown = set(spec) - {"timezone", "days", "holidays"}
    if unknown:
        raise Invalid(f"business hours: unknown keys {sorted(unknown)}; use timezone, days, holidays")
    tz = spec.get("timezone", "UTC")
    try:
        zone(tz)
    except Invalid:
        raise Invalid(f"business hours: unknown time zone {tz!r} (e.g. America/Sao_Paulo)") from None
    days = spec.get("days", {})
    if not isinstance(days, dict):
        raise Invalid("business hours: days must map mon..sun to intervals")
    for day, intervals in days.items():
        if day not in DAYS:
            raise Invalid(f"business hours: unknown day {day!r}; use {', '.join(DAYS)}")
        if not isinstance(intervals, list) or len(intervals) > 2:
            raise Invalid(f"business hours: {day} takes at most two [start, end] intervals")
        last_end = -1
        for iv in intervals:
            if not (isinstance(iv, list) and len(iv) == 2 and all(isinstance(t, str) and _HHMM.match(t) for t in iv)):
                raise Invalid(f"business hours: {day} interval {iv!r} must be [\"HH:MM\", \"HH:MM\"]")
            start, end = _minutes(iv[0]), _minutes(iv[1])
            if start >= end:
                raise Invalid(f"business hours: {day} interval {iv[0]}-{iv[1]} ends before it starts")
            if start < last_end:
                raise Invalid(f"business hours: {day} intervals overlap")
            last_end = end
    holidays = spec.get("holidays", [])
    if not isinstance(holidays, list):
        raise Invalid(f"business hours: holidays must be a list of YYYY-MM-DD dates, not {holidays!r}")
    for holiday in holidays:
        # Only the form is_open compares with (date.fromisoformat also reads 20261225 and 2026-W52-5).
        try:
            if not (isinstance(holiday, str) and _YMD.match(holiday)):
                raise ValueError
            date.fromisoformat(holiday)
        except ValueError:
            raise Invalid(f"business hours: holiday {holiday!r} must be YYYY-MM-DD") from None
    return spec


def is_open(spec: dict[str, Any], now: float) -> bool:
    if not spec:
        return True
    local = datetime.fromtimestamp(now, ZoneInfo(spec.get("timezone", "UTC")))
    if local.date().isoformat() in spec.get("holidays", []):
        return False
    minute = local.hour * 60 + local.minute
    return any(_minutes(a) <= minute < _minutes(b) for a, b in spec.get("days", {}).get(DAYS[local.weekday()], []))


def _wall(day: date, hhmm: str, tz: ZoneInfo) -> float:
    """Epoch seconds of a wall time of a local day ("24:00" is the next day's midnight)."""
    minutes = _minutes(hhmm)
    return datetime.combine(day + timedelta(days=minutes // 1440), time(minutes % 1440 // 60, minutes % 60),
                            tzinfo=tz).timestamp()


def add_business_seconds(spec: dict[str, Any], start: float, seconds: float) -> float | None:
    """The moment ``seconds`` of open time have passed since ``start``: the queue's intervals,
    day by day in its time zone, skipping closed days and holidays. An empty spec is always open
    (wall time); a spec with no open day at all never gets there (None).

    Wall times that daylight saving skips or repeats are read as zoneinfo reads them (the
    earlier offset), the same reading ``is_open`` makes of the local clock."""
    if not spec:
        return start + seconds
    days = spec.get("days", {})
    if not any(days.get(day) for day in DAYS):
        return None
    tz = ZoneInfo(spec.get("timezone", "UTC"))
    holidays = set(spec.get("holidays", []))
    left = max(0.0, seconds)
    day = datetime.fromtimestamp(start, tz).date() - timedelta(days=1)  # an interval may reach past midnight
    while True:  # ends: some weekday is open, and holidays are finitely many
        if day.isoformat() not in holidays:
            for a, b in days.get(DAYS[day.weekday()], []):
                opens, closes = max(start, _wall(day, a, tz)), _wall(day, b, tz)
                if opens >= closes:
                    continue
                if closes - opens >= left:
                    return opens + left
                left -= closes - opens
        day += timedelta(days=1)
