"""Generated work: service requests with their visits, skills needed and arrival windows."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from dispatch.models import Channel, Triage, Urgency
from dispatch.seed import catalogue as cat
from dispatch.seed.geography import RegionSpec
from dispatch.seed.rows import (
    ContractRow,
    RequestRow,
    SiteRow,
    TechnicianRow,
    VisitRow,
    VisitSkillRow,
    VisitWindowRow,
)
from dispatch.seed.spec import SeedSet, SeedSpec
from schedules.models import ContractKind
from schedules.priority import priority_weight


@dataclass
class GeneratedSite:
    row: SiteRow
    region: RegionSpec
    weekday_open: int
    weekday_close: int


@dataclass
class GeneratedTechnician:
    row: TechnicianRow
    skills: dict[str, int]


class Workload:
    """Draws requests over the company's sites; the same random stream gives the same work."""

    def __init__(
        self,
        *,
        spec: SeedSpec,
        rng: random.Random,
        out: SeedSet,
        sites: list[GeneratedSite],
        technicians: dict[str, list[GeneratedTechnician]],
        contracts_of: dict[str, list[ContractRow]],
        person: Callable[[], str],
    ) -> None:
        self.spec = spec
        self.rng = rng
        self.out = out
        self.sites = sites
        self.techs_by_region = technicians
        self.contracts_of = contracts_of
        self.person = person

    def generate(self) -> None:
        shares = [s.share for s in cat.SKILLS]
        for index in range(self.spec.requests):
            site = self.rng.choice(self.sites)
            skill = self.rng.choices(cat.SKILLS, weights=shares)[0]
            urgency = self.rng.choices(
                (Urgency.emergency, Urgency.high, Urgency.normal, Urgency.low),
                weights=(0.05, 0.15, 0.6, 0.2),
            )[0]
            contract = self._contract_for(site.row.customer)
            number = index + 1
            request = self._request(number, site, contract, skill, urgency)
            self.out.add(request)
            self._visit(number, request, site, contract, skill, urgency)

    def _contract_for(self, customer: str) -> ContractRow:
        options = self.contracts_of[customer]
        # Managed contracts carry most of the work where a customer has one.
        weights = [3 if c.kind is ContractKind.managed else 1 for c in options]
        return self.rng.choices(options, weights=weights)[0]

    def _request(
        self,
        number: int,
        site: GeneratedSite,
        contract: ContractRow,
        skill: cat.SkillSpec,
        urgency: Urgency,
    ) -> RequestRow:
        monitored = skill.code in ("servers", "ups", "network")
        channel = self.rng.choices(
            (Channel.phone, Channel.email, Channel.portal, Channel.monitoring),
            weights=(0.45, 0.25, 0.2, 0.3 if monitored else 0.02),
        )[0]
        if urgency is Urgency.emergency:
            minutes_ago = self.rng.randint(20, 240)
        else:
            minutes_ago = self.rng.randint(6 * 60, 5 * 24 * 60)
        contact = site.row.contact_name or self.person()
        description = self.rng.choice(skill.faults).format(n=self.rng.randint(2, 8))
        return RequestRow(
            code=f"SR-{number:06d}",
            site=site.row.code,
            contract=contract.code,
            channel=channel,
            urgency=urgency,
            contact_name=contact,
            contact_phone=site.row.contact_phone,
            description=description,
            registered_minutes_ago=minutes_ago,
            triage=Triage.escalated,
            remote_minutes=self.rng.choice((5, 10, 15, 20, 30)),
        )

    def _visit(
        self,
        number: int,
        request: RequestRow,
        site: GeneratedSite,
        contract: ContractRow,
        skill: cat.SkillSpec,
        urgency: Urgency,
    ) -> None:
        code = f"V-{number:06d}"
        last_day = self.spec.days - 1
        low, high = skill.minutes
        duration = 15 * self.rng.randint(low // 15, high // 15)
        if urgency is Urgency.emergency:
            earliest, due = 0, 0
        elif urgency is Urgency.high:
            earliest = self.rng.randint(0, min(1, last_day))
            due = min(last_day, earliest + 1)
        else:
            earliest = self.rng.randint(0, last_day)
            due = min(last_day, earliest + self.rng.choice((0, 1, 1, 2)))
        needs = {skill.code: self.rng.choice(skill.levels)}
        for main, second, probability in cat.SKILL_PAIRS:
            if main == skill.code and self.rng.random() < probability:
                needs.setdefault(second, self.rng.choice((1, 2)))
        pinned = None
        if urgency is not Urgency.emergency and self.rng.random() < 0.02:
            pinned = self._able_technician(site.region.code, needs)
        self.out.add(
            VisitRow(
                code=code,
                request=request.code,
                duration_minutes=duration,
                # Intake knows no SLA slack yet; planning recomputes it with the clock running.
                priority=priority_weight(contract.tier, urgency, None),
                earliest_day=earliest,
                due_day=due,
                pinned_technician=pinned,
                pinned_day=earliest if pinned else None,
                notes=self.rng.choice(cat.VISIT_NOTES) if self.rng.random() < 0.15 else None,
            )
        )
        for skill_code in sorted(needs):
            self.out.add(VisitSkillRow(visit=code, skill=skill_code, min_level=needs[skill_code]))
        for day in range(earliest, due + 1):
            for starts, ends in self._windows(site, duration, urgency):
                self.out.add(VisitWindowRow(visit=code, day=day, starts=starts, ends=ends))

    def _windows(
        self, site: GeneratedSite, duration: int, urgency: Urgency
    ) -> list[tuple[int, int]]:
        """Arrival windows, each leaving time to finish before the site closes."""
        latest_arrival = site.weekday_close - duration
        if urgency is Urgency.emergency:
            wanted = [(480, 1200)]
        else:
            shape = self.rng.choices(
                ("all_day", "morning", "afternoon", "two", "slot"),
                weights=(0.4, 0.25, 0.2, 0.1, 0.05),
            )[0]
            slot_start = 60 * self.rng.randint(9, 15)
            wanted = {
                "all_day": [(540, 1080)],
                "morning": [(540, 780)],
                "afternoon": [(780, 1080)],
                "two": [(540, 660), (900, 1020)],
                "slot": [(slot_start, slot_start + 120)],
            }[shape]
        windows = [
            (max(start, site.weekday_open), min(end, latest_arrival)) for start, end in wanted
        ]
        windows = [(s, e) for s, e in windows if e > s]
        return windows or [(site.weekday_open, max(site.weekday_open + 15, latest_arrival))]

    def _able_technician(self, region: str, needs: dict[str, int]) -> str | None:
        able = [
            t.row.code
            for t in self.techs_by_region[region]
            if all(t.skills.get(s, 0) >= level for s, level in needs.items())
        ]
        return self.rng.choice(able) if able else None
