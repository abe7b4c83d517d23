"""Intake registers requests (geocoding new sites), resolves them remotely, escalates them to
visits and cancels them, refusing bad input before writing anything."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from dispatch import geocoding, inputs, intake
from dispatch.geocoding import NominatimGeocoder
from dispatch.intake import NewSite
from dispatch.models import (
    BusinessHours,
    Contract,
    Customer,
    Holiday,
    QuotaEntry,
    Region,
    ServiceRequest,
    Site,
    Triage,
    Visit,
    VisitSkill,
    VisitStatus,
    VisitTimeWindow,
)
from dispatch.settings import Settings
from schedules import service
from schedules.errors import ConflictError, InvalidError, UnavailableError
from schedules.models import ContractKind, EntryKind, QuotaPeriod
from tests.factories import (
    make_contract,
    make_customer,
    make_region,
    make_request,
    make_site,
    make_skill,
    make_technician,
    make_visit,
)

MOSCOW = ZoneInfo("Europe/Moscow")
FRIDAY_EVENING = datetime(2026, 11, 20, 18, 30, tzinfo=MOSCOW)
MONDAY = date(2026, 11, 23)
KNOWN_ADDRESS = "Tverskaya ul., 7, Moscow"
FOUND = {"lat": "55.75", "lon": "37.61", "display_name": "7, Tverskaya Street, Moscow, Russia"}


# A stand-in for Nominatim's /search endpoint on a local port.


class _Nominatim(BaseHTTPRequestHandler):
    server: _NominatimServer

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        params = {key: values[0] for key, values in parse_qs(url.query).items()}
        self.server.queries.append((url.path, params))
        address = params.get("q", "")
        if url.path != "/search" or address == "fail":
            self._reply(500, {"error": "internal error"})
        elif address == "hang":
            self.server.release.wait(10)
        else:
            self._reply(200, [FOUND] if address == KNOWN_ADDRESS else [])

    def _reply(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        """Quiet: the test output is not the place for an access log."""


class _NominatimServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Nominatim)
        self.queries: list[tuple[str, dict[str, str]]] = []
        self.release = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture(scope="module")
def nominatim() -> Iterator[_NominatimServer]:
    server = _NominatimServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy configured in the environment must not intercept calls to local servers."""
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")


@pytest.fixture
def geocoder(nominatim: _NominatimServer) -> NominatimGeocoder:
    nominatim.queries.clear()
    return NominatimGeocoder(nominatim.url, timeout_seconds=0.5)


# Helpers


def _business_hours(session: Session, region: Region) -> None:
    """Monday to Friday, 09:00-18:00 local time."""
    for weekday in range(5):
        session.add(
            BusinessHours.model_validate(
                {
                    "region_id": region.id,
                    "weekday": weekday,
                    "opens_minute": 9 * 60,
                    "closes_minute": 18 * 60,
                }
            )
        )
    session.flush()


def _setting(session: Session, **contract: Any) -> tuple[Region, Site, Contract]:
    """A Moscow region with business hours, a customer's site there and a managed contract
    (8-hour business-hours SLA unless overridden)."""
    region = make_region(session, timezone="Europe/Moscow")
    _business_hours(session, region)
    customer = make_customer(session)
    site = make_site(session, customer=customer, region=region)
    return region, site, make_contract(session, customer=customer, **contract)


def _register(session: Session, site: Site, contract: Contract, **overrides: Any) -> ServiceRequest:
    """A request at ``site`` by its customer under ``contract``, Friday evening in Moscow."""
    values: dict[str, Any] = {
        "customer_code": session.get_one(Customer, site.customer_id).code,
        "contract_code": contract.code,
        "site_code": site.code,
        "channel": "phone",
        "contact_name": "Anna Smirnova",
        "description": "Printer jams on every job",
        "registered_at": FRIDAY_EVENING,
    } | overrides
    return intake.register_request(session, **values)


