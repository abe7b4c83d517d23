"""Dispatchers' API: customers, their sites and their contracts."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from sqlmodel import Session, col, select

from api import conditional
from api.deps import SessionDep
from api.listing import Page, PagingDep, page
from api.routers.catalogue import (
    CREATED,
    READ,
    REFUSED,
    WRITE,
    Office,
    Search,
    changed,
    created,
    matching,
)
from api.schemas import catalogue as s
from dispatch import catalogue
from dispatch.models import (
    Contract,
    Customer,
    Region,
    Site,
)

router = APIRouter(prefix="/api/v1")


# Customers, sites, contracts ----------------------------------------------------------------


def _customer(row: Customer) -> s.CustomerRead:
    return s.CustomerRead.model_validate(row, from_attributes=True)


@router.get(
    "/customers", response_model=Page[s.CustomerRead], tags=["customers"], responses=REFUSED
)
def list_customers(session: SessionDep, _: Office, paging: PagingDep, q: Search = None) -> Any:
    return page(
        session,
        matching(select(Customer), Customer, q),
        paging,
        sortable={"code": Customer.code, "name": Customer.name, "created_at": Customer.created_at},
        default="code",
        tiebreak=Customer.id,
        read=_customer,
    )


@router.post(
    "/customers",
    status_code=201,
    response_model=s.CustomerRead,
    tags=["customers"],
    responses=CREATED,
)
def create_customer(
    body: s.CustomerCreate, session: SessionDep, _: Office, response: Response
) -> s.CustomerRead:
    row = catalogue.create(session, Customer, body.model_dump())
    created(response, f"/api/v1/customers/{row.code}", row.revision)
    return _customer(row)


@router.get("/customers/{code}", response_model=s.CustomerRead, tags=["customers"], responses=READ)
def get_customer(code: str, session: SessionDep, _: Office, response: Response) -> s.CustomerRead:
    row = catalogue.get(session, Customer, code)
    conditional.tag(response, row.revision)
    return _customer(row)


@router.patch(
    "/customers/{code}", response_model=s.CustomerRead, tags=["customers"], responses=WRITE
)
def update_customer(
    code: str,
    body: s.CustomerUpdate,  # type: ignore[valid-type]
    session: SessionDep,
    _: Office,
    response: Response,
    if_match: conditional.IfMatch = None,
) -> s.CustomerRead:
    row = catalogue.get(session, Customer, code)
    changed(session, row, body.model_dump(exclude_unset=True), if_match, response)  # type: ignore[attr-defined]
    return _customer(row)


def _site(session: Session, row: Site) -> s.SiteRead:
    customer = session.get_one(Customer, row.customer_id).code
    region = session.get_one(Region, row.region_id).code
    return s.SiteRead.model_validate(row.model_dump() | {"customer": customer, "region": region})


@router.get("/sites", response_model=Page[s.SiteRead], tags=["customers"], responses=REFUSED)
def list_sites(
    session: SessionDep,
    _: Office,
    paging: PagingDep,
    q: Search = None,
    customer: Annotated[str | None, Query(max_length=32, description="Customer code.")] = None,
    region: Annotated[str | None, Query(max_length=16, description="Region code.")] = None,
) -> Any:
    statement = matching(select(Site), Site, q)
    if customer is not None:
        statement = statement.join(Customer, Customer.id == Site.customer_id).where(
            Customer.code == customer
        )
    if region is not None:
        statement = statement.join(Region, Region.id == Site.region_id).where(Region.code == region)
    return page(
        session,
        statement,
        paging,
        sortable={"code": Site.code, "name": Site.name, "created_at": Site.created_at},
        default="code",
        tiebreak=Site.id,
        read=lambda row: _site(session, row),
    )


@router.post(
    "/sites", status_code=201, response_model=s.SiteRead, tags=["customers"], responses=CREATED
)
def create_site(
    body: s.SiteCreate, session: SessionDep, _: Office, response: Response
) -> s.SiteRead:
    values = body.model_dump()
    values["customer_code"], values["region_code"] = values.pop("customer"), values.pop("region")
    row = catalogue.create_site(session, **values)
    created(response, f"/api/v1/sites/{row.code}", row.revision)
    return _site(session, row)


@router.get("/sites/{code}", response_model=s.SiteRead, tags=["customers"], responses=READ)
def get_site(code: str, session: SessionDep, _: Office, response: Response) -> s.SiteRead:
    row = catalogue.get(session, Site, code)
    conditional.tag(response, row.revision)
    return _site(session, row)


@router.patch("/sites/{code}", response_model=s.SiteRead, tags=["customers"], responses=WRITE)
def update_site(
    code: str,
    body: s.SiteUpdate,  # type: ignore[valid-type]
    session: SessionDep,
    _: Office,
    response: Response,
    if_match: conditional.IfMatch = None,
) -> s.SiteRead:
    row = catalogue.get(session, Site, code)
    changed(session, row, body.model_dump(exclude_unset=True), if_match, response)  # type: ignore[attr-defined]
    return _site(session, row)


def _contract(session: Session, row: Contract) -> s.ContractRead:
    customer = session.get_one(Customer, row.customer_id).code
    return s.ContractRead.model_validate(row.model_dump() | {"customer": customer})


@router.get(
    "/contracts", response_model=Page[s.ContractRead], tags=["contracts"], responses=REFUSED
)
def list_contracts(
    session: SessionDep,
    _: Office,
    paging: PagingDep,
    q: Search = None,
    customer: Annotated[str | None, Query(max_length=32, description="Customer code.")] = None,
    kind: s.ContractKind | None = None,
    tier: s.Tier | None = None,
    valid_on: Annotated[date | None, Query(description="Valid on this day.")] = None,
) -> Any:
    statement = matching(select(Contract), Contract, q)
    if customer is not None:
        statement = statement.join(Customer, Customer.id == Contract.customer_id).where(
            Customer.code == customer
        )
    if kind is not None:
        statement = statement.where(Contract.kind == kind)
    if tier is not None:
        statement = statement.where(Contract.tier == tier)
    if valid_on is not None:
        statement = statement.where(
            Contract.valid_from <= valid_on,  # type: ignore[operator]
            col(Contract.valid_to).is_(None) | (col(Contract.valid_to) >= valid_on),
        )
    return page(
        session,
        statement,
        paging,
        sortable={
            "code": Contract.code,
            "name": Contract.name,
            "valid_from": Contract.valid_from,
            "created_at": Contract.created_at,
        },
        default="code",
        tiebreak=Contract.id,
        read=lambda row: _contract(session, row),
    )


@router.post(
    "/contracts",
    status_code=201,
    response_model=s.ContractRead,
    tags=["contracts"],
    responses=CREATED,
)
def create_contract(
    body: s.ContractCreate, session: SessionDep, _: Office, response: Response
) -> s.ContractRead:
    """A new contract: time and materials, managed (quota, SLA) or prepaid hours."""
    row = catalogue.create(session, Contract, body.model_dump())
    created(response, f"/api/v1/contracts/{row.code}", row.revision)
    return _contract(session, row)


@router.get("/contracts/{code}", response_model=s.ContractRead, tags=["contracts"], responses=READ)
def get_contract(code: str, session: SessionDep, _: Office, response: Response) -> s.ContractRead:
    row = catalogue.get(session, Contract, code)
    conditional.tag(response, row.revision)
    return _contract(session, row)


@router.patch(
    "/contracts/{code}", response_model=s.ContractRead, tags=["contracts"], responses=WRITE
)
def update_contract(
    code: str,
    body: s.ContractUpdate,  # type: ignore[valid-type]
    session: SessionDep,
    _: Office,
    response: Response,
    if_match: conditional.IfMatch = None,
) -> s.ContractRead:
    row = catalogue.get(session, Contract, code)
    changed(session, row, body.model_dump(exclude_unset=True), if_match, response)  # type: ignore[attr-defined]
    return _contract(session, row)
