"""Reference content for generated data: IT-support skills and faults, customers, people."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True)
class SkillSpec:
    code: str
    name: str
    share: float  # of requests whose main need is this skill
    minutes: tuple[int, int]  # on-site duration range
    levels: tuple[int, ...]  # minimum levels requests ask for, drawn uniformly
    faults: tuple[str, ...]


SKILLS: tuple[SkillSpec, ...] = (
    SkillSpec(
        "network",
        "Networking: LAN, Wi-Fi, routers, firewalls",
        0.20,
        (45, 180),
        (2, 2, 3, 4),
        (
            "Wi-Fi drops on floor {n}, access point keeps rebooting",
            "Core switch port flapping, accounting loses the network",
            "VPN tunnel to head office is down since the morning",
            "New meeting room needs {n} network outlets patched",
            "Router replacement after a power surge",
            "Slow network in the warehouse, suspected damaged cable",
        ),
    ),
    SkillSpec(
        "servers",
        "Servers and storage",
        0.10,
        (60, 240),
        (3, 3, 4),
        (
            "File server RAID degraded, disk {n} failed",
            "Domain controller does not boot after a power cut",
            "Rack and cable a new server",
            "Backup server out of space, nightly jobs failing",
            "Hypervisor host over-temperature alarm",
        ),
    ),
    SkillSpec(
        "workstations",
        "Workstations and laptops",
        0.25,
        (30, 120),
        (1, 1, 2),
        (
            "Workstation does not boot after an update",
            "Set up {n} laptops for new employees",
            "Blue screen on the reception PC",
            "Monitor flickering at desk {n}",
            "Move {n} workplaces to another floor",
            "Replace a failed SSD in a laptop",
        ),
    ),
    SkillSpec(
        "printers",
        "Printers and MFPs",
        0.15,
        (30, 90),
        (1, 2),
        (
            "MFP on floor {n} jams on every job",
            "Printer prints blank pages",
            "Scan-to-email stopped working on the MFP",
            "Install a new network printer",
            "Fuser error on the accounting printer",
        ),
    ),
    SkillSpec(
        "telephony",
        "Telephony: IP-PBX and handsets",
        0.10,
        (30, 120),
        (2, 3),
        (
            "IP phones cannot register with the PBX",
            "No dial tone on {n} desk phones",
            "Configure a call queue for the reception",
            "Replace a faulty PoE handset",
            "Conference phone echoes in the meeting room",
        ),
    ),
    SkillSpec(
        "cctv",
        "CCTV and access control",
        0.10,
        (60, 240),
        (2, 3),
        (
            "CCTV camera {n} offline",
            "NVR has not recorded since yesterday",
            "Card reader at the main entrance rejects all cards",
            "Install {n} additional cameras in the car park",
            "Gate intercom shows no video",
        ),
    ),
    SkillSpec(
        "ups",
        "UPS and power",
        0.10,
        (45, 180),
        (2, 3),
        (
            "UPS in the server room beeping on battery",
            "Replace end-of-life UPS batteries",
            "Power transfer test before building maintenance",
            "UPS overload alarm after new rack equipment",
            "Check the generator transfer switch",
        ),
    ),
)

# Needs that usually come together: (main skill, second skill, probability).
SKILL_PAIRS = (
    ("servers", "ups", 0.25),
    ("network", "telephony", 0.15),
    ("network", "cctv", 0.10),
    ("printers", "workstations", 0.15),
    ("cctv", "network", 0.25),
)


@dataclass(frozen=True)
class CustomerKind:
    pattern: str
    domain: str
    # Site access (local time): weekday opening, closing and whether weekends are open.
    opens: str
    closes: str
    weekends: bool
    site_weight: float  # how many sites such customers tend to have


CUSTOMER_KINDS: tuple[CustomerKind, ...] = (
    CustomerKind("{name} Dental Clinic", "dental", "08:00", "21:00", True, 1.5),
    CustomerKind("{name} Medical Centre", "med", "00:00", "24:00", True, 2.0),
    CustomerKind("{name} Logistics", "logistics", "07:00", "22:00", True, 3.0),
    CustomerKind("{name} Law Office", "law", "09:00", "19:00", False, 1.0),
    CustomerKind("{name} Pharmacy", "pharma", "08:00", "22:00", True, 6.0),
    CustomerKind("{name} Hotel", "hotel", "00:00", "24:00", True, 1.5),
    CustomerKind("{name} Engineering", "eng", "08:00", "19:00", False, 1.5),
    CustomerKind("{name} Accounting Bureau", "acc", "09:00", "19:00", False, 1.0),
    CustomerKind("{name} Business Centre", "bc", "07:00", "22:00", True, 2.0),
    CustomerKind("{name} Data Centre", "dc", "00:00", "24:00", True, 1.0),
    CustomerKind("{name} Retail", "retail", "10:00", "22:00", True, 5.0),
    CustomerKind("{name} Private School", "school", "07:30", "19:00", False, 1.5),
)

NAME_PARTS = (
    "Aurora", "Vega", "Severny", "Stolitsa", "Meridian", "Granit", "Volga", "Kristall",
    "Zenit", "Orion", "Yantar", "Rassvet", "Sokol", "Mayak", "Taiga", "Baikal", "Altair",
    "Polyus", "Sirius", "Lotos", "Kedr", "Fregat", "Vympel", "Atlant", "Rubin", "Elbrus",
    "Ladoga", "Neva", "Pamir", "Sever", "Ural", "Amur", "Irtysh", "Kama", "Oka", "Dvina",
)  # fmt: skip

MALE_FIRST = (
    "Alexey", "Dmitry", "Sergey", "Andrey", "Ivan", "Mikhail", "Nikolai", "Pavel", "Artyom",
    "Maxim", "Roman", "Yevgeny", "Oleg", "Vladimir", "Igor", "Kirill", "Denis", "Anton",
)  # fmt: skip
FEMALE_FIRST = (
    "Olga", "Elena", "Anna", "Natalia", "Irina", "Yulia", "Tatiana", "Maria", "Svetlana",
    "Ekaterina", "Daria", "Ksenia", "Marina", "Anastasia",
)  # fmt: skip
SURNAMES = (
    "Ivanov", "Smirnov", "Kuznetsov", "Popov", "Vasiliev", "Petrov", "Sokolov", "Mikhailov",
    "Novikov", "Fedorov", "Morozov", "Volkov", "Alekseev", "Lebedev", "Semenov", "Egorov",
    "Pavlov", "Kozlov", "Stepanov", "Nikolaev", "Orlov", "Andreev", "Makarov", "Nikitin",
    "Zakharov", "Zaitsev", "Solovyov", "Borisov", "Yakovlev", "Grigoriev", "Romanov",
    "Vorobyov", "Sergeev", "Frolov", "Belov", "Gusev", "Tikhonov", "Komarov", "Kiselev",
)  # fmt: skip

VISIT_NOTES = (
    "Call the contact 30 minutes before arrival.",
    "Parking at the back entrance; show ID at security.",
    "Bring a spare power supply.",
    "Badge needed for the server room; ask the facility manager.",
    "Customer asks for the same engineer as last time.",
)


def _transferred(day: date, taken: set[date]) -> date:
    """The next weekday that is not already a day off."""
    day += timedelta(days=1)
    while day.weekday() >= 5 or day in taken:
        day += timedelta(days=1)
    return day


def russian_holidays(year: int) -> list[tuple[date, str]]:
    """Federal non-working holidays of Russia by the Labour Code's fixed dates and its rule that
    a holiday falling on a weekend moves to the next working day (January excepted). The yearly
    government decrees that swap further days are not modelled: replace holidays.csv with the
    official calendar for production use."""
    days = [(date(year, 1, d), "New Year holidays") for d in (1, 2, 3, 4, 5, 6, 8)]
    days.append((date(year, 1, 7), "Orthodox Christmas"))
    fixed = (
        (date(year, 2, 23), "Defender of the Fatherland Day"),
        (date(year, 3, 8), "International Women's Day"),
        (date(year, 5, 1), "Spring and Labour Day"),
        (date(year, 5, 9), "Victory Day"),
        (date(year, 6, 12), "Russia Day"),
        (date(year, 11, 4), "Unity Day"),
    )
    taken = {d for d, _ in days} | {d for d, _ in fixed}
    for day, name in fixed:
        days.append((day, name))
        if day.weekday() >= 5:
            moved = _transferred(day, taken)
            taken.add(moved)
            days.append((moved, f"{name} (transferred)"))
    return sorted(days)
