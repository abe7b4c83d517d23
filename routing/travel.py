"""Travel matrices (seconds and metres between every pair of points) from pluggable providers,
computed once per point set and cached."""

from __future__ import annotations

import json
import logging
import math
import urllib.error
import urllib.request
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from routing.problem import Location

log = logging.getLogger(__name__)

# Seconds (and metres) standing for "no way there"; far beyond any horizon, far below int64.
UNREACHABLE = 10**9
WGS84_A = 6_378_137.0
WGS84_F = 1 / 298.257223563
ROW_BLOCK = 512  # rows per vectorised block: bounds temporary memory to ~ROW_BLOCK * n floats


@dataclass(frozen=True)
class TravelMatrices:
    """Square int64 matrices indexed like the points they were built for."""

    seconds: np.ndarray
    metres: np.ndarray

    @property
    def size(self) -> int:
        return int(self.seconds.shape[0])


class MatrixProvider(Protocol):
    def matrices(self, points: Sequence[Location]) -> TravelMatrices: ...

    def invalid(self, points: Sequence[Location]) -> dict[int, str]:
        """Points this provider cannot use, by index, with the reason."""
        ...


def _degrees_invalid(points: Sequence[Location]) -> dict[int, str]:
    bad = {}
    for index, p in enumerate(points):
        if not (math.isfinite(p.lat) and math.isfinite(p.lon)):
            bad[index] = "coordinates are not numbers"
        elif not (-90 <= p.lat <= 90 and -180 <= p.lon <= 180):
            bad[index] = f"({p.lat}, {p.lon}) is outside latitude -90..90 / longitude -180..180"
    return bad


class _Cached:
    """Keeps the last few matrices by point set, so solving, checking and explaining one
    problem compute them once."""

    def __init__(self, cache_size: int = 4) -> None:
        self._cache: OrderedDict[tuple[tuple[float, float], ...], TravelMatrices] = OrderedDict()
        self._cache_size = cache_size

    def matrices(self, points: Sequence[Location]) -> TravelMatrices:
        key = tuple((p.lat, p.lon) for p in points)
        found = self._cache.get(key)
        if found is None:
            found = self._compute(np.array(key, dtype=np.float64).reshape(-1, 2))
            self._cache[key] = found
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return found

    def _compute(self, coords: np.ndarray) -> TravelMatrices:
        raise NotImplementedError

    def __getstate__(self) -> dict[str, object]:
        # Worker processes get the settings, not the cache.
        state = dict(self.__dict__)
        state["_cache"] = OrderedDict()
        return state


