"""`zingctl reports`: the hand-computed fixture of tests/integration/test_reports.py through the CLI,
as tables and charts for people and as the same rows in CSV, JSON and JSON lines for scripts."""

from __future__ import annotations

import csv
import io

import pytest

from tests.cli.conftest import Cli
from tests.integration.test_reports import PERIOD, acme  # noqa: F401 - the fixture, shared

DAYS = ("--since", "2026-03-10", "--until", "2026-03-12")  # the company's days: the fixture's period


@pytest.fixture(scope="module")
def cli(acme) -> Cli:  # noqa: F811 - the fixture
    return Cli(acme["z"].socket)


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_summary_for_people_has_the_new_figures(cli):
    out = cli("reports", *DAYS).stdout
    assert "2026-03-10 00:00 to 2026-03-12 00:00 America/Sao_Paulo" in out
    for label, value in (("avg wait (TME)", "9m 0s"), ("avg first response", "12m 0s"),
                         ("avg handling (TMA)", "1h 18m"), ("avg resolution", "1h 30m"),
                         ("reopened", "1 (33% of those closed)"), ("transfers", "3"), ("CSAT (1/2/3/4/5)", "1/0/1/0/1"),
                         ("messages in / out", "6 / 5")):
        [line] = [x for x in out.splitlines() if x.strip().startswith(label)]
        assert line.split(label, 1)[1].strip() == value, line
    for title in ("per agent", "per queue", "per number", "per tag"):
        assert title in out
    assert "Ana" in out and "Suporte" in out and "vip" in out


def test_summary_rows_are_the_same_in_csv_and_jsonl(cli):
    answer = cli.json("reports", *DAYS)
    assert (answer["since"], answer["until"]) == (PERIOD["since"], PERIOD["until"])
    lines = cli.jsonl("reports", *DAYS)
    rows = _csv(cli("reports", *DAYS, "--csv").stdout)
    assert [(r["scope"], r["name"]) for r in lines] == [(r["scope"], r["name"] or None) for r in rows] == [
        ("total", None), ("agent", "Ana"), ("agent", "Bia"), ("queue", "Suporte"), ("queue", "Vendas"),
        ("connection", "Main"), ("tag", "vip"), ("tag", "late")]
    for line, row in zip(lines, rows, strict=True):
        assert set(line) == set(row)
        assert {k: "" if v is None else str(v) for k, v in line.items()} == row
    assert lines[0] == {"scope": "total", "id": None, "name": None, **answer["total"]}
    assert rows[0]["avg_wait_s"] == "540.0" and rows[0]["tickets"] == "5"


def test_series_rows_in_every_format(cli, acme):  # noqa: F811 - the fixture
    expected = acme["sam"].call("report.series", {**PERIOD, "by": "day"})["rows"]
    assert cli.json("reports", "series", *DAYS) == expected
    assert cli.jsonl("reports", "series", *DAYS) == expected
    rows = _csv(cli("reports", "series", *DAYS, "--csv").stdout)
    assert [(r["bucket"], r["tickets"], r["messages_in"]) for r in rows] == [("2026-03-10", "2", "3"),
                                                                             ("2026-03-11", "3", "4")]
    hours = cli.json("reports", "series", "--by", "hour", "--group", "queue", *DAYS)
    assert len(hours) == 24 * 2 and {r["group_name"] for r in hours} == {"Vendas", "Suporte"}


def test_series_charts(cli):
    out = cli("reports", "series", *DAYS).stdout
    assert "2026-03-10 00:00 to 2026-03-12 00:00 America/Sao_Paulo" in out and "tickets per day" in out
    assert "03-10" in out and "03-11" in out and "█" in out  # the bars, labelled by day
    assert "\x1b[" not in out  # no colours into a pipe
    out = cli("reports", "series", "--by", "hour", "--group", "agent", "--metric", "messages_in", *DAYS).stdout
    assert "messages_in per hour of day and agent" in out
    assert "Ana" in out and "Bia" in out and "(none)" in out  # the chart's legend and the table
    assert "per hour of day and agent" in out


def test_live_view(cli):
    out = cli("reports", "live").stdout
    assert "agents" in out and "queues" in out and "numbers" in out and "Main" in out
    rows = _csv(cli("reports", "live", "--csv").stdout)
    assert {r["section"] for r in rows} == {"agent", "queue", "number"}
    assert {r["name"]: r["waiting"] for r in rows if r["section"] == "queue"} == {"Suporte": "1", "Vendas": "1"}
    assert cli.json("reports", "live")["numbers"][0]["name"] == "Main"


def test_usage_errors(cli):
    for args in (("reports", "--by", "hour"), ("reports", "live", "--since", "7d"), ("reports", "weekly"),
                 ("reports", "series", "--by", "week"), ("reports", "series", "--group", "team"),
                 ("reports", "series", "--csv", "--json"), ("reports", "series", "--metric", "nope", *DAYS)):
        result = cli(*args, code=2)
        assert "Usage" in result.stderr or "Invalid value" in result.stderr, result.stderr
