"""Small routing instances on a plane where one unit of distance is one minute of travel."""

from __future__ import annotations

from typing import Any

from routing import Break, Euclidean, Job, Location, Problem, Shift, SolveParams, Technician, Window

MIN = 60
HOUR = 3600
DAY = 86_400
FAST = SolveParams.for_tests()


def at(x: float, y: float = 0.0) -> Location:
    return Location(x, y)


def hours(start: float, end: float, day: int = 0) -> Window:
    return Window(int(day * DAY + start * HOUR), int(day * DAY + end * HOUR))


def shift(day: int = 0, start: float = 8, end: float = 17, lunch: bool = False, **kw: Any) -> Shift:
    breaks = (
        (Break(30 * MIN, day * DAY + 12 * HOUR, day * DAY + 13 * HOUR + 30 * MIN),) if lunch else ()
    )
    return Shift(
        day=day,
        start=int(day * DAY + start * HOUR),
        end=int(day * DAY + end * HOUR),
        breaks=breaks,
        **kw,
    )


def tech(id: str = "t1", x: float = 0, days: int = 1, lunch: bool = False, **kw: Any) -> Technician:
    shifts = kw.pop("shifts", None) or tuple(shift(d, lunch=lunch) for d in range(days))
    return Technician(id=id, home=at(x), shifts=shifts, **kw)


def job(id: str, x: float, minutes: int = 30, **kw: Any) -> Job:
    return Job(id=id, location=at(x, kw.pop("y", 0.0)), duration=minutes * MIN, **kw)


def problem(jobs: list[Job], techs: list[Technician], **kw: Any) -> Problem:
    return Problem(jobs=tuple(jobs), technicians=tuple(techs), travel=Euclidean(scale=MIN), **kw)
