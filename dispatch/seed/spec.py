"""What to generate (SeedSpec) and what was generated (SeedSet, written as CSV files)."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from dispatch.seed.geography import REGIONS
from dispatch.seed.rows import ROW_TYPES, SeedRow
from schedules.models import ContractKind, Tier

TIERS = (Tier.platinum, Tier.gold, Tier.silver, Tier.bronze)
KINDS = (ContractKind.managed, ContractKind.time_and_materials, ContractKind.prepaid_hours)


class SpecError(ValueError):
    """A generator parameter is out of range; the message names it and its value."""


@dataclass(frozen=True)
class SeedSpec:
    """How much to generate. Unset counts scale with the number of technicians."""

    technicians: int = 40
    requests: int = 400
    sites: int | None = None
    contracts: int | None = None
    regions: int | None = None
    days: int = 5
    seed: int = 2026

    def __post_init__(self) -> None:
        checks = {
            "technicians": (self.technicians, 2, 20_000),
            "requests": (self.requests, 0, 200_000),
            "days": (self.days, 1, 60),
            "regions": (self.region_count, 1, len(REGIONS)),
            "sites": (self.site_count, 1, 100_000),
            "contracts": (self.contract_count, len(KINDS) * len(TIERS), 20_000),
        }
        for name, (value, low, high) in checks.items():
            if not low <= value <= high:
                raise SpecError(f"{name}={value} is outside {low}..{high}")
        if self.technicians < 2 * self.region_count:
            raise SpecError(
                f"technicians={self.technicians} is fewer than 2 per region "
                f"(regions={self.region_count})"
            )

    @property
    def region_count(self) -> int:
        return self.regions if self.regions is not None else min(4, len(REGIONS))

    @property
    def site_count(self) -> int:
        return self.sites if self.sites is not None else 3 * self.technicians

    @property
    def contract_count(self) -> int:
        return self.contracts if self.contracts is not None else max(25, self.technicians // 2)


@dataclass
class SeedSet:
    """Generated rows per file, in load order."""

    rows: dict[type[SeedRow], list[SeedRow]] = field(
        default_factory=lambda: {row_type: [] for row_type in ROW_TYPES}
    )

    def add(self, row: SeedRow) -> None:
        self.rows[type(row)].append(row)

    def __getitem__(self, row_type: type[SeedRow]) -> list[SeedRow]:
        return self.rows[row_type]

    def write(self, out: Path) -> dict[str, int]:
        """Write one CSV per file into ``out``; returns the row count per file."""
        out.mkdir(parents=True, exist_ok=True)
        counts = {}
        for row_type, rows in self.rows.items():
            with (out / row_type.FILE).open("w", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, fieldnames=row_type.columns(), lineterminator="\n")
                writer.writeheader()
                writer.writerows(row.to_csv() for row in rows)
            counts[row_type.FILE] = len(rows)
        return counts
