"""Deterministic generator of an IT-support company's data: the same spec gives the same files."""

from __future__ import annotations

import math
import random
from collections import defaultdict
from datetime import date

from dispatch.models import Role
from dispatch.seed import catalogue as cat
from dispatch.seed.geography import REGIONS, TOWN_STREETS, Locality, RegionSpec
from dispatch.seed.rows import (
    BusinessHoursRow,
    CalendarExceptionRow,
    ContractRow,
    CustomerRow,
    HolidayRow,
    RegionRow,
    SiteAccessHoursRow,
    SiteRow,
    SkillRow,
    TechnicianRow,
    TechnicianSkillRow,
    UserRow,
    WorkPatternRow,
)
from dispatch.seed.spec import KINDS, TIERS, SeedSet, SeedSpec
from dispatch.seed.workload import GeneratedSite, GeneratedTechnician, Workload
from schedules.calendars import parse_hhmm
from schedules.models import ContractKind, Coverage, ExceptionKind, OveragePolicy, QuotaPeriod, Tier

HOLIDAY_YEARS = range(2025, 2031)
DEMO_PASSWORDS = {
    Role.admin: "demo-admin-2026",
    Role.dispatcher: "demo-dispatcher-2026",
    Role.technician: "demo-technician-2026",
}
EARTH_RADIUS_KM = 6371.0


def generate(spec: SeedSpec | None = None) -> SeedSet:
    return _Generator(spec or SeedSpec()).run()


