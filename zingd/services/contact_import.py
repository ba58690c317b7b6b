"""Contact files in: CSV and vCard parsed into rows with E.164 numbers and per-row errors.

Parsing is pure (no database) so a dry run and a real import report the same thing. An error
names the row, the column and a short reason; a value it quotes is cut to SHOWN characters,
so a report never carries a whole file's cells back.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

import phonenumbers

from zingd.errors import Invalid

NUMBER_COLUMNS = ("number", "phone", "telefone", "numero", "número", "whatsapp", "celular", "mobile")
NAME_COLUMNS = ("name", "nome", "full_name")
MAX_ROWS = 100_000
SHOWN = 40  # characters of a cell an error may quote


def shown(value: str) -> str:
    """A cell as an error may quote it: at most SHOWN characters."""
    return repr(value if len(value) <= SHOWN else value[:SHOWN - 1] + "…")


def _valid_e164(candidate: str, region: str | None) -> str | None:
    try:
        parsed = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164).lstrip("+")


def normalize_number(raw: str, region: str = "BR") -> str:
    """E.164 digits without '+' (what WhatsApp uses in JIDs); raises Invalid with the reason.

    Read as written: first as a local number of the tenant's region ("(11) 99999-0001",
    "11999990001", "011 99999 0001"), then as an international number without '+'
    ("5511999990001" is common in exports). Bare digits can be both ('74951234567' is Bahia's
    (74) 95123-4567 and Moscow's +7 495 123-45-67): the region wins, as its people type their
    numbers without the country code. Digits that are a contact zing already has are that
    contact (``as_typed`` and ``contacts.resolve_number``), so zing's own output round-trips."""
    text = raw.strip()
    if not text:
        raise Invalid("empty number")
    if text.startswith("00"):
        text = "+" + text[2:]
    digits = "".join(ch for ch in text if ch.isdigit())
    # as written (local numbers in the tenant's region), then as a full international number
    # without '+' ("5511999990001" is common in exports)
    tries = [(text, None if text.startswith("+") else region)]
    if digits and not text.startswith("+"):
        tries.append(("+" + digits, None))
    for candidate, where in tries:
        number = _valid_e164(candidate, where)
        if number is not None:
            return number
    raise Invalid(f"not a phone number: {shown(raw)}")


def as_typed(raw: str) -> str | None:
    """The digits of a number written as bare digits (what zing stores and exports), else None."""
    text = raw.strip()
    return "".join(str(int(ch)) for ch in text) if text.isdecimal() else None


@dataclass
class Parsed:
    rows: list[dict[str, Any]] = field(default_factory=list)   # valid, merged by number
    errors: list[dict[str, Any]] = field(default_factory=list)  # {"row": n, "column": name or None, "error": "..."}
    total: int = 0
    duplicates: int = 0
    _by_number: dict[str, dict[str, Any]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_number = {row["number"]: row for row in self.rows}

    def fail(self, line: int, column: str | None, reason: str) -> None:
        self.total += 1
        self.errors.append({"row": line, "column": column, "error": reason})

    def add(self, line: int, column: str, raw_number: str, name: str, email: str, tags: list[str],
            custom: dict[str, str], region: str) -> None:
        try:
            number = normalize_number(raw_number, region)
        except Invalid as e:
            self.fail(line, column, e.message)
            return
        self.total += 1
        row = self._by_number.get(number)
        if row is not None:  # the same person twice in one file: merge, later values win
            self.duplicates += 1
            row["name"] = name or row["name"]
            row["email"] = email or row["email"]
            row["tags"] = sorted(set(row["tags"]) | set(tags))
            row["custom_fields"].update(custom)
            return
        row = {"number": number, "name": name, "email": email, "tags": tags, "custom_fields": custom}
        typed = as_typed(raw_number)
        if typed and typed != number:  # could be a contact stored under these very digits
            row["as_typed"] = typed
        self.rows.append(row)
        self._by_number[number] = row


def parse_csv(text: str, region: str) -> Parsed:
    reader = csv.DictReader(io.StringIO(text))
    try:
        return _parse_csv(reader, region)
    except csv.Error as e:  # a NUL byte, a cell past the csv module's limit: not a CSV file
        raise Invalid(f"row {reader.line_num}: not CSV ({e})") from None


def _parse_csv(reader: csv.DictReader, region: str) -> Parsed:
    if not reader.fieldnames:
        raise Invalid("the CSV has no header row; it needs at least a number column")
    header = {h: (h or "").strip().lower() for h in reader.fieldnames}
    number_col = next((h for h, low in header.items() if low in NUMBER_COLUMNS), None)
    if number_col is None:
        raise Invalid(f"no number column; name one of: {', '.join(NUMBER_COLUMNS)}")
    name_col = next((h for h, low in header.items() if low in NAME_COLUMNS), None)
    email_col = next((h for h, low in header.items() if low == "email"), None)
    tags_col = next((h for h, low in header.items() if low in ("tags", "etiquetas")), None)
    parsed = Parsed()
    for line, rec in enumerate(reader, start=2):
        if parsed.total >= MAX_ROWS:
            raise Invalid(f"at most {MAX_ROWS} rows per import; split the file")
        if None in rec:  # more cells than headers
            parsed.fail(line, None, "more cells than header columns")
            continue
        custom = {header[h]: (v or "").strip() for h, v in rec.items()
                  if h not in (number_col, name_col, email_col, tags_col) and (v or "").strip()}
        tags = [t.strip() for t in (rec.get(tags_col) or "").replace(",", ";").split(";") if t.strip()] if tags_col else []
        parsed.add(line, number_col, rec.get(number_col) or "", (rec.get(name_col) or "").strip() if name_col else "",
                   (rec.get(email_col) or "").strip() if email_col else "", tags, custom, region)
    return parsed


def parse_vcard(text: str, region: str) -> Parsed:
    parsed = Parsed()
    card: dict[str, Any] | None = None
    for line_no, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        key, _, value = line.partition(":")
        key = key.split(";")[0].upper()
        if key == "BEGIN" and value.upper() == "VCARD":
            card = {"line": line_no, "name": "", "tel": "", "email": ""}
        elif key == "END" and card is not None:
            if card["tel"]:
                parsed.add(card["line"], "TEL", card["tel"], card["name"], card["email"], [], {}, region)
            else:
                parsed.fail(card["line"], "TEL", "vCard without TEL")
            card = None
        elif card is not None:
            if key == "FN":
                card["name"] = value.strip()
            elif key == "TEL" and not card["tel"]:
                card["tel"] = value.strip()
            elif key == "EMAIL" and not card["email"]:
                card["email"] = value.strip()
    if parsed.total == 0:
        raise Invalid("no vCards found (BEGIN:VCARD ... END:VCARD)")
    return parsed
