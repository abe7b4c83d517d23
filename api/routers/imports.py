"""Dispatchers' CSV imports over HTTP: reads the body within the size limit and hands it to
``dispatch.imports``, which checks every row and writes all of them or none."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status

from api.auth import require
from api.deps import SessionDep, SettingsDep
from api.schemas.imports import ImportRead
from dispatch import imports
from dispatch.imports import Kind
from dispatch.models import Role, User

router = APIRouter(prefix="/api/v1", tags=["imports"])
Dispatcher = Annotated[User, Depends(require(Role.dispatcher, Role.admin))]
# Spreadsheet exports and curl --data-binary label CSV in all of these ways.
CSV_TYPES = frozenset({"text/csv", "application/csv", "text/plain"})

NOTES = {
    Kind.technicians: "`skills` as `code:level` pairs separated by `;` (levels 1-5, e.g. "
    "`network:3;printers:2`); `max_work_minutes` defaults to 480; `hourly_cost` in major "
    "units like `1200.00`; `active` true or false.",
    Kind.sites: "`customer` and `region` are existing codes; `lat`/`lon` in degrees.",
    Kind.requests: "`customer`, `contract` and `site` are existing codes; `channel` one of "
    "phone, email, portal, monitoring; `urgency` one of low, normal (default), high, "
    "emergency; `registered_at` ISO 8601 with a UTC offset (default: now). Each request is "
    "registered as the call centre would: pending, its SLA deadline set.",
}
EXAMPLES = {
    Kind.technicians: "code,name,region,home_lat,home_lon,email,phone,max_work_minutes,skills\n"
    "T-101,Anna Volkova,MSK-C,55.7512,37.6184,a.volkova@example.com,+7 495 123-45-67,480,"
    "network:3;printers:2\n"
    "T-102,Boris Orlov,MSK-C,55.80,37.50,,,360,\n",
    Kind.sites: "code,customer,region,name,address,lat,lon,contact_name,contact_phone,"
    "access_notes\n"
    'S-0201,C-003,MSK-C,Warehouse,"Lenina ul., 5, Moscow",55.70,37.55,Ivan Orlov,'
    "+7 495 765-43-21,Gate 3\n",
    Kind.requests: "customer,contract,site,channel,urgency,contact_name,contact_phone,"
    "contact_email,description,registered_at\n"
    "C-003,CT-0007,S-0012,phone,high,Anna Smirnova,+7 495 111-22-33,,"
    "Printer jams on every job,2026-11-20T09:15:00+03:00\n",
}


def _columns_doc() -> str:
    parts = []
    for kind in Kind:
        required, optional = imports.columns(kind)
        parts.append(
            f"- **{kind.value}**: required `{'`, `'.join(required)}`; optional "
            f"`{'`, `'.join(optional)}`. {NOTES[kind]}"
        )
    return "\n".join(parts)


DESCRIPTION = f"""
Create technicians, sites or service requests from a CSV file sent as the request body
(`Content-Type: text/csv`): UTF-8, comma-separated, a header row naming the columns in any
order; a blank cell is a missing value.

Every row is checked first, with the same rules as creating one (codes already taken, codes
that do not exist). If any row fails, the answer is `422` and nothing is written: the
problem's `errors` lists every failure as `{{row, field, value, message}}`, where `row` is the
1-based number of the data row (the header is not counted: the first row after it is 1;
blank lines are skipped but counted) and `field` the column. Otherwise all rows are created in
one transaction and the answer is `201` with their codes. With `dry_run=true` the rows are
only checked (`200`).

A body over `DISPATCH_MAX_UPLOAD_BYTES` (default 2 MiB) or with more rows than
`DISPATCH_MAX_IMPORT_ROWS` (default 5,000) is refused with `413`. A body that is not UTF-8,
has no header, or names an unknown column or lacks a required one is `422` naming it.

{_columns_doc()}
"""


async def csv_body(request: Request) -> bytes:
    """The request body, if it is sent as CSV (415 otherwise)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in CSV_TYPES:
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            f"send the file as text/csv, not {media or 'without a Content-Type'}",
        )
    # Its size is bounded by the app's body limit (api.limits), declared or streamed.
    return await request.body()


@router.post(
    "/imports/{kind}",
    status_code=status.HTTP_201_CREATED,
    response_model=ImportRead,
    summary="Import technicians, sites or requests from CSV",
    description=DESCRIPTION,
    responses={
        200: {
            "model": ImportRead,
            "description": "Dry run: every row is valid; nothing was written",
        },
        401: {"description": "No valid bearer token"},
        403: {"description": "Signed in, but neither dispatcher nor admin"},
        413: {"description": "Body or row count over the limit"},
        415: {"description": "The body is not sent as text/csv"},
        422: {
            "description": "Bad file or rows: `errors` lists every failing row, nothing is written"
        },
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {
                    "schema": {"type": "string"},
                    "examples": {
                        kind.value: {"summary": kind.value, "value": EXAMPLES[kind]}
                        for kind in Kind
                    },
                }
            },
        }
    },
)
def import_rows(
    kind: Kind,
    session: SessionDep,
    settings: SettingsDep,
    _: Dispatcher,
    body: Annotated[bytes, Depends(csv_body)],
    response: Response,
    dry_run: Annotated[bool, Query(description="Only check the rows; write nothing.")] = False,
) -> ImportRead:
    result = imports.import_csv(
        session, kind=kind, data=body, max_rows=settings.max_import_rows, dry_run=dry_run
    )
    if dry_run:
        response.status_code = status.HTTP_200_OK
    return ImportRead(
        kind=result.kind,
        dry_run=result.dry_run,
        rows=result.rows,
        created=len(result.codes),
        codes=list(result.codes),
    )
