"""Travel matrices: accurate, fast to build, cached; OSRM read from its table format."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from geopy.distance import geodesic
from hypothesis import given, settings
from hypothesis import strategies as st

from routing import GreatCircle, Location, Osrm
from routing.travel import UNREACHABLE, OsrmError, ellipsoid_distance

latitudes = st.floats(min_value=-80, max_value=80)
longitudes = st.floats(min_value=-180, max_value=180)


@settings(max_examples=300, deadline=None)
@given(latitudes, longitudes, latitudes, longitudes)
def test_distance_agrees_with_geopy_within_half_a_percent(
    lat1: float, lon1: float, lat2: float, lon2: float
) -> None:
    exact = geodesic((lat1, lon1), (lat2, lon2)).meters
    ours = float(ellipsoid_distance(lat1, lon1, lat2, lon2))
    assert abs(ours - exact) <= max(0.005 * exact, 1.0)


def test_distances_in_a_city_agree_to_the_metre() -> None:
    rng = np.random.default_rng(7)
    for _ in range(200):
        a = (rng.uniform(55.5, 56.0), rng.uniform(37.3, 37.9))
        b = (rng.uniform(55.5, 56.0), rng.uniform(37.3, 37.9))
        assert abs(float(ellipsoid_distance(*a, *b)) - geodesic(a, b).meters) < 1.0


def test_matrix_applies_detour_and_speed() -> None:
    points = [Location(55.75, 37.60), Location(55.80, 37.70)]
    straight = float(ellipsoid_distance(55.75, 37.60, 55.80, 37.70))
    matrices = GreatCircle(speed_kmh=36, detour_factor=1.5).matrices(points)
    assert matrices.metres[0, 1] == round(straight * 1.5)
    assert matrices.seconds[0, 1] == round(straight * 1.5 / 10)  # 36 km/h is 10 m/s
    assert matrices.seconds[0, 0] == 0
    assert (matrices.metres == matrices.metres.T).all()


def test_matrices_are_cached_by_point_set() -> None:
    provider = GreatCircle()
    points = [Location(55.7, 37.6), Location(55.8, 37.5), Location(55.9, 37.4)]
    assert provider.matrices(points) is provider.matrices(list(points))
    assert provider.matrices(points[:2]) is not provider.matrices(points)


def test_thousands_of_points_build_one_matrix() -> None:
    rng = np.random.default_rng(1)
    points = [
        Location(float(a), float(b))
        for a, b in zip(rng.uniform(55, 56, 1500), rng.uniform(37, 38, 1500), strict=True)
    ]
    matrices = GreatCircle().matrices(points)
    assert matrices.seconds.shape == (1500, 1500)
    assert matrices.seconds.dtype == np.int64


def test_coordinates_out_of_range_are_named() -> None:
    bad = GreatCircle().invalid([Location(55, 37), Location(91, 0), Location(0, float("nan"))])
    assert set(bad) == {1, 2}
    assert "outside latitude" in bad[1]


class _OsrmHandler(BaseHTTPRequestHandler):
    """Speaks OSRM's table format: duration = 100 s per unit of longitude difference; points
    with longitude 99 cannot be routed to or from."""

    requests: list[str] = []

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        type(self).requests.append(url.path)
        coords = [tuple(map(float, c.split(","))) for c in url.path.split("/")[-1].split(";")]
        query = parse_qs(url.query)
        sources = [int(i) for i in query["sources"][0].split(";")]
        targets = [int(i) for i in query["destinations"][0].split(";")]

        def cell(a: int, b: int, scale: float) -> float | None:
            if 99.0 in (coords[a][0], coords[b][0]) and a != b:
                return None
            return abs(coords[a][0] - coords[b][0]) * scale

        body = {
            "code": "Ok",
            "durations": [[cell(a, b, 100) for b in targets] for a in sources],
            "distances": [[cell(a, b, 1000) for b in targets] for a in sources],
        }
        payload = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def osrm_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OsrmHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _OsrmHandler.requests = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_osrm_table_is_read_in_blocks(osrm_url: str) -> None:
    points = [Location(55.0, float(lon)) for lon in range(7)]
    matrices = Osrm(osrm_url, max_table_size=4).matrices(points)
    assert matrices.seconds[0, 6] == 600
    assert matrices.metres[2, 5] == 3000
    assert len(_OsrmHandler.requests) > 1  # 7 points in blocks of 2 sources x 2 targets
    assert all(r.startswith("/table/v1/driving/") for r in _OsrmHandler.requests)


def test_osrm_unroutable_pairs_are_unreachable(osrm_url: str) -> None:
    matrices = Osrm(osrm_url).matrices([Location(55, 1), Location(55, 99), Location(55, 3)])
    assert matrices.seconds[0, 1] == UNREACHABLE
    assert matrices.seconds[0, 2] == 200


def test_osrm_failure_is_a_clear_error() -> None:
    with pytest.raises(OsrmError, match=re.escape("127.0.0.1:9")):
        Osrm("http://127.0.0.1:9", timeout_seconds=2).matrices([Location(1, 1), Location(2, 2)])
