"""Helpers for the map page: decile colours, the choropleth payload, its layers, the initial view and a compact deck."""

from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd
import pydeck as pdk

# Decile 1 (most deprived) … 10 (least deprived): a diverging red–blue scale, colour-blind safe
# (ColorBrewer RdYlBu, 10 classes).
DECILE_COLOURS: tuple[tuple[int, int, int], ...] = (
    (165, 0, 38),
    (215, 48, 39),
    (244, 109, 67),
    (253, 174, 97),
    (254, 224, 144),
    (224, 243, 248),
    (171, 217, 233),
    (116, 173, 209),
    (69, 117, 180),
    (49, 54, 149),
)
NO_DATA = (160, 160, 160)
# Above this many areas the map starts without outlines: drawing them is most of a city-wide
# map's first render where WebGL runs in software (London's 4,835 LSOAs: 12 s with, 4–5 s without,
# headless Chromium on 2 cores).
OUTLINE_LIMIT = 1000


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
    lookup = deciles.to_dict()
    features = []
    for feature in geojson["features"]:  # new feature and properties dicts; the geometries are shared, never mutated
        decile = lookup.get(feature["properties"].get("lsoa_code"))
        known = decile is not None and not pd.isna(decile)
        properties = {
            **feature["properties"],
            "decile": int(decile) if known else None,
            "fill": decile_colour(decile, alpha),
        }
        features.append({**feature, "properties": properties})
    return {**geojson, "features": features}


def view_of(lat: np.ndarray, lon: np.ndarray) -> dict:
    """Centre and zoom that show every point (a web-mercator zoom from the larger extent)."""
    lat, lon = np.asarray(lat, float), np.asarray(lon, float)
    extent = max(np.nanmax(lat) - np.nanmin(lat), (np.nanmax(lon) - np.nanmin(lon)) * np.cos(np.radians(np.nanmean(lat))))
    zoom = float(np.clip(np.log2(360 / max(extent, 1e-4)) - 0.5, 1, 16))
    return {"latitude": float(np.nanmean(lat)), "longitude": float(np.nanmean(lon)), "zoom": zoom}


def decile_hex() -> list[str]:
    """The decile colours as hex strings, decile 1 first (for charts)."""
    return ["#{:02x}{:02x}{:02x}".format(*c) for c in DECILE_COLOURS]


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


def legend_markdown(synthetic: bool = False) -> str:
    """An HTML legend of the ten decile colours (a synthetic city's deciles rank its own areas, not England's)."""
    swatches = "".join(
        f'<span style="background:rgb{c};width:1.6em;display:inline-block;text-align:center;'
        f'color:{"white" if i in (0, 1, 8, 9) else "black"}">{i + 1}</span>'
        for i, c in enumerate(DECILE_COLOURS)
    )
    among = "of this synthetic city's areas" if synthetic else "of LSOAs in England"
    return f"**Decile** (1 = most deprived 10% {among}) {swatches}"


def choropleth_layer(boundaries: dict, *, outlined: bool) -> pdk.Layer:
    """The areas filled with their decile colour (`coloured_geojson`), outlined in thin white where asked."""
    return pdk.Layer(
        "GeoJsonLayer",
        boundaries,
        id=AREAS,
        pickable=True,
        stroked=outlined,
        filled=True,
        get_fill_color="properties.fill",
        get_line_color=[255, 255, 255, 90],
        line_width_min_pixels=0.5,
    )


def photo_points(photos: pd.DataFrame, domain_key: str) -> pd.DataFrame:
    """The located photos as map points: photo_id, lat, lon, the tooltip's first line (`lsoa_name`: the photo's id,
    split and area), its area's code and decile in one domain."""
    points = photos.reset_index()[["photo_id", "lat", "lon", "lsoa_name", "lsoa_code"]]
    split = photos["split"].to_numpy() if "split" in photos else np.full(len(photos), "no split")
    titles = [f"Photo {p} ({s}), {a}" for p, s, a in zip(points["photo_id"], split, points["lsoa_name"], strict=True)]
    points = points.assign(lsoa_name=titles, decile=photos[f"{domain_key}_decile"].to_numpy())
    return points.dropna(subset=["lat", "lon"])


