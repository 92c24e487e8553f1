"""Pure helpers for the map page: decile colours, the choropleth payload and the initial view."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd

# Decile 1 (most deprived) … 10 (least deprived): a diverging red–blue scale, colour-blind safe
# (ColorBrewer RdYlBu, 10 classes).
DECILE_COLOURS: tuple[tuple[int, int, int], ...] = (
    (165, 0, 38), (215, 48, 39), (244, 109, 67), (253, 174, 97), (254, 224, 144),
    (224, 243, 248), (171, 217, 233), (116, 173, 209), (69, 117, 180), (49, 54, 149),
)  # fmt: skip
NO_DATA = (160, 160, 160)


def decile_colour(decile, alpha: int = 170) -> list[int]:
    """RGBA for a decile 1–10; grey for a missing one."""
    if decile is None or pd.isna(decile) or not 1 <= int(decile) <= 10:
        return [*NO_DATA, alpha]
    return [*DECILE_COLOURS[int(decile) - 1], alpha]


def coloured_geojson(geojson: dict, deciles: pd.Series, alpha: int = 170) -> dict:
    """A copy of the web boundaries with each feature's `decile` and its `fill` RGBA.

    Args:
        geojson: FeatureCollection whose features carry `lsoa_code`.
        deciles: one domain's deciles indexed by lsoa_code; a missing code is drawn grey.
    """
    out = copy.deepcopy(geojson)
    lookup = deciles.to_dict()
    for feature in out["features"]:
        decile = lookup.get(feature["properties"]["lsoa_code"])
        feature["properties"]["decile"] = None if decile is None or pd.isna(decile) else int(decile)
        feature["properties"]["fill"] = decile_colour(decile, alpha)
    return out


def view_of(lat: np.ndarray, lon: np.ndarray) -> dict:
    """Centre and zoom that show every point (a web-mercator zoom from the larger extent)."""
    lat, lon = np.asarray(lat, float), np.asarray(lon, float)
    extent = max(np.nanmax(lat) - np.nanmin(lat), (np.nanmax(lon) - np.nanmin(lon)) * np.cos(np.radians(np.nanmean(lat))))
    zoom = float(np.clip(np.log2(360 / max(extent, 1e-4)) - 0.5, 1, 16))
    return {"latitude": float(np.nanmean(lat)), "longitude": float(np.nanmean(lon)), "zoom": zoom}


def decile_hex() -> list[str]:
    """The decile colours as hex strings, decile 1 first (for charts)."""
    return ["#%02x%02x%02x" % c for c in DECILE_COLOURS]


def geojson_lonlat(geojson: dict) -> np.ndarray:
    """Every coordinate of a FeatureCollection of (Multi)Polygons, (n, 2) lon/lat."""
    points = []
    for feature in geojson["features"]:
        geometry = feature["geometry"]
        polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
        for polygon in polygons:
            for ring in polygon:
                points.extend(ring)
    return np.asarray(points, float).reshape(-1, 2)


def initial_view(photos: pd.DataFrame, geojson: dict) -> dict:
    """The view of the photos, or of the areas where no photo has coordinates."""
    located = photos[["lat", "lon"]].dropna()
    if len(located):
        return view_of(located["lat"], located["lon"])
    lonlat = geojson_lonlat(geojson)
    return view_of(lonlat[:, 1], lonlat[:, 0])


def legend_markdown() -> str:
    """An HTML legend of the ten decile colours."""
    swatches = "".join(
        f'<span style="background:rgb{c};width:1.6em;display:inline-block;text-align:center;'
        f'color:{"white" if i in (0, 1, 8, 9) else "black"}">{i + 1}</span>'
        for i, c in enumerate(DECILE_COLOURS)
    )
    return f"**Decile** (1 = most deprived 10% of LSOAs in England) {swatches}"


def compact_deck(**deck_args):
    """A pydeck Deck whose JSON is compact: pydeck indents its JSON, which makes a London choropleth
    (4,835 polygons) four times larger on the wire and slow to parse in the browser."""
    import json

    import pydeck as pdk

    class CompactDeck(pdk.Deck):
        def to_json(self):
            return json.dumps(json.loads(super().to_json()), separators=(",", ":"))

    return CompactDeck(**deck_args)