def _count(session: Session, model: Any, *where: Any) -> int:
    return session.exec(select(sa.func.count()).select_from(model).where(*where)).one()


def _no_contract_sla() -> dict[str, Any]:
    """Overrides turning the factory's managed contract into time and materials, without SLA."""
    return {
        "kind": ContractKind.time_and_materials,
        "sla_response_hours": None,
        "quota_period": None,
        "quota_hours": None,
        "quota_onsite_days": None,
    }


# Registering


def test_register_at_an_existing_site_starts_the_sla_clock_at_the_next_opening(
    session: Session,
) -> None:
    """Friday 18:30 is after hours: 8 business hours run Monday 09:00-17:00."""
    _, site, contract = _setting(session)
    request = _register(session, site, contract, urgency="high")
    assert request.id is not None
    assert request.code.startswith("SR-")
    assert (request.site_id, request.contract_id) == (site.id, contract.id)
    assert request.triage is Triage.pending
    assert request.registered_at == FRIDAY_EVENING
    assert request.sla_due_at == datetime(2026, 11, 23, 17, 0, tzinfo=MOSCOW)


def test_request_codes_continue_after_the_highest(session: Session) -> None:
    _, site, contract = _setting(session)
    make_request(session, site=site, contract=contract, code="SR-900041")
    make_request(session, site=site, contract=contract, code="SR-0900040")
    make_request(session, site=site, contract=contract, code="SR-999999X")
    assert _register(session, site, contract).code == "SR-900042"
    assert _register(session, site, contract).code == "SR-900043"


def test_a_contract_without_sla_leaves_no_deadline(session: Session) -> None:
    _, site, contract = _setting(session, **_no_contract_sla())
    assert _register(session, site, contract).sla_due_at is None


def test_business_hours_sla_in_a_region_without_business_hours_is_refused(
    session: Session,
) -> None:
    customer = make_customer(session)
    site = make_site(session, customer=customer, region=make_region(session))
    contract = make_contract(session, customer=customer)
    with pytest.raises(InvalidError, match="cannot run") as caught:
        _register(session, site, contract)
    assert caught.value.field == "region"


def test_contract_of_another_customer_is_refused(session: Session) -> None:
    _, site, _ = _setting(session)
    foreign = make_contract(session)
    with pytest.raises(InvalidError) as caught:
        _register(session, site, foreign)
    assert (caught.value.field, caught.value.value) == ("contract_code", foreign.code)
    assert _count(session, ServiceRequest, ServiceRequest.site_id == site.id) == 0


@pytest.mark.parametrize(
    "validity",
    [
        {"valid_from": date(2025, 1, 1), "valid_to": date(2026, 11, 19)},
        {"valid_from": date(2026, 11, 21)},
    ],
    ids=["expired", "not-yet-valid"],
)
def test_contract_not_valid_on_the_registration_day_is_refused(
    session: Session, validity: dict[str, date]
) -> None:
    _, site, contract = _setting(session, **validity)
    with pytest.raises(InvalidError, match="not valid on 2026-11-20") as caught:
        _register(session, site, contract)
    assert caught.value.field == "contract_code"
    assert _count(session, ServiceRequest, ServiceRequest.site_id == site.id) == 0


def test_site_of_another_customer_is_refused(session: Session) -> None:
    region, site, contract = _setting(session)
    other = make_site(session, region=region)
    with pytest.raises(InvalidError) as caught:
        _register(session, site, contract, site_code=other.code)
    assert (caught.value.field, caught.value.value) == ("site_code", other.code)


