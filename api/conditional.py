"""Conditional requests: the ETag of a revisioned row and the If-Match check on writes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, HTTPException, Response, status

IfMatch = Annotated[
    str | None,
    Header(description="The revision (ETag) the change was based on; a stale one gets 412."),
]


def etag(revision: int) -> str:
    return f'"{revision}"'


def check(if_match: str | None, revision: int, what: str) -> None:
    """412 when ``if_match`` names another revision than ``revision`` (absent: no check)."""
    if if_match is None or if_match.strip() == "*":
        return
    if if_match.strip().removeprefix("W/").strip('"') != str(revision):
        raise HTTPException(
            status.HTTP_412_PRECONDITION_FAILED,
            f"{what} is at revision {revision}, not {if_match}; reload it",
        )


def tag(response: Response, revision: int) -> None:
    response.headers["ETag"] = etag(revision)