class _Generator:
    def __init__(self, spec: SeedSpec) -> None:
        self.spec = spec
        self.rng = random.Random(spec.seed)
        self.out = SeedSet()
        self.regions = REGIONS[: spec.region_count]
        self.customer_kinds: dict[str, cat.CustomerKind] = {}
        self.contracts_of: dict[str, list[ContractRow]] = defaultdict(list)
        self.sites: list[GeneratedSite] = []
        self.techs_by_region: dict[str, list[GeneratedTechnician]] = defaultdict(list)
        self.used_names: set[str] = set()

    def run(self) -> SeedSet:
        self._regions()
        self._skills()
        self._customers_and_contracts()
        self._sites()
        self._technicians()
        self._users()
        Workload(
            spec=self.spec,
            rng=self.rng,
            out=self.out,
            sites=self.sites,
            technicians=self.techs_by_region,
            contracts_of=self.contracts_of,
            person=self._person,
        ).generate()
        return self.out

    # -- places and people ----------------------------------------------------------------

    def _point(self, locality: Locality) -> tuple[float, float]:
        """A point uniformly spread over a disc around the locality's centre."""
        distance = locality.radius_km * math.sqrt(self.rng.random())
        bearing = self.rng.uniform(0, 2 * math.pi)
        dlat = math.degrees(distance * math.cos(bearing) / EARTH_RADIUS_KM)
        dlon = math.degrees(
            distance * math.sin(bearing) / (EARTH_RADIUS_KM * math.cos(math.radians(locality.lat)))
        )
        return round(locality.lat + dlat, 6), round(locality.lon + dlon, 6)

    def _address(self, locality: Locality) -> str:
        streets = locality.streets or TOWN_STREETS
        number = self.rng.randint(1, 120)
        building = f", bld. {self.rng.randint(1, 4)}" if self.rng.random() < 0.3 else ""
        place = "Moscow" if locality.in_moscow else f"{locality.name}, Moscow Oblast"
        district = f" ({locality.name})" if locality.in_moscow else ""
        return f"{self.rng.choice(streets)}, {number}{building}, {place}{district}"

    def _person(self) -> str:
        female = self.rng.random() < 0.35
        first = self.rng.choice(cat.FEMALE_FIRST if female else cat.MALE_FIRST)
        surname = self.rng.choice(cat.SURNAMES) + ("a" if female else "")
        return f"{first} {surname}"

    def _unique_person(self) -> str:
        for _ in range(1000):
            name = self._person()
            if name not in self.used_names:
                self.used_names.add(name)
                return name
        return self._person()

    def _phone(self, *, mobile: bool) -> str:
        area = self.rng.choice(("916", "903", "926", "985", "977")) if mobile else "495"
        digits = self.rng.randint(0, 9_999_999)
        return f"+7 ({area}) {digits // 10000:03d}-{digits // 100 % 100:02d}-{digits % 100:02d}"

    # -- reference data -------------------------------------------------------------------

    def _regions(self) -> None:
        for spec in self.regions:
            self.out.add(
                RegionRow(
                    code=spec.code,
                    name=spec.name,
                    timezone="Europe/Moscow",
                    avg_speed_kmh=spec.avg_speed_kmh,
                    detour_factor=1.35 if spec.code == "MSK-C" else 1.3,
                )
            )
            for weekday in range(5):
                self.out.add(
                    BusinessHoursRow(region=spec.code, weekday=weekday, opens=540, closes=1080)
                )
            for year in HOLIDAY_YEARS:
                for day, name in cat.russian_holidays(year):
                    self.out.add(HolidayRow(region=spec.code, date=day, name=name))

    def _skills(self) -> None:
        for skill in cat.SKILLS:
            self.out.add(SkillRow(code=skill.code, name=skill.name))

    def _customers_and_contracts(self) -> None:
        n_contracts = self.spec.contract_count
        n_customers = max(len(KINDS), round(n_contracts * 0.88))
        used: set[str] = set()
        customers: list[str] = []
        for index in range(n_customers):
            kind = cat.CUSTOMER_KINDS[index % len(cat.CUSTOMER_KINDS)]
            part = self.rng.choice(cat.NAME_PARTS)
            name = kind.pattern.format(name=part)
            suffix = 2
            while name in used:
                name = kind.pattern.format(name=f"{part}-{suffix}")
                suffix += 1
            used.add(name)
            code = f"C-{index + 1:03d}"
            slug = name.split()[0].lower().replace("-", "")
            self.customer_kinds[code] = kind
            customers.append(code)
            self.out.add(
                CustomerRow(
                    code=code,
                    name=f"{name} LLC",
                    phone=self._phone(mobile=False),
                    email=f"it@{slug}-{kind.domain}.ru",
                )
            )
        # Every kind meets every tier at least once; then a realistic mix.
        combos = [(kind, tier) for kind in KINDS for tier in TIERS]
        for index in range(n_contracts):
            if index < len(combos):
                kind, tier = combos[index]
            else:
                kind = self.rng.choices(KINDS, weights=(0.5, 0.3, 0.2))[0]
                tier = self.rng.choices(TIERS, weights=(0.15, 0.3, 0.35, 0.2))[0]
            customer = customers[index] if index < n_customers else self.rng.choice(customers)
            row = self._contract(f"CT-{index + 1:03d}", customer, kind, tier)
            self.contracts_of[customer].append(row)
            self.out.add(row)

    def _contract(self, code: str, customer: str, kind: ContractKind, tier: Tier) -> ContractRow:
        rank = TIERS.index(tier)
        year = self.rng.choice((2024, 2025))
        common = {
            "code": code,
            "customer": customer,
            "kind": kind,
            "tier": tier,
            "valid_from": date(year, self.rng.randint(1, 12), 1),
            "valid_to": date(2027, 12, 31) if self.rng.random() < 0.3 else None,
        }
        if kind is ContractKind.managed:
            period = QuotaPeriod.month if self.rng.random() < 0.8 else QuotaPeriod.week
            scale = 1 if period is QuotaPeriod.month else 0.25
            return ContractRow(
                **common,
                name=f"Managed IT services, {tier.value}",
                sla_response_hours=(4, 8, 16, 24)[rank],
                coverage=Coverage.always if rank < 2 else Coverage.business_hours,
                quota_period=period,
                quota_hours=max(2, round((80, 40, 20, 10)[rank] * scale)),
                quota_onsite_days=max(1, round((20, 12, 6, 3)[rank] * scale)),
                overage_policy=OveragePolicy.bill_as_tm if rank < 2 else OveragePolicy.block,
                hourly_rate=(350_000, 300_000, 260_000, 220_000)[rank],
                monthly_fee=(45_000_000, 22_000_000, 11_000_000, 5_500_000)[rank],
                include_travel=self.rng.random() < 0.5,
                include_remote=self.rng.random() < 0.5,
            )
        if kind is ContractKind.prepaid_hours:
            return ContractRow(
                **common,
                name=f"Prepaid block of hours, {tier.value}",
                sla_response_hours=(4, 8, 16, 24)[rank],
                prepaid_hours=(120, 80, 40, 20)[rank],
                overage_policy=OveragePolicy.bill_as_tm
                if self.rng.random() < 0.5
                else OveragePolicy.block,
                hourly_rate=(320_000, 300_000, 280_000, 260_000)[rank],
                include_travel=self.rng.random() < 0.3,
                include_remote=True,
            )
        return ContractRow(
            **common,
            name=f"Time and materials, {tier.value}",
            sla_response_hours=(8, 16, None, None)[rank],
            hourly_rate=self.rng.choice((280_000, 320_000, 360_000, 420_000)),
            include_travel=True,
        )

    def _sites(self) -> None:
        customers = list(self.customer_kinds)
        # Each customer has a site; the rest go to chains more often than to single offices.
        owners = list(customers)
        weights = [self.customer_kinds[c].site_weight for c in customers]
        owners += self.rng.choices(customers, weights=weights, k=self.spec.site_count - len(owners))
        owners = owners[: self.spec.site_count]
        home_region = {c: self.rng.choice(self.regions) for c in customers}
        for index, customer in enumerate(owners):
            kind = self.customer_kinds[customer]
            region = (
                home_region[customer] if self.rng.random() < 0.6 else self.rng.choice(self.regions)
            )
            locality = self.rng.choice(region.localities)
            lat, lon = self._point(locality)
            code = f"S-{index + 1:04d}"
            name = kind.pattern.format(name=locality.name)
            row = SiteRow(
                code=code,
                customer=customer,
                region=region.code,
                name=name,
                address=self._address(locality),
                lat=lat,
                lon=lon,
                contact_name=self._person(),
                contact_phone=self._phone(mobile=True),
                access_notes=self.rng.choice(
                    (None, None, "Reception on the ground floor", "Security desk: show ID")
                ),
            )
            self.out.add(row)
            opens = parse_hhmm(kind.opens)
            closes = parse_hhmm(kind.closes, allow_end_of_day=True)
            for weekday in range(7 if kind.weekends else 5):
                self.out.add(
                    SiteAccessHoursRow(site=code, weekday=weekday, opens=opens, closes=closes)
                )
            self.sites.append(GeneratedSite(row, region, opens, closes))

    def _technicians(self) -> None:
        # Staff follows the work: regions get technicians in proportion to their sites.
        per_region = {r.code: 0 for r in self.regions}
        for site in self.sites:
            per_region[site.region.code] += 1
        total_sites = max(1, len(self.sites))
        counts = {
            code: max(2, round(self.spec.technicians * n / total_sites))
            for code, n in per_region.items()
        }
        while sum(counts.values()) > self.spec.technicians:
            biggest = max(counts, key=lambda c: (counts[c], c))
            counts[biggest] -= 1
        while sum(counts.values()) < self.spec.technicians:
            smallest = min(counts, key=lambda c: (counts[c] / max(1, per_region[c]), c))
            counts[smallest] += 1
        skills = [s.code for s in cat.SKILLS]
        number = 0
        for region in self.regions:
            for index in range(counts[region.code]):
                number += 1
                self._technician(number, region, specialty=skills[index % len(skills)])

    def _technician(self, number: int, region: RegionSpec, specialty: str) -> None:
        code = f"T-{number:03d}"
        name = self._unique_person()
        locality = self.rng.choice(region.localities)
        lat, lon = self._point(locality)
        first, surname = name.split(" ", 1)
        levels = {specialty: self.rng.choice((4, 4, 5))}
        # Most engineers can do desk-side work; a few extra skills at lower levels.
        levels.setdefault("workstations", self.rng.randint(2, 3))
        for extra in self.rng.sample([s.code for s in cat.SKILLS], k=self.rng.randint(1, 3)):
            levels.setdefault(extra, self.rng.randint(1, 3))
        row = TechnicianRow(
            code=code,
            name=name,
            region=region.code,
            email=f"{first.lower()}.{surname.lower()}@fieldservice.example",
            phone=self._phone(mobile=True),
            home_address=self._address(locality),
            home_lat=lat,
            home_lon=lon,
            max_work_minutes=self.rng.choice((480, 480, 480, 540)),
            hourly_cost=self.rng.choice((90_000, 110_000, 130_000, 150_000, 180_000)),
        )
        self.out.add(row)
        for skill in sorted(levels):
            self.out.add(TechnicianSkillRow(technician=code, skill=skill, level=levels[skill]))
        self.techs_by_region[region.code].append(GeneratedTechnician(row, levels))
        self._work_pattern(code)
        self._calendar_exception(code)

    def _work_pattern(self, code: str) -> None:
        shape = self.rng.choices(("day", "early", "late"), weights=(0.8, 0.1, 0.1))[0]
        starts, ends, lunch = {
            "day": (540, 1080, (720, 840)),
            "early": (480, 1020, (690, 810)),
            "late": (720, 1260, (960, 1080)),
        }[shape]
        for weekday in range(5):
            self.out.add(
                WorkPatternRow(
                    technician=code,
                    weekday=weekday,
                    starts=starts,
                    ends=ends,
                    break_minutes=30,
                    break_earliest=lunch[0],
                    break_latest=lunch[1],
                )
            )
        if self.rng.random() < 0.1:  # weekend on-call for round-the-clock contracts
            self.out.add(WorkPatternRow(technician=code, weekday=5, starts=600, ends=960))

    def _calendar_exception(self, code: str) -> None:
        draw = self.rng.random()
        last_day = self.spec.days - 1
        if draw < 0.05:
            start = self.rng.randint(0, last_day)
            self.out.add(
                CalendarExceptionRow(
                    technician=code,
                    kind=ExceptionKind.vacation,
                    starts_day=start,
                    starts=0,
                    ends_day=start + 2,
                    ends=0,
                    note="Annual leave",
                )
            )
        elif draw < 0.08:
            day = self.rng.randint(0, last_day)
            self.out.add(
                CalendarExceptionRow(
                    technician=code,
                    kind=ExceptionKind.training,
                    starts_day=day,
                    starts=540,
                    ends_day=day,
                    ends=780,
                    note="Vendor certification course",
                )
            )

    def _users(self) -> None:
        self.out.add(
            UserRow(
                username="admin",
                full_name="Demo Administrator",
                role=Role.admin,
                password=DEMO_PASSWORDS[Role.admin],
            )
        )
        for username in ("dispatcher", "dispatcher2"):
            self.out.add(
                UserRow(
                    username=username,
                    full_name=self._unique_person(),
                    role=Role.dispatcher,
                    password=DEMO_PASSWORDS[Role.dispatcher],
                )
            )
        for region in self.regions:
            for tech in self.techs_by_region[region.code]:
                self.out.add(
                    UserRow(
                        username=tech.row.code.lower().replace("-", ""),
                        full_name=tech.row.name,
                        role=Role.technician,
                        technician=tech.row.code,
                        password=DEMO_PASSWORDS[Role.technician],
                    )
                )