@pytest.mark.parametrize(
    ("override", "error", "field"),
    [
        ({"customer_code": "C-nobody"}, InvalidError, "customer_code"),
        ({"contract_code": "CT-nothing"}, InvalidError, "contract_code"),
        ({"site_code": "S-nowhere"}, InvalidError, "site_code"),
        ({"channel": "pigeon"}, InvalidError, "channel"),
        ({"urgency": "whenever"}, InvalidError, "urgency"),
        ({"contact_name": "  "}, InvalidError, "contact_name"),
        ({"contact_phone": "9" * 40}, InvalidError, "contact_phone"),
        ({"registered_at": datetime(2026, 11, 20, 18, 30)}, InvalidError, "registered_at"),  # noqa: DTZ001
        ({"site_code": None}, InvalidError, "site_code"),
    ],
)
def test_bad_input_is_named_and_nothing_is_written(
    session: Session, override: dict[str, Any], error: type[Exception], field: str
) -> None:
    _, site, contract = _setting(session)
    with pytest.raises(error) as caught:
        _register(session, site, contract, **override)
    assert caught.value.field == field  # type: ignore[attr-defined]
    assert _count(session, ServiceRequest, ServiceRequest.site_id == site.id) == 0


# New sites and geocoding


def _new_site(region: Region, address: str = KNOWN_ADDRESS, **overrides: Any) -> NewSite:
    return NewSite(name="Branch office", address=address, region_code=region.code, **overrides)


def test_new_site_given_by_address_is_geocoded(
    session: Session, geocoder: NominatimGeocoder, nominatim: _NominatimServer
) -> None:
    region, site, contract = _setting(session)
    request = _register(
        session, site, contract, site_code=None, new_site=_new_site(region), geocoder=geocoder
    )
    created = session.get_one(Site, request.site_id)
    assert created.id != site.id
    assert (created.lat, created.lon) == (55.75, 37.61)
    assert (created.customer_id, created.region_id) == (site.customer_id, region.id)
    assert (created.name, created.address) == ("Branch office", KNOWN_ADDRESS)
    assert created.code.startswith("S-")
    assert request.sla_due_at == datetime(2026, 11, 23, 17, 0, tzinfo=MOSCOW)
    path, params = nominatim.queries[-1]
    assert (path, params["q"], params["format"]) == ("/search", KNOWN_ADDRESS, "json")


def test_new_site_with_coordinates_needs_no_geocoder(session: Session) -> None:
    region, site, contract = _setting(session)
    new_site = _new_site(region, "Anywhere 1", lat=59.93, lon=30.31)
    request = _register(session, site, contract, site_code=None, new_site=new_site)
    created = session.get_one(Site, request.site_id)
    assert (created.lat, created.lon) == (59.93, 30.31)


@pytest.mark.parametrize(
    ("overrides", "error", "field"),
    [
        ({"region_code": "R-nowhere"}, InvalidError, "region_code"),
        ({"lat": 55.75}, InvalidError, "lon"),
        ({"lat": 95.0, "lon": 37.6}, InvalidError, "lat"),
        ({"lat": 0.0, "lon": 0.0}, InvalidError, "lat"),
        ({"name": " "}, InvalidError, "name"),
    ],
)
def test_bad_new_site_is_refused_before_geocoding(
    session: Session,
    geocoder: NominatimGeocoder,
    nominatim: _NominatimServer,
    overrides: dict[str, Any],
    error: type[Exception],
    field: str,
) -> None:
    region, site, contract = _setting(session)
    new_site = NewSite(
        **{"name": "Branch", "address": KNOWN_ADDRESS, "region_code": region.code} | overrides
    )
    with pytest.raises(error) as caught:
        _register(session, site, contract, site_code=None, new_site=new_site, geocoder=geocoder)
    assert caught.value.field == field  # type: ignore[attr-defined]
    assert nominatim.queries == []
    assert _count(session, Site, Site.customer_id == site.customer_id) == 1


def test_address_the_geocoder_does_not_know_is_refused(
    session: Session, geocoder: NominatimGeocoder
) -> None:
    region, site, contract = _setting(session)
    with pytest.raises(InvalidError, match="could not be geocoded") as caught:
        _register(
            session,
            site,
            contract,
            site_code=None,
            new_site=_new_site(region, "Nowhere lane 0"),
            geocoder=geocoder,
        )
    assert (caught.value.field, caught.value.value) == ("address", "Nowhere lane 0")
    assert _count(session, Site, Site.region_id == region.id) == 1
    assert _count(session, ServiceRequest, ServiceRequest.customer_id == site.customer_id) == 0


