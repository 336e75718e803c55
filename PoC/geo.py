"""Geometry helpers: ISO 6709 coordinates and great-circle distance.

Usage:
    from geo import parse_iso6709, haversine_km
    lat, lon = parse_iso6709("+513030-0000731")   # London
    haversine_km(lat, lon, 48.8667, 2.3333)        # ~ 340 km to Paris
"""

from __future__ import annotations

import math
import re

EARTH_RADIUS_KM = 6371.0088
_ISO6709 = re.compile(r"^([+-])(\d{2})(\d{2})(\d{2})?([+-])(\d{3})(\d{2})(\d{2})?$")


def parse_iso6709(text: str) -> tuple[float, float]:
    """Decimal (lat, lon) of '±DDMM±DDDMM' or '±DDMMSS±DDDMMSS'; ValueError otherwise."""
    match = _ISO6709.match(text)
    if not match:
        raise ValueError(f"not ISO 6709 sign-degrees-minutes[-seconds]: {text!r}")
    lat_sign, lat_d, lat_m, lat_s, lon_sign, lon_d, lon_m, lon_s = match.groups()
    lat = int(lat_d) + int(lat_m) / 60 + int(lat_s or 0) / 3600
    lon = int(lon_d) + int(lon_m) / 60 + int(lon_s or 0) / 3600
    return (-lat if lat_sign == "-" else lat, -lon if lon_sign == "-" else lon)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))
