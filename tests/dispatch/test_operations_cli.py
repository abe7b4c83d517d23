"""The call centre's and the dispatcher's commands on a seeded database: each change in one
transaction, each refusal naming the option or field and writing nothing."""

from __future__ import annotations

import re

import sqlalchemy as sa

from dispatch import db
from tests.dispatch.test_plan_cli import ANCHOR, run, seeded_url  # noqa: F401 (fixture)


def scalar(url: str, sql: str) -> object:
    engine = db.make_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(sa.text(sql)).scalar()
    finally:
        engine.dispose()


def codes(url: str) -> tuple[str, str, str, str]:
    """A managed contract's customer, contract, a site of that customer, and a technician."""
    contract, customer = (
        scalar(url, "SELECT c.code FROM contract c WHERE c.kind = 'managed' ORDER BY c.id LIMIT 1"),
        scalar(
            url,
            "SELECT cu.code FROM customer cu JOIN contract c ON c.customer_id = cu.id "
            "WHERE c.kind = 'managed' ORDER BY c.id LIMIT 1",
        ),
    )
    site = scalar(
        url,
        "SELECT s.code FROM site s JOIN customer cu ON cu.id = s.customer_id "
        f"WHERE cu.code = '{customer}' ORDER BY s.id LIMIT 1",
    )
    tech = scalar(url, "SELECT code FROM technician ORDER BY id LIMIT 1")
    return customer, contract, site, tech  # type: ignore[return-value]


def test_register_escalate_assign_and_move_a_visit(seeded_url: str) -> None:  # noqa: F811
    customer, contract, site, tech = codes(seeded_url)
    registered = run(
        seeded_url, "request", "register", "--customer", customer, "--contract", contract,
        "--site", site, "--contact", "Irina", "--description", "Scanner offline",
        "--urgency", "high",
    )  # fmt: skip
    assert registered.exit_code == 0, registered.output
    request = re.search(r"(SR-\d+) registered", registered.output).group(1)  # type: ignore[union-attr]
    escalated = run(
        seeded_url, "request", "escalate", request, "--duration", "45",
        "--earliest", ANCHOR.isoformat(), "--due", ANCHOR.isoformat(),
    )  # fmt: skip
    assert escalated.exit_code == 0, escalated.output
    visit = re.search(r"(V-\d+) created", escalated.output).group(1)  # type: ignore[union-attr]
    assigned = run(
        seeded_url,
        "visit",
        "assign",
        visit,
        "--technician",
        tech,
        "--date",
        ANCHOR.isoformat(),
        "--pin",
    )
    assert assigned.exit_code == 0, assigned.output
    assert visit in assigned.output
    assert scalar(seeded_url, f"SELECT status FROM visit WHERE code = '{visit}'") == "scheduled"
    locked = run(seeded_url, "route", "lock", tech, "--date", ANCHOR.isoformat())
    assert locked.exit_code == 0, locked.output
    refused = run(seeded_url, "visit", "unassign", visit)
    assert refused.exit_code == 2
    assert "locked" in refused.output
    assert run(seeded_url, "route", "unlock", tech, "--date", ANCHOR.isoformat()).exit_code == 0
    assert run(seeded_url, "visit", "unpin", visit).exit_code == 0
    assert run(seeded_url, "visit", "unassign", visit).exit_code == 0
    assert scalar(seeded_url, f"SELECT status FROM visit WHERE code = '{visit}'") == "unscheduled"
    cancelled = run(seeded_url, "request", "cancel", request, "--reason", "fixed itself")
    assert cancelled.exit_code == 0, cancelled.output
    assert scalar(seeded_url, f"SELECT status FROM visit WHERE code = '{visit}'") == "cancelled"


def test_resolve_remotely(seeded_url: str) -> None:  # noqa: F811
    customer, contract, site, _ = codes(seeded_url)
    registered = run(
        seeded_url, "request", "register", "--customer", customer, "--contract", contract,
        "--site", site, "--contact", "Oleg", "--description", "Password reset",
    )  # fmt: skip
    request = re.search(r"(SR-\d+) registered", registered.output).group(1)  # type: ignore[union-attr]
    resolved = run(seeded_url, "request", "resolve", request, "--minutes", "12")
    assert resolved.exit_code == 0, resolved.output
    again = run(seeded_url, "request", "resolve", request, "--minutes", "12")
    assert again.exit_code == 2
    assert "triage" in again.output


def test_refusals_name_what_is_wrong_and_write_nothing(seeded_url: str) -> None:  # noqa: F811
    customer, _, site, tech = codes(seeded_url)
    before = scalar(seeded_url, "SELECT count(*) FROM service_request")
    cases = [
        (
            ["visit", "assign", "V-999999", "--technician", tech, "--date", "2026-11-30"],
            "VISIT 'V-999999' does not exist",
        ),
        (
            ["request", "escalate", "SR-000001", "--duration", "30", "--skill", "network"],
            "--skill 'network' is not CODE:LEVEL",
        ),
        (["route", "lock", tech, "--date", "30/11/2026"], "--date '30/11/2026'"),
        (
            ["request", "register", "--customer", customer, "--contract", "NOPE", "--site", site,
             "--contact", "A", "--description", "B"],
            "NOPE",
        ),
    ]  # fmt: skip
    for args, message in cases:
        result = run(seeded_url, *args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output, (args, result.output)
        assert "Traceback" not in result.output
    assert scalar(seeded_url, "SELECT count(*) FROM service_request") == before
