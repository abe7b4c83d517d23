"""Routes of the web pages: HTML shells and their static files. The pages hold no data of
their own; their scripts call the JSON API with the signed-in user's bearer token."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent / "static"
# Pages the server fills in before sending (kept out of STATIC so nobody fetches them raw).
TEMPLATES = Path(__file__).resolve().parent / "templates"

# Pages load only what this server serves: a page that tries a CDN or a tile server fails
# in the browser tests instead of silently needing the internet in production.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


def page(name: str) -> FileResponse:
    """An HTML shell from the static directory, with the pages' security headers."""
    return FileResponse(STATIC / name, media_type="text/html", headers=SECURITY_HEADERS)


@router.get("/")
async def home() -> RedirectResponse:
    return RedirectResponse("/console", status_code=307)


@router.get("/console")
async def console() -> FileResponse:
    return page("console.html")


@router.get("/tech")
async def technician_view() -> FileResponse:
    return page("tech.html")


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