def photo_layer(points: pd.DataFrame) -> pdk.Layer:
    """The photos (`photo_points`) as small dark dots."""
    return pdk.Layer(
        "ScatterplotLayer",
        points,
        get_position=["lon", "lat"],
        get_radius=30,
        radius_min_pixels=2,
        get_fill_color=[20, 20, 20, 200],
        pickable=True,
        id=PHOTOS,
    )


def decile_tooltip(domain_label: str) -> dict:
    """The hover text of an area or photo: its area's name (a photo's id, split and area), code and decile.

    Both layers fill the same fields: Streamlit leaves a field an object lacks as literal `{name}`,
    and one more field on every London area would push the map's payload past 3 MB.
    """
    return {"html": "<b>{lsoa_name}</b> {lsoa_code}<br/>" + f"{domain_label} decile: " + "{decile}"}


AREAS, PHOTOS = "areas", "photos"  # the layers' ids, which a click's selection names
HELD_OUT = ("test", "val")


def default_photo(photos: pd.DataFrame, inverted: dict[str, set]) -> str:
    """The photo a map page opens on: a held-out one (never trained on) that the most methods inverted.

    `inverted` maps each method to the photo ids it inverted (the projector and the hybrid invert the
    held-out photos only, so a training photo would show two methods of the four).
    """
    held_out = photos.index[photos["split"].isin(HELD_OUT)] if "split" in photos else photos.index[:0]
    candidates = held_out if len(held_out) else photos.index
    counts = pd.Series([sum(p in ids for ids in inverted.values()) for p in candidates], index=candidates)
    return str(counts.idxmax()) if len(counts) else str(photos.index[0])


def clicked(selection: dict | None) -> tuple[str, str] | None:
    """What a click on the map picked, from `st.pydeck_chart`'s selection: ("photo", photo_id), ("area", lsoa_code) or None.

    A photo wins where a click hit a photo and its area at once.
    """
    objects = ((selection or {}).get("selection") or {}).get("objects") or {}
    for obj in objects.get(PHOTOS) or []:
        if obj.get("photo_id") is not None:
            return "photo", str(obj["photo_id"])
    for obj in objects.get(AREAS) or []:
        code = (obj.get("properties") or {}).get("lsoa_code", obj.get("lsoa_code"))
        if code is not None:
            return "area", str(code)
    return None


class CompactDeck(pdk.Deck):
    """A pydeck Deck with no basemap whose JSON is compact and quick to write (what `st.pydeck_chart` sends).

    No basemap: the areas drawn carry the map, and a tile basemap would fail with no internet (a
    conference hall) and, on a network, tell a tile host that the page was opened. (Given no style,
    Streamlit would fetch one from a tile host; with no map provider pydeck asks for none.)

    pydeck serialises layer data through a pure-Python, key-sorting, indenting encoder: for a London
    choropleth (4,835 polygons) that is seconds of server time and 13 MB on the wire. Here pydeck
    writes the deck from copies of its layers without their data, and the data is then added with the
    C JSON encoder, compactly. The deck's own layers are left as they were.
    """

    def __init__(self, **deck_arguments):
        super().__init__(map_provider=None, **deck_arguments)

    def to_json(self) -> str:
        bare = copy.copy(self)
        bare.layers = [dataless(layer) for layer in self.layers]
        spec = json.loads(pdk.Deck.to_json(bare))
        for layer_spec, layer in zip(spec["layers"], self.layers, strict=True):
            if layer.data is not None:
                layer_spec["data"] = layer.data
        return json.dumps(spec, separators=(",", ":"), default=_jsonable)


def dataless(layer: pdk.Layer) -> pdk.Layer:
    """A copy of a layer with no data (the original keeps its own)."""
    bare = copy.copy(layer)
    bare.data = None
    return bare


def _jsonable(value):
    """numpy scalars and arrays in layer records, as JSON."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def score_deciles(scores: pd.Series) -> pd.Series:
    """Continuous area scores (by lsoa_code) as deciles among the areas, 1 lowest, for the decile palette."""
    ranks = scores.rank(method="first")
    return pd.Series(np.ceil(10 * ranks / len(scores)).clip(1, 10).astype(int), index=scores.index) if len(scores) else scores