@pytest.mark.parametrize("address", ["fail", "hang"], ids=["server-error", "timeout"])
def test_failing_geocoder_is_unavailable(
    session: Session, geocoder: NominatimGeocoder, address: str
) -> None:
    region, site, contract = _setting(session)
    with pytest.raises(UnavailableError):
        _register(
            session,
            site,
            contract,
            site_code=None,
            new_site=_new_site(region, address),
            geocoder=geocoder,
        )
    assert _count(session, Site, Site.region_id == region.id) == 1


def test_unreachable_geocoder_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port once the probe is closed.
    with pytest.raises(UnavailableError) as caught:
        NominatimGeocoder(f"http://127.0.0.1:{port}", timeout_seconds=0.5).locate(KNOWN_ADDRESS)
    assert caught.value.field == "geocoder_url"


def test_without_geocoder_an_address_only_site_is_a_clear_error(session: Session) -> None:
    region, site, contract = _setting(session)
    with pytest.raises(InvalidError, match="geocoding is off") as caught:
        _register(session, site, contract, site_code=None, new_site=_new_site(region))
    assert (caught.value.field, caught.value.value) == ("address", KNOWN_ADDRESS)
    assert _count(session, Site, Site.region_id == region.id) == 1


def test_geocoder_comes_from_settings(nominatim: _NominatimServer) -> None:
    assert geocoding.from_settings(Settings(_env_file=None)) is None
    built = geocoding.from_settings(
        Settings(_env_file=None, geocoder_url=nominatim.url + "/", geocoder_timeout_seconds=1)
    )
    assert isinstance(built, NominatimGeocoder)
    assert built.url == nominatim.url


def test_geocoder_url_must_be_an_http_url() -> None:
    with pytest.raises(ValueError, match="geocoder_url"):
        Settings(_env_file=None, geocoder_url="ftp://example.org")


# Resolving remotely


def test_remote_resolution_is_drawn_from_a_quota_that_counts_it(session: Session) -> None:
    _, site, contract = _setting(session, include_remote=True)
    request = _register(session, site, contract)
    at = datetime(2026, 11, 23, 6, 20, tzinfo=UTC)
    resolved = intake.resolve_remotely(session, request, minutes=15, at=at)
    assert (resolved.triage, resolved.resolved_at, resolved.remote_minutes) == (
        Triage.resolved_remotely,
        at,
        15,
    )
    entries = session.exec(select(QuotaEntry).where(QuotaEntry.request_id == request.id)).all()
    assert [(e.kind, e.minutes, e.occurred_at, e.contract_id) for e in entries] == [
        (EntryKind.remote, 15, at, contract.id)
    ]


def test_remote_resolution_outside_the_quota_writes_no_ledger_line(session: Session) -> None:
    _, site, contract = _setting(session, include_remote=False)
    request = _register(session, site, contract)
    intake.resolve_remotely(session, request, minutes=15, at=FRIDAY_EVENING)
    assert request.triage is Triage.resolved_remotely
    assert _count(session, QuotaEntry, QuotaEntry.request_id == request.id) == 0


def test_resolving_twice_is_a_conflict(session: Session) -> None:
    _, site, contract = _setting(session, include_remote=True)
    request = _register(session, site, contract)
    intake.resolve_remotely(session, request, minutes=15, at=FRIDAY_EVENING)
    with pytest.raises(ConflictError) as caught:
        intake.resolve_remotely(session, request, minutes=5, at=FRIDAY_EVENING)
    assert (caught.value.field, caught.value.value) == ("triage", "resolved_remotely")
    assert _count(session, QuotaEntry, QuotaEntry.request_id == request.id) == 1


