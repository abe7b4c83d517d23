"""Geocoding of addresses for new sites: a small interface and its Nominatim implementation
(through geopy), built from settings; off unless a geocoder URL is configured."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple, Protocol
from urllib.parse import urlsplit

from geopy.exc import GeocoderQueryError, GeopyError
from geopy.geocoders import Nominatim

from schedules.errors import InvalidError, UnavailableError

if TYPE_CHECKING:
    from dispatch.settings import Settings

DEFAULT_USER_AGENT = "field-dispatch"
DEFAULT_TIMEOUT_SECONDS = 5.0


class Place(NamedTuple):
    lat: float
    lon: float
    display_name: str


class Geocoder(Protocol):
    def locate(self, address: str, *, country_codes: Sequence[str] | None = None) -> Place:
        """Coordinates of ``address``; InvalidError if it cannot be found, UnavailableError if
        the service cannot be asked."""
        ...


class NominatimGeocoder:
    """A Nominatim server (the public one or, better, a self-hosted one) at ``url``."""

    def __init__(
        self,
        url: str,
        *,
        user_agent: str = DEFAULT_USER_AGENT,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"geocoder url {url!r} is not an http(s) base URL")
        self.url = url
        # geopy puts the path of the endpoint ("/search") after the domain, so a server
        # mounted under a prefix (https://example.org/nominatim) keeps its prefix.
        self._nominatim = Nominatim(
            domain=parts.netloc + parts.path.rstrip("/"),
            scheme=parts.scheme,
            user_agent=user_agent,
            timeout=timeout_seconds,
        )

    def locate(self, address: str, *, country_codes: Sequence[str] | None = None) -> Place:
        query = address.strip()
        if not query:
            raise InvalidError("address is empty", field="address", value=address)
        try:
            found = self._nominatim.geocode(
                query, exactly_one=True, country_codes=list(country_codes or ()) or None
            )
        except GeocoderQueryError as exc:
            raise InvalidError(
                f"the geocoder refused address {address!r}: {exc}", field="address", value=address
            ) from exc
        except (GeopyError, ValueError, TypeError) as exc:
            # Timeouts, refused connections, 5xx answers and unreadable replies alike: the
            # address may be fine, so the caller should retry rather than fix the input.
            raise UnavailableError(
                f"the geocoder at {self.url} is unavailable: {exc}",
                field="geocoder_url",
                value=self.url,
            ) from exc
        if found is None or found.raw.get("lat") is None or found.raw.get("lon") is None:
            raise _not_geocoded(address)
        lat, lon = float(found.latitude), float(found.longitude)
        # geopy turns a missing coordinate into 0, and (0, 0) in the Gulf of Guinea is no
        # customer's site. Results are not checked against the region's area: a wrong match in
        # another city shows on the dispatcher's map, while a bounding box per region would
        # need data regions do not carry.
        if not (math.isfinite(lat) and math.isfinite(lon)) or (lat, lon) == (0.0, 0.0):
            raise _not_geocoded(address)
        return Place(lat, lon, found.address or query)


def locate(
    geocoder: Geocoder | None, address: str, *, country_codes: Sequence[str] | None = None
) -> Place:
    """Where ``address`` is, through ``geocoder``; with geocoding off (None) a clear error
    rather than a guess."""
    if geocoder is None:
        raise InvalidError(
            f"address {address!r} has no coordinates and geocoding is off: give lat and lon, "
            f"or configure a geocoder (DISPATCH_GEOCODER_URL)",
            field="address",
            value=address,
        )
    return geocoder.locate(address, country_codes=country_codes)


def from_settings(settings: Settings) -> Geocoder | None:
    """The configured geocoder, or None when ``geocoder_url`` is unset (geocoding off)."""
    if settings.geocoder_url is None:
        return None
    return NominatimGeocoder(
        settings.geocoder_url,
        user_agent=settings.geocoder_user_agent,
        timeout_seconds=settings.geocoder_timeout_seconds,
    )


def _not_geocoded(address: str) -> InvalidError:
    return InvalidError(
        f"address {address!r} could not be geocoded; check it or give lat and lon",
        field="address",
        value=address,
    )
