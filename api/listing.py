"""Lists over HTTP: offset pagination, sorting by named fields, and the page they return."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

import sqlalchemy as sa
from fastapi import Depends, Query
from pydantic import BaseModel, Field
from sqlmodel import Session

from schedules.errors import InvalidError

T = TypeVar("T")
MAX_LIMIT = 500
# Deep offsets are a scan; past this, narrow the filters instead.
MAX_OFFSET = 100_000


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int = Field(description="How many match the filters, over all pages.")
    limit: int
    offset: int
    next_offset: int | None = Field(description="Offset of the next page; null on the last.")


@dataclass(frozen=True, slots=True)
class Paging:
    limit: int
    offset: int
    sort: str | None


def paging(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip.")] = 0,
    sort: Annotated[
        str | None,
        Query(
            max_length=200,
            description="Comma-separated fields; a leading '-' sorts descending.",
            examples=["-created_at,code"],
        ),
    ] = None,
) -> Paging:
    return Paging(limit, offset, sort)


PagingDep = Annotated[Paging, Depends(paging)]


def order_by(
    sort: str | None, sortable: Mapping[str, Any], default: str
) -> list[sa.ColumnElement[Any]]:
    """ORDER BY clauses for ``sort`` (or ``default``), refusing fields not in ``sortable``."""
    clauses = []
    for raw in (sort or default).split(","):
        name = raw.strip()
        descending = name.startswith("-")
        name = name.removeprefix("-")
        if name not in sortable:
            raise InvalidError(
                f"cannot sort by {name!r}; sortable fields: {', '.join(sorted(sortable))}",
                field="sort",
                value=sort,
            )
        column = sortable[name]
        clauses.append(column.desc() if descending else column.asc())
    return clauses


def page(
    session: Session,
    statement: sa.Select[Any],
    paging: Paging,
    *,
    sortable: Mapping[str, Any],
    default: str,
    tiebreak: Any,
    read: Callable[[Any], T] | None = None,
    read_all: Callable[[list[Any]], list[T]] | None = None,
) -> Page[T]:
    """One page of ``statement``'s rows turned into items, one by one by ``read`` or all at
    once by ``read_all`` (which can look up what they refer to in one query per table);
    ``tiebreak`` (a unique column) keeps the order total, so pages neither repeat nor skip
    rows."""
    clauses = [*order_by(paging.sort, sortable, default), tiebreak.asc()]
    total = session.scalar(sa.select(sa.func.count()).select_from(statement.subquery())) or 0
    rows: Sequence[Any] = session.execute(
        statement.order_by(*clauses).limit(paging.limit).offset(paging.offset)
    ).all()
    found = [row[0] if len(row) == 1 else row for row in rows]
    if read_all is not None:
        items = read_all(found)
    else:
        assert read is not None, "page() needs read or read_all"
        items = [read(row) for row in found]
    after = paging.offset + len(items)
    return Page[T](
        items=items,
        total=total,
        limit=paging.limit,
        offset=paging.offset,
        next_offset=after if after < total else None,
    )