@pytest.mark.parametrize(
    ("minutes", "at", "field"),
    [
        (0, FRIDAY_EVENING, "minutes"),
        (15, FRIDAY_EVENING - timedelta(minutes=1), "at"),
        (15, datetime(2026, 11, 21, 10, 0), "at"),  # noqa: DTZ001
    ],
)
def test_bad_resolution_is_refused_and_leaves_the_request_pending(
    session: Session, minutes: int, at: datetime, field: str
) -> None:
    _, site, contract = _setting(session, include_remote=True)
    request = _register(session, site, contract)
    with pytest.raises(InvalidError) as caught:
        intake.resolve_remotely(session, request, minutes=minutes, at=at)
    assert caught.value.field == field
    session.refresh(request)
    assert (request.triage, request.resolved_at) == (Triage.pending, None)


# Escalating


def test_escalation_takes_its_due_date_from_the_sla_clock(session: Session) -> None:
    """Registered Friday evening, due Monday 17:00: the visit may be done from Friday until
    Monday; gold, normal urgency and 70.5 hours of slack give priority 1 + 10 + 10 + 4."""
    _, site, contract = _setting(session)
    network, printers = make_skill(session), make_skill(session)
    request = _register(session, site, contract)
    window = (
        datetime(2026, 11, 23, 9, 0, tzinfo=MOSCOW),
        datetime(2026, 11, 23, 13, 0, tzinfo=MOSCOW),
    )
    visit = intake.escalate(
        session,
        request,
        duration_minutes=90,
        skills={network.code: 3, printers.code: 1},
        windows=[window],
        notes="Bring a spare fuser",
    )
    assert visit.code.startswith("V-")
    assert (visit.earliest_date, visit.due_date) == (date(2026, 11, 20), MONDAY)
    assert (visit.status, visit.duration_minutes, visit.priority) == (
        VisitStatus.unscheduled,
        90,
        25,
    )
    assert visit.notes == "Bring a spare fuser"
    assert request.triage is Triage.escalated
    needs = session.exec(select(VisitSkill).where(VisitSkill.visit_id == visit.id)).all()
    assert {(n.skill_id, n.min_level) for n in needs} == {(network.id, 3), (printers.id, 1)}
    windows = session.exec(
        select(VisitTimeWindow).where(VisitTimeWindow.visit_id == visit.id)
    ).all()
    assert [(w.starts_at, w.ends_at) for w in windows] == [window]


def test_without_sla_a_visit_is_due_five_working_days_later(session: Session) -> None:
    """From Friday 20 November: Tuesday to Friday, then Monday 30 (Monday 23 is a holiday)."""
    region, site, contract = _setting(session, **_no_contract_sla())
    session.add(Holiday.model_validate({"region_id": region.id, "day": MONDAY, "name": "Day off"}))
    request = _register(session, site, contract)
    visit = intake.escalate(session, request, duration_minutes=60, skills={})
    assert (visit.earliest_date, visit.due_date) == (date(2026, 11, 20), date(2026, 11, 30))
    assert visit.priority == 1 + 10 + 10  # gold, normal urgency, no SLA slack


def test_a_request_may_get_several_visits(session: Session) -> None:
    _, site, contract = _setting(session)
    request = _register(session, site, contract)
    first = intake.escalate(session, request, duration_minutes=60, skills={})
    second = intake.escalate(
        session,
        request,
        duration_minutes=30,
        skills={},
        earliest_date=date(2026, 11, 24),
    )
    assert first.code != second.code
    # The SLA day has passed for the follow-up; it is still due, from its earliest day.
    assert (second.earliest_date, second.due_date) == (date(2026, 11, 24), date(2026, 11, 24))
    assert _count(session, Visit, Visit.request_id == request.id) == 2


def test_visit_codes_continue_after_the_highest(session: Session) -> None:
    _, site, contract = _setting(session)
    make_visit(
        session, request=make_request(session, site=site, contract=contract), code="V-700007"
    )
    request = _register(session, site, contract)
    assert intake.escalate(session, request, duration_minutes=60, skills={}).code == "V-700008"