def _reduced(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per-point terms of Lambert's formula: sine and cosine of the reduced latitude and of
    the longitude."""
    beta = np.arctan((1 - WGS84_F) * np.tan(np.radians(lat)))
    lam = np.radians(lon)
    return np.sin(beta), np.cos(beta), np.cos(lam), np.sin(lam)


def ellipsoid_distance(
    lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
) -> np.ndarray:
    """Metres on the WGS84 ellipsoid by Lambert's formula (within metres of the exact
    geodesic at regional distances), vectorised over broadcastable arrays of degrees."""
    shape = np.broadcast(lat1, lon1, lat2, lon2).shape
    first = _reduced(np.atleast_1d(lat1), np.atleast_1d(lon1))
    second = _reduced(np.atleast_1d(lat2), np.atleast_1d(lon2))
    return _lambert(first, second).reshape(shape)


def _arcsin(x: np.ndarray) -> None:
    """In-place arcsin; for the small arguments of regional distances (under ~600 km) a
    four-term series, exact to 1e-12 and several times cheaper than np.arcsin."""
    if x.size and float(x.max()) <= 0.05:
        x2 = x * x
        series = x2 * (5 / 112)
        series += 3 / 40
        series *= x2
        series += 1 / 6
        series *= x2
        series += 1.0
        x *= series
    else:
        np.arcsin(x, out=x)


def _lambert(a: tuple[np.ndarray, ...], b: tuple[np.ndarray, ...]) -> np.ndarray:
    # Sums and products of per-point terms, computed in place: one arcsin and two square
    # roots per pair keep an n x n matrix fast and its temporaries few.
    s1, c1, cl1, sl1 = a
    s2, c2, cl2, sl2 = b
    cos_sigma = cl1 * cl2
    cos_sigma += sl1 * sl2  # cos(dlon)
    cos_sigma *= c1 * c2
    cos_sigma += s1 * s2
    np.clip(cos_sigma, -1.0, 1.0, out=cos_sigma)
    half_chord = 1.0 - cos_sigma
    half_chord *= 0.5
    sigma = np.sqrt(half_chord)
    _arcsin(sigma)
    sigma *= 2.0
    sin_sigma = 1.0 - cos_sigma * cos_sigma
    np.sqrt(sin_sigma, out=sin_sigma)
    # sin^2(P)cos^2(Q) and cos^2(P)sin^2(Q), P and Q the half sum and half difference.
    sum_sq = np.square((s1 + s2) * 0.5)
    diff_sq = np.square((s2 - s1) * 0.5)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = sigma - sin_sigma
        x *= sum_sq
        x /= (1.0 + cos_sigma) * 0.5
        y = sigma + sin_sigma
        y *= diff_sq
        y /= half_chord
        # Nearly antipodal pairs make Lambert's first term blow up; without it the result
        # is the spherical distance, still within 0.3% of the geodesic.
        x[(1.0 + cos_sigma) < 1e-9] = 0.0
        x += y
        x *= -WGS84_F / 2
        x += sigma
        x *= WGS84_A
    x[sigma <= 1e-9] = 0.0
    return x


class GreatCircle(_Cached):
    """Road distance as the ellipsoidal distance times a detour factor, driven at an average
    speed. Coordinates are degrees of latitude and longitude."""

    def __init__(self, speed_kmh: float = 30.0, detour_factor: float = 1.3, cache_size: int = 4):
        if speed_kmh <= 0 or detour_factor < 1:
            raise ValueError(
                f"speed_kmh={speed_kmh} must be > 0 and detour_factor={detour_factor} >= 1"
            )
        super().__init__(cache_size)
        self.speed_kmh = speed_kmh
        self.detour_factor = detour_factor

    def invalid(self, points: Sequence[Location]) -> dict[int, str]:
        return _degrees_invalid(points)

    def _compute(self, coords: np.ndarray) -> TravelMatrices:
        n = len(coords)
        metres = np.empty((n, n), dtype=np.int64)
        lat, lon = coords[:, 0], coords[:, 1]
        for start in range(0, n, ROW_BLOCK):
            stop = min(n, start + ROW_BLOCK)
            block = ellipsoid_distance(
                lat[start:stop, None], lon[start:stop, None], lat[None, :], lon[None, :]
            )
            metres[start:stop] = np.rint(block * self.detour_factor)
        seconds = np.rint(metres / (self.speed_kmh / 3.6)).astype(np.int64)
        return TravelMatrices(seconds=seconds, metres=metres)


class Euclidean(_Cached):
    """Planar coordinates for benchmarks and tests: distance ``floor(scale * d)`` used as both
    metres and seconds (the DIMACS convention for Solomon instances with scale 10)."""

    def __init__(self, scale: float = 1.0, cache_size: int = 4) -> None:
        super().__init__(cache_size)
        self.scale = scale

    def invalid(self, points: Sequence[Location]) -> dict[int, str]:
        return {
            i: "coordinates are not numbers"
            for i, p in enumerate(points)
            if not (math.isfinite(p.lat) and math.isfinite(p.lon))
        }

    def _compute(self, coords: np.ndarray) -> TravelMatrices:
        diff = coords[:, None, :] - coords[None, :, :]
        # The small epsilon keeps exact products like 10 * 7.0 from flooring to 69.
        d = np.floor(self.scale * np.sqrt((diff**2).sum(axis=2)) + 1e-9).astype(np.int64)
        return TravelMatrices(seconds=d, metres=d.copy())


class OsrmError(RuntimeError):
    """The OSRM server could not be reached or answered with an error."""


class Osrm(_Cached):
    """Road times and distances from an OSRM server's ``table`` service, asked in blocks of at
    most ``max_table_size`` points. Pairs OSRM cannot route are UNREACHABLE."""

    def __init__(
        self,
        url: str,
        profile: str = "driving",
        max_table_size: int = 100,
        timeout_seconds: float = 30.0,
        cache_size: int = 4,
    ) -> None:
        super().__init__(cache_size)
        self.url = url.rstrip("/")
        self.profile = profile
        self.max_table_size = max_table_size
        self.timeout_seconds = timeout_seconds

    def invalid(self, points: Sequence[Location]) -> dict[int, str]:
        # Only coordinates are checked here; points OSRM cannot route to show up as
        # UNREACHABLE entries, which explain an unassigned job as invalid_location.
        return _degrees_invalid(points)

    def _compute(self, coords: np.ndarray) -> TravelMatrices:
        n = len(coords)
        seconds = np.full((n, n), UNREACHABLE, dtype=np.int64)
        metres = np.full((n, n), UNREACHABLE, dtype=np.int64)
        half = max(1, self.max_table_size // 2)
        blocks = [list(range(s, min(n, s + half))) for s in range(0, n, half)]
        for sources in blocks:
            for targets in blocks:
                self._table(coords, sources, targets, seconds, metres)
        np.fill_diagonal(seconds, 0)
        np.fill_diagonal(metres, 0)
        return TravelMatrices(seconds=seconds, metres=metres)

    def _table(
        self,
        coords: np.ndarray,
        sources: list[int],
        targets: list[int],
        seconds: np.ndarray,
        metres: np.ndarray,
    ) -> None:
        points = list(dict.fromkeys(sources + targets))
        position = {p: i for i, p in enumerate(points)}
        where = ";".join(f"{coords[p, 1]:.6f},{coords[p, 0]:.6f}" for p in points)
        query = (
            f"sources={';'.join(str(position[s]) for s in sources)}"
            f"&destinations={';'.join(str(position[t]) for t in targets)}"
            "&annotations=duration,distance"
        )
        url = f"{self.url}/table/v1/{self.profile}/{where}?{query}"
        try:
            with urllib.request.urlopen(url, timeout=self.timeout_seconds) as response:  # noqa: S310
                body = json.loads(response.read())
        except (urllib.error.URLError, TimeoutError, json.JSONDecodeError) as exc:
            raise OsrmError(f"OSRM table request to {self.url} failed: {exc}") from exc
        if body.get("code") != "Ok":
            raise OsrmError(f"OSRM answered {body.get('code')}: {body.get('message', '')}")
        for i, source in enumerate(sources):
            for j, target in enumerate(targets):
                duration = body["durations"][i][j]
                distance = body["distances"][i][j]
                if duration is not None and distance is not None:
                    seconds[source, target] = round(duration)
                    metres[source, target] = round(distance)
