"""CSV imports: every row checked as a single create would check it, all rows written or none,
and every failing row named with its column and value."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, col, func, select

from dispatch import catalogue
from dispatch.imports import Kind, columns, import_csv
from dispatch.models import Region, ServiceRequest, Site, Technician, Triage
from schedules.errors import InvalidError, TooLargeError
from schedules.models import Coverage
from tests.factories import make_contract, make_customer, make_region, make_skill, make_technician

TECHNICIANS = "code,name,region,home_lat,home_lon,email,phone,max_work_minutes,skills\r\n"


@dataclass
class Place:
    region: Region
    customer: str
    contract: str
    site: str


@pytest.fixture
def place(session: Session) -> Place:
    """A region with the skills network and printers, and a customer with a 24x7 contract (its
    SLA clock needs no business hours) and a site there."""
    region = make_region(session)
    make_skill(session, code="network")
    make_skill(session, code="printers")
    customer = make_customer(session)
    contract = make_contract(
        session, customer=customer, coverage=Coverage.always, sla_response_hours=4
    )
    site = catalogue.create_site(
        session,
        code="IMP-SITE",
        customer_code=customer.code,
        region_code=region.code,
        name="Head office",
        address="Tverskaya ul., 1",
        lat=55.76,
        lon=37.61,
    )
    return Place(region, customer.code, contract.code, site.code)


def technicians(place: Place, *rows: str) -> str:
    return TECHNICIANS + "".join(row.format(r=place.region.code) + "\r\n" for row in rows)


def count(session: Session, model: type, *where: object) -> int:
    return session.exec(select(func.count()).select_from(model).where(*where)).one()


def failure(call: object) -> InvalidError:
    with pytest.raises(InvalidError) as caught:
        call()  # type: ignore[operator]
    return caught.value


def test_good_technicians_are_created_with_their_skills(session: Session, place: Place) -> None:
    data = technicians(
        place,
        "IMP-1,Anna,{r},55.7,37.6,anna@example.com,,480,network:3;printers:2",
        "IMP-2,Boris,{r},55.8,37.5,,+7 495 000,360,",
        "IMP-3,Vera,{r},55.9,37.4,,,,printers:5",
    )
    result = import_csv(session, kind="technicians", data=data.encode(), max_rows=10)
    assert (result.rows, result.codes, result.dry_run) == (3, ("IMP-1", "IMP-2", "IMP-3"), False)
    anna, boris, vera = (catalogue.get(session, Technician, c) for c in result.codes)
    skills = catalogue.skills_of(session, [anna.id, boris.id, vera.id])  # type: ignore[list-item]
    assert skills[anna.id] == {"network": 3, "printers": 2}
    assert skills[boris.id] == {}
    assert (boris.phone, boris.max_work_minutes) == ("+7 495 000", 360)
    # A blank cell takes the default, as an omitted field would.
    assert vera.max_work_minutes == 480


def test_every_bad_row_is_reported_and_none_is_written(session: Session, place: Place) -> None:
    """Row 2 has a latitude off the globe, row 4 a region that does not exist; rows 1 and 3
    are fine but are not written either."""
    data = technicians(
        place,
        "IMP-1,Anna,{r},55.7,37.6,,,,",
        "IMP-2,Boris,{r},95.0,37.5,,,,",
        "IMP-3,Vera,{r},55.9,37.4,,,,",
        "IMP-4,Gleb,NOWHERE,55.9,37.4,,,,",
    )
    error = failure(lambda: import_csv(session, kind=Kind.technicians, data=data, max_rows=10))
    assert [(e["row"], e["field"], e["value"]) for e in error.errors] == [
        (2, "home_lat", "95.0"),
        (4, "region", "NOWHERE"),
    ]
    assert all(e["message"] for e in error.errors)
    assert count(session, Technician, col(Technician.code).startswith("IMP-")) == 0


def test_codes_repeated_in_the_file_or_taken_in_the_database_are_row_errors(
    session: Session, place: Place
) -> None:
    make_technician(session, region=place.region, code="TAKEN")
    data = technicians(
        place,
        "IMP-1,Anna,{r},55.7,37.6,,,,",
        "TAKEN,Boris,{r},55.8,37.5,,,,",
        "IMP-1,Vera,{r},55.9,37.4,,,,",
    )
    error = failure(lambda: import_csv(session, kind=Kind.technicians, data=data, max_rows=10))
    assert [(e["row"], e["field"], e["value"]) for e in error.errors] == [
        (2, "code", "TAKEN"),
        (3, "code", "IMP-1"),
    ]
    assert "row 1" in error.errors[1]["message"]


def test_bad_skills_name_the_skills_column(session: Session, place: Place) -> None:
    data = technicians(
        place,
        "IMP-1,Anna,{r},55.7,37.6,,,,network=3",
        "IMP-2,Boris,{r},55.8,37.5,,,,network:9",
        "IMP-3,Vera,{r},55.9,37.4,,,,plumbing:2",
    )
    error = failure(lambda: import_csv(session, kind=Kind.technicians, data=data, max_rows=10))
    assert [(e["row"], e["field"]) for e in error.errors] == [
        (1, "skills"),
        (2, "skills"),
        (3, "skills"),
    ]
    assert error.errors[2]["value"] == "plumbing"


def test_a_dry_run_checks_everything_and_writes_nothing(session: Session, place: Place) -> None:
    data = technicians(place, "IMP-1,Anna,{r},55.7,37.6,,,,network:3")
    result = import_csv(session, kind="technicians", data=data, max_rows=10, dry_run=True)
    assert (result.rows, result.codes, result.dry_run) == (1, (), True)
    assert count(session, Technician, Technician.code == "IMP-1") == 0
    # The same file imports for real afterwards: nothing of the dry run is left in the way.
    assert import_csv(session, kind="technicians", data=data, max_rows=10).codes == ("IMP-1",)


def test_more_rows_than_allowed_is_too_large(session: Session, place: Place) -> None:
    data = technicians(place, *(f"IMP-{n},T,{{r}},55.7,37.6,,,," for n in range(4)))
    with pytest.raises(TooLargeError) as caught:
        import_csv(session, kind="technicians", data=data, max_rows=3)
    assert (caught.value.field, caught.value.value) == ("rows", 4)


@pytest.mark.parametrize(
    ("header", "column"),
    [
        ("code,name,region,home_lat", "home_lon"),
        ("code,name,region,home_lat,home_lon,colour", "colour"),
        ("code,name,name,region,home_lat,home_lon", "name"),
    ],
)
def test_a_header_with_a_missing_unknown_or_repeated_column_names_it(
    session: Session, header: str, column: str
) -> None:
    error = failure(
        lambda: import_csv(session, kind="technicians", data=header + "\r\n", max_rows=10)
    )
    assert error.field == column
    assert [e["field"] for e in error.errors] == [column]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (b"code,name\r\n\xff\xfe,x\r\n", "body"),
        (b"", "header"),
        (b"\r\n\r\n", "header"),
    ],
)
def test_text_that_is_not_utf8_csv_with_a_header_is_refused(
    session: Session, data: bytes, field: str
) -> None:
    error = failure(lambda: import_csv(session, kind="sites", data=data, max_rows=10))
    assert error.field == field


def test_a_header_without_rows_is_refused(session: Session) -> None:
    header = ",".join(columns(Kind.sites)[0]) + "\r\n\r\n"
    error = failure(lambda: import_csv(session, kind="sites", data=header, max_rows=10))
    assert (error.field, error.value) == ("rows", 0)


def test_sites_are_created_for_their_customer_and_region(session: Session, place: Place) -> None:
    """A byte-order mark and a blank line are fine; the blank line still counts, so row
    numbers match the file's records."""
    head = "code,customer,region,name,address,lat,lon,contact_name,contact_phone,access_notes"
    good = f'IMP-S1,{place.customer},{place.region.code},Depot,"Lenina 1, Moscow",55.7,37.6,,,'
    data = "\ufeff" + head + "\r\n" + good + "\r\n\r\n"
    assert import_csv(session, kind="sites", data=data.encode(), max_rows=5).codes == ("IMP-S1",)
    assert catalogue.get(session, Site, "IMP-S1").address == "Lenina 1, Moscow"

    bad = f"IMP-S2,NO-CUSTOMER,{place.region.code},Depot,Lenina 2,55.7,37.6,,,"
    error = failure(
        lambda: import_csv(
            session, kind="sites", data=f"{head}\r\n\r\n{bad}\r\n".encode(), max_rows=5
        )
    )
    assert [(e["row"], e["field"], e["value"]) for e in error.errors] == [
        (2, "customer", "NO-CUSTOMER")
    ]