def test_unknown_skill_is_refused_by_name(session: Session) -> None:
    _, site, contract = _setting(session)
    known = make_skill(session)
    request = _register(session, site, contract)
    with pytest.raises(InvalidError) as caught:
        intake.escalate(
            session, request, duration_minutes=60, skills={known.code: 2, "telepathy": 1}
        )
    assert (caught.value.field, caught.value.value) == ("skills", "telepathy")
    assert _count(session, Visit, Visit.request_id == request.id) == 0


_MON_9 = datetime(2026, 11, 23, 9, 0, tzinfo=MOSCOW)


@pytest.mark.parametrize(
    "windows",
    [
        [(_MON_9.replace(tzinfo=None), _MON_9.replace(hour=12, tzinfo=None))],
        [(_MON_9, _MON_9)],
        [
            (_MON_9, _MON_9 + timedelta(hours=3)),
            (_MON_9 + timedelta(hours=2), _MON_9.replace(hour=14)),
        ],
        [(_MON_9 + timedelta(days=1), _MON_9 + timedelta(days=1, hours=2))],
        [
            (
                datetime(2026, 11, 19, 23, 0, tzinfo=MOSCOW),
                datetime(2026, 11, 20, 2, 0, tzinfo=MOSCOW),
            )
        ],
    ],
    ids=["naive", "empty", "overlapping", "after-due", "before-earliest"],
)
def test_bad_window_after_valid_skills_writes_nothing(
    session: Session, windows: list[tuple[datetime, datetime]]
) -> None:
    _, site, contract = _setting(session)
    skill = make_skill(session)
    request = _register(session, site, contract)
    with pytest.raises(InvalidError) as caught:
        intake.escalate(
            session, request, duration_minutes=60, skills={skill.code: 2}, windows=windows
        )
    assert caught.value.field == "windows"
    assert _count(session, Visit, Visit.request_id == request.id) == 0
    assert _count(session, VisitSkill, VisitSkill.skill_id == skill.id) == 0
    session.refresh(request)
    assert request.triage is Triage.pending


def test_windows_may_come_in_any_order_and_touch(session: Session) -> None:
    _, site, contract = _setting(session)
    request = _register(session, site, contract)
    later = (_MON_9 + timedelta(hours=3), _MON_9 + timedelta(hours=5))
    earlier = (_MON_9, _MON_9 + timedelta(hours=3))
    visit = intake.escalate(
        session, request, duration_minutes=60, skills={}, windows=[later, earlier]
    )
    stored = session.exec(
        select(VisitTimeWindow)
        .where(VisitTimeWindow.visit_id == visit.id)
        .order_by(VisitTimeWindow.starts_at)
    ).all()
    assert [(w.starts_at, w.ends_at) for w in stored] == [earlier, later]


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"due_date": date(2026, 11, 19)}, "due_date"),
        ({"earliest_date": date(2026, 11, 24), "due_date": date(2026, 11, 23)}, "due_date"),
        ({"earliest_date": date(2026, 11, 19)}, "earliest_date"),
        ({"duration_minutes": 0}, "duration_minutes"),
        ({"skills": {"x": 1}}, "skills"),
    ],
)
def test_bad_dates_and_durations_are_refused(
    session: Session, override: dict[str, Any], field: str
) -> None:
    _, site, contract = _setting(session)
    request = _register(session, site, contract)
    values: dict[str, Any] = {"duration_minutes": 60, "skills": {}} | override
    with pytest.raises(InvalidError) as caught:
        intake.escalate(session, request, **values)
    assert caught.value.field == field
    assert _count(session, Visit, Visit.request_id == request.id) == 0


