"""Prepared statements return what Connection.execute returns for the same statement (types
converted, NULLs kept, unions typed by their first branch), inside a session's transaction
too, and fail as SQLAlchemy does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from dispatch.models import Site, Visit, VisitStatus, VisitTimeWindow
from dispatch.prepared import Prepared, one_of
from tests.factories import make_request, make_technician, make_visit

START = datetime(2026, 12, 1, 8, tzinfo=UTC)
SHOWN = (VisitStatus.scheduled, VisitStatus.completed)
WINDOWS = [
    (START, START + timedelta(hours=4)),
    (START + timedelta(hours=5), START + timedelta(hours=9)),
]

_VISITS = (
    select(
        col(Visit.id),
        col(Visit.code),
        col(Visit.status),
        col(Visit.planned_start),
        col(Visit.notes),
        col(Site.lat),
    )
    .join_from(Visit, Site, sa.true())
    .where(
        Visit.technician_id == sa.bindparam("technician"),
        one_of(Visit.__table__.c.status, SHOWN),
        Visit.planned_start >= sa.bindparam("since"),  # type: ignore[operator]
    )
    .where(col(Site.id) == sa.bindparam("site"))
    .order_by(Visit.planned_start)
)
# Visits and their windows in one union; the first branch's NULLs are cast, as a union's
# column types come from it.
_WITH_WINDOWS = sa.union_all(
    select(
        col(Visit.id),
        col(Visit.code),
        sa.cast(sa.null(), VisitTimeWindow.__table__.c.starts_at.type).label("starts_at"),
    ).where(Visit.technician_id == sa.bindparam("technician")),
    select(col(VisitTimeWindow.visit_id), sa.null(), col(VisitTimeWindow.starts_at))
    .join(Visit, col(Visit.id) == VisitTimeWindow.visit_id)
    .where(Visit.technician_id == sa.bindparam("technician")),
).order_by("id", "starts_at")


@pytest.fixture
def day(session: Session) -> dict[str, int]:
    """A technician with visits of several statuses, planned or not, with and without notes
    and windows."""
    technician = make_technician(session)
    request = make_request(session)
    for hours, status, notes in (
        (3, VisitStatus.scheduled, "gate code 1234"),
        (1, VisitStatus.completed, None),
        (2, VisitStatus.cancelled, "not shown"),
        (5, VisitStatus.scheduled, None),
    ):
        make_visit(
            session,
            request=request,
            technician_id=technician.id,
            status=status,
            planned_start=START + timedelta(hours=hours),
            planned_end=START + timedelta(hours=hours, minutes=45),
            notes=notes,
            windows=WINDOWS,
        )
    session.flush()
    return {"technician": technician.id, "site": request.site_id}  # type: ignore[dict-item]


def test_rows_are_those_of_connection_execute(session: Session, day: dict[str, int]) -> None:
    params = {**day, "since": START}
    rows = Prepared(_VISITS).rows(session, params)
    expected = session.connection().execute(_VISITS, params).all()
    assert [tuple(r) for r in rows] == [tuple(r) for r in expected]
    assert [r.status for r in rows] == [VisitStatus.completed, *[VisitStatus.scheduled] * 2]
    assert [r.notes for r in rows] == [None, "gate code 1234", None]
    assert all(r.planned_start.tzinfo is UTC for r in rows)
    # Again, compiled and with its result types known: the same.
    assert Prepared(_VISITS).rows(session, params) == rows


def test_a_union_takes_its_types_from_its_first_branch(
    session: Session, day: dict[str, int]
) -> None:
    params = {"technician": day["technician"]}
    rows = Prepared(_WITH_WINDOWS).rows(session, params)
    expected = session.connection().execute(_WITH_WINDOWS, params).all()
    assert [tuple(r) for r in rows] == [tuple(r) for r in expected]
    windows = [r.starts_at for r in rows if r.starts_at is not None]
    assert len(windows) == 8
    assert all(isinstance(w, datetime) and w.tzinfo is UTC for w in windows)


def test_an_expanding_parameter_is_refused(session: Session) -> None:
    statement = select(Visit.id).where(col(Visit.status).in_(SHOWN))
    with pytest.raises(ValueError, match="one_of"):
        Prepared(statement).rows(session, {})


def test_a_driver_error_is_raised_as_sqlalchemys(session: Session) -> None:
    missing = sa.table("no_such_table", sa.column("x"))
    with pytest.raises(sa.exc.DBAPIError, match="no_such_table") as raised:
        Prepared(select(missing.c.x)).rows(session, {})
    assert not raised.value.connection_invalidated