REQUESTS = (
    "customer,contract,site,channel,urgency,contact_name,contact_phone,contact_email,"
    "description,registered_at\r\n"
)


def test_requests_are_registered_through_intake_with_their_sla_deadline(
    session: Session, place: Place
) -> None:
    at = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    data = REQUESTS + (
        f"{place.customer},{place.contract},{place.site},phone,high,Anna,,a@example.com,"
        f"Printer jams,{at.isoformat()}\r\n"
        f'{place.customer},{place.contract},{place.site},email,,Boris,,,"Switch down, '
        f'floor 2",2026-11-20T12:30:00+03:00\r\n'
    )
    result = import_csv(session, kind=Kind.requests, data=data, max_rows=5)
    assert len(result.codes) == 2
    first, second = (
        session.exec(select(ServiceRequest).where(ServiceRequest.code == code)).one()
        for code in result.codes
    )
    assert first.triage is Triage.pending
    assert first.registered_at == at
    # 4 hours around the clock.
    assert first.sla_due_at == at + timedelta(hours=4)
    assert second.urgency.value == "normal"
    assert second.description == "Switch down, floor 2"


def test_a_request_row_refused_by_intake_names_its_column(session: Session, place: Place) -> None:
    other = make_customer(session).code
    data = REQUESTS + (
        f"{place.customer},{place.contract},{place.site},fax,,Anna,,,Broken,\r\n"
        f"{place.customer},{place.contract},{place.site},phone,,Anna,,,Broken,2026-11-20 09:00\r\n"
        f"{other},{place.contract},{place.site},phone,,Anna,,,Broken,\r\n"
        f"{place.customer},NO-CONTRACT,{place.site},phone,,Anna,,,Broken,\r\n"
    )
    error = failure(lambda: import_csv(session, kind=Kind.requests, data=data, max_rows=5))
    assert [(e["row"], e["field"]) for e in error.errors] == [
        (1, "channel"),
        (2, "registered_at"),
        (3, "contract"),
        (4, "contract"),
    ]
    assert count(session, ServiceRequest) == 0


def test_values_the_database_could_not_hold_are_row_errors(session: Session, place: Place) -> None:
    """The same answer on SQLite and PostgreSQL: an hourly cost beyond an integer column, and
    a registration time whose conversion to UTC would leave the calendar."""
    head = "code,name,region,home_lat,home_lon,hourly_cost\r\n"
    data = head + f"IMP-1,Anna,{place.region.code},55.7,37.6,99999999999.00\r\n"
    error = failure(lambda: import_csv(session, kind="technicians", data=data, max_rows=5))
    assert [(e["row"], e["field"]) for e in error.errors] == [(1, "hourly_cost")]

    data = REQUESTS + (
        f"{place.customer},{place.contract},{place.site},phone,,Anna,,,Broken,"
        "0001-01-01T01:00:00+05:00\r\n"
    )
    error = failure(lambda: import_csv(session, kind=Kind.requests, data=data, max_rows=5))
    assert [(e["row"], e["field"]) for e in error.errors] == [(1, "registered_at")]


def test_an_unknown_kind_is_refused_naming_it(session: Session) -> None:
    error = failure(lambda: import_csv(session, kind="contracts", data="code\r\nX\r\n", max_rows=5))
    assert (error.field, error.value) == ("kind", "contracts")