def test_skill_level_outside_one_to_five_is_refused(session: Session) -> None:
    _, site, contract = _setting(session)
    skill = make_skill(session)
    request = _register(session, site, contract)
    with pytest.raises(InvalidError) as caught:
        intake.escalate(session, request, duration_minutes=60, skills={skill.code: 6})
    assert (caught.value.field, caught.value.value) == (f"skills.{skill.code}", 6)


def test_resolved_or_cancelled_requests_are_not_escalated(session: Session) -> None:
    _, site, contract = _setting(session)
    request = _register(session, site, contract)
    intake.resolve_remotely(session, request, minutes=10, at=FRIDAY_EVENING)
    with pytest.raises(ConflictError) as caught:
        intake.escalate(session, request, duration_minutes=60, skills={})
    assert caught.value.field == "triage"


# Cancelling


def test_cancelling_cancels_visits_not_yet_under_way_and_gives_back_their_quota(
    session: Session,
) -> None:
    _, site, contract = _setting(session, quota_period=QuotaPeriod.month)
    request = _register(session, site, contract)
    waiting = intake.escalate(session, request, duration_minutes=60, skills={})
    planned = intake.escalate(session, request, duration_minutes=60, skills={})
    planned.status, planned.technician_id = VisitStatus.scheduled, make_technician(session).id
    service.append(
        session,
        QuotaEntry(
            contract_id=contract.id,
            kind=EntryKind.planned,
            minutes=60,
            occurred_at=datetime(2026, 11, 23, 7, 0, tzinfo=UTC),
            onsite_day=MONDAY,
            visit_id=planned.id,
        ),
    )

    intake.cancel_request(session, request, "Customer fixed it themselves")

    assert request.triage is Triage.cancelled
    for visit in (waiting, planned):
        session.refresh(visit)
        assert visit.status is VisitStatus.cancelled
        assert visit.notes == "Cancelled: Customer fixed it themselves"
    held = session.exec(
        select(sa.func.sum(QuotaEntry.minutes)).where(QuotaEntry.visit_id == planned.id)
    ).one()
    assert held == 0


def test_cancelling_with_a_technician_on_site_is_a_conflict(session: Session) -> None:
    _, site, contract = _setting(session)
    request = _register(session, site, contract)
    waiting = intake.escalate(session, request, duration_minutes=60, skills={})
    busy = intake.escalate(session, request, duration_minutes=60, skills={})
    busy.status, busy.technician_id = VisitStatus.on_site, make_technician(session).id
    session.flush()
    with pytest.raises(ConflictError) as caught:
        intake.cancel_request(session, request, "No longer needed")
    assert (caught.value.field, caught.value.value) == ("visit", busy.code)
    session.refresh(waiting)
    assert (request.triage, waiting.status) == (Triage.escalated, VisitStatus.unscheduled)


def test_a_resolved_request_cannot_be_cancelled(session: Session) -> None:
    _, site, contract = _setting(session)
    request = _register(session, site, contract)
    intake.resolve_remotely(session, request, minutes=10, at=FRIDAY_EVENING)
    with pytest.raises(ConflictError):
        intake.cancel_request(session, request, "Changed my mind")


def test_cancelling_needs_a_reason(session: Session) -> None:
    _, site, contract = _setting(session)
    request = _register(session, site, contract)
    with pytest.raises(InvalidError) as caught:
        intake.cancel_request(session, request, " ")
    assert caught.value.field == "reason"


# Codes under concurrency


def test_a_code_taken_meanwhile_is_skipped(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another transaction may take the computed code between reading and inserting; the
    insert is retried in a savepoint with the next code, keeping the rest of the work."""
    _, site, contract = _setting(session)
    taken = _register(session, site, contract)
    real = inputs.next_code
    answers = iter([taken.code])
    monkeypatch.setattr(
        inputs,
        "next_code",
        lambda *args: next(answers, None) or real(*args),
    )
    fresh = _register(session, site, contract)
    assert fresh.code != taken.code
    assert _count(session, ServiceRequest, ServiceRequest.site_id == site.id) == 2
