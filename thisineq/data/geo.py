"""LSOA boundaries: robust reading, web GeoJSON for the map and point-in-LSOA joins."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS, Transformer

from thisineq.errors import ConfigError, MissingFileError, ThisIneqError, UnknownKeyError
from thisineq.io import atomic_open

log = logging.getLogger(__name__)

METRIC_CRS = "EPSG:27700"  # British National Grid: metres, used for all geometry work
DISPLAY_CRS = "EPSG:4326"  # WGS84 lon/lat: what pydeck and RFC 7946 GeoJSON expect

CODE_CANDIDATES: tuple[str, ...] = (
    "LSOA11CD",
    "LSOA21CD",
    "lsoa11cd",
    "lsoa21cd",
    "LSOA_CODE",
    "lsoa_code",
    "LSOA code (2011)",
    "code",
)
NAME_CANDIDATES: tuple[str, ...] = (
    "LSOA11NM",
    "LSOA21NM",
    "lsoa11nm",
    "lsoa21nm",
    "LSOA_NAME",
    "lsoa_name",
    "LSOA name (2011)",
    "name",
)
SUPPORTED_SUFFIXES: tuple[str, ...] = (".shp", ".geojson", ".json", ".gpkg")

# Extent of the Ordnance Survey national grid squares (metres); used only to guess a missing CRS.
BNG_EXTENT = (0.0, 0.0, 700_000.0, 1_300_000.0)
LONLAT_EXTENT = (-180.0, -90.0, 180.0, 90.0)

_POLYGONAL = {"Polygon", "MultiPolygon"}
_EXAMPLES = 5  # how many offending codes or rows an error message lists


class BoundaryFormatError(ThisIneqError, ValueError):
    """A boundary file that cannot be used as a set of LSOA polygons."""


def read_boundaries(
    path: str | os.PathLike, *, code_column: str | None = None, name_column: str | None = None
) -> gpd.GeoDataFrame:
    """Read LSOA polygons from a shapefile, GeoJSON or GeoPackage and validate them.

    Args:
        path: the boundary file (.shp, .geojson/.json or .gpkg).
        code_column: the column holding LSOA codes; found among `CODE_CANDIDATES` if omitted.
        name_column: the column holding LSOA names; found among `NAME_CANDIDATES` if omitted
            (optional: without one, `lsoa_name` is all missing).

    Returns:
        GeoDataFrame with `lsoa_code` (str), `lsoa_name` (str, may be missing), the file's other
        attribute columns, and polygonal geometry in METRIC_CRS. Invalid geometries are repaired.

    Raises:
        MissingFileError: the file does not exist (a FileNotFoundError too).
        BoundaryFormatError: unsupported format, unreadable, empty, no or ambiguous code column,
            missing/empty/non-polygon geometries, duplicated or blank codes, unknown CRS.
    """
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"boundary file {path} does not exist")
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise BoundaryFormatError(
            f"{path}: unsupported boundary format {path.suffix!r}; expected one of {', '.join(SUPPORTED_SUFFIXES)}"
        )
    layer = _choose_layer(path, code_column)
    try:
        raw = gpd.read_file(path, layer=layer) if layer is not None else gpd.read_file(path)
    except Exception as exc:  # pyogrio raises several unrelated types for corrupt files
        raise BoundaryFormatError(f"{path}: cannot be read as a vector file: {exc}") from exc
    if not isinstance(raw, gpd.GeoDataFrame):
        raise BoundaryFormatError(f"{path}: has no geometry column (layer {layer!r})")
    if len(raw) == 0:
        raise BoundaryFormatError(f"{path}: has no features")
    attributes = [c for c in raw.columns if c != raw.geometry.name]
    code_col = _pick_column(path, attributes, code_column, CODE_CANDIDATES, "LSOA code", required=True)
    name_col = _pick_column(path, attributes, name_column, NAME_CANDIDATES, "LSOA name", required=False)
    codes = _clean_codes(path, raw[code_col])
    _check_geometries(path, raw.geometry, codes)
    crs = _resolve_crs(path, raw)
    names = raw[name_col].astype("str") if name_col else pd.Series(np.nan, index=raw.index, dtype="str")
    others = {
        (f"{c}_original" if c in ("lsoa_code", "lsoa_name") else c): raw[c] for c in attributes if c not in (code_col, name_col)
    }
    out = gpd.GeoDataFrame(
        {"lsoa_code": codes, "lsoa_name": names, **others},
        geometry=raw.geometry.to_numpy(),
        crs=crs,
        index=pd.RangeIndex(len(raw)),
    )
    if _same_crs(crs, METRIC_CRS):
        out = out.set_crs(METRIC_CRS, allow_override=True)  # one canonical spelling of the CRS
    else:
        out = out.to_crs(METRIC_CRS)
    repaired = _repair(path, out.geometry.to_numpy(), out["lsoa_code"])
    out["geometry"] = gpd.GeoSeries(repaired, index=out.index, crs=METRIC_CRS)
    return out


def _choose_layer(path: Path, code_column: str | None) -> str | None:
    """The layer to read: None for single-layer files, else the one polygon layer with a code column.

    Args:
        path: the vector file.
        code_column: the explicit code column, if any, which the layer must have.

    Returns:
        The layer name, or None when the file has a single layer.
    """
    try:
        layers = pyogrio.list_layers(path)
    except Exception as exc:
        raise BoundaryFormatError(f"{path}: cannot be read as a vector file: {exc}") from exc
    if len(layers) <= 1:
        return None
    wanted = {c.lower() for c in ([code_column] if code_column else CODE_CANDIDATES)}
    fitting = []
    for name, geometry_type in layers:
        if geometry_type is None or "polygon" not in str(geometry_type).lower():
            continue
        fields = pyogrio.read_info(path, layer=name)["fields"]
        if any(str(f).lower() in wanted for f in fields):
            fitting.append(name)
    if len(fitting) != 1:
        listing = ", ".join(f"{n} ({t})" for n, t in layers)
        problem = "none has" if not fitting else f"{len(fitting)} have"
        raise BoundaryFormatError(
            f"{path}: has {len(layers)} layers and {problem} polygons with an LSOA code column; layers found: {listing}"
        )
    return str(fitting[0])


def _pick_column(
    path: Path,
    columns: Sequence[str],
    given: str | None,
    candidates: Iterable[str],
    what: str,
    *,
    required: bool,
) -> str | None:
    """Find the column holding `what`, matching `candidates` case-insensitively.

    Args:
        path: the file, for error messages.
        columns: the attribute columns present.
        given: an explicit column name, which must exist.
        candidates: accepted column names.
        what: a human name for the column ("LSOA code").
        required: whether a missing column is an error.

    Returns:
        The column name, or None when not required and absent.
    """
    if given is not None:
        if given not in columns:
            raise BoundaryFormatError(f"{path}: no {what} column {given!r}; columns found: {list(columns)}")
        return given
    wanted = {c.lower() for c in candidates}
    found = [c for c in columns if str(c).lower() in wanted]
    if len(found) > 1:
        argument = "code_column" if what == "LSOA code" else "name_column"
        raise BoundaryFormatError(f"{path}: several possible {what} columns {found}; pass {argument}= to choose one")
    if not found:
        if required:
            raise BoundaryFormatError(
                f"{path}: no {what} column (looked for {', '.join(candidates)}); columns found: {list(columns)}"
            )
        return None
    return found[0]


def _clean_codes(path: Path, raw: pd.Series) -> pd.Series:
    """LSOA codes as stripped strings, which must be present, non-blank and unique.

    Args:
        path: the file, for error messages.
        raw: the code column as read.

    Returns:
        The codes, dtype str.
    """
    codes = raw.astype("str").str.strip()
    blank = raw.isna() | (codes == "")
    if blank.any():
        rows = list(np.flatnonzero(blank.to_numpy())[:_EXAMPLES])
        raise BoundaryFormatError(f"{path}: {int(blank.sum())} features have a blank LSOA code (rows {rows})")
    duplicated = codes[codes.duplicated(keep=False)]
    if len(duplicated):
        examples = list(dict.fromkeys(duplicated))[:_EXAMPLES]
        raise BoundaryFormatError(f"{path}: {duplicated.nunique()} LSOA codes appear more than once, e.g. {examples}")
    return codes


def _check_geometries(path: Path, geometry: gpd.GeoSeries, codes: pd.Series) -> None:
    """Reject missing, empty and non-polygonal geometries, naming example codes.

    Args:
        path: the file, for error messages.
        geometry: the geometries as read.
        codes: the cleaned codes, aligned with `geometry`.
    """
    values = geometry.values
    empty = shapely.is_missing(values) | shapely.is_empty(values)
    if empty.any():
        raise BoundaryFormatError(
            f"{path}: {int(empty.sum())} features have a missing or empty geometry, e.g. {list(codes[empty][:_EXAMPLES])}"
        )
    types = geometry.geom_type
    wrong = ~types.isin(list(_POLYGONAL)).to_numpy()
    if wrong.any():
        examples = [f"{c} ({t})" for c, t in zip(codes[wrong][:_EXAMPLES], types[wrong][:_EXAMPLES], strict=True)]
        raise BoundaryFormatError(f"{path}: {int(wrong.sum())} features are not polygons, e.g. {examples}")


def _resolve_crs(path: Path, raw: gpd.GeoDataFrame) -> CRS:
    """The file's CRS, inferred from the coordinates when missing.

    GDAL reports EPSG:4326 for every GeoJSON without a `crs` member (RFC 7946), so a GeoJSON
    whose coordinates cannot be lon/lat is treated as having no declared CRS.

    Args:
        path: the file, for error messages.
        raw: the features as read.

    Returns:
        The CRS to interpret the coordinates in.
    """
    bounds = tuple(raw.total_bounds)
    declared = raw.crs
    if declared is not None:
        if not declared.is_geographic or _within(bounds, LONLAT_EXTENT):
            return declared
        if path.suffix.lower() not in (".geojson", ".json"):
            raise BoundaryFormatError(
                f"{path}: declares the geographic CRS {declared.to_string()} but its coordinates "
                f"{_fmt_bounds(bounds)} are not longitudes/latitudes"
            )
    inferred = _infer_crs(bounds)
    if inferred is None:
        raise BoundaryFormatError(
            f"{path}: has no CRS and its coordinates {_fmt_bounds(bounds)} are neither lon/lat "
            f"nor British National Grid metres; set the CRS in the file"
        )
    log.info("%s: no CRS declared; inferred %s from coordinates %s", path, inferred, _fmt_bounds(bounds))
    return CRS.from_user_input(inferred)


def _infer_crs(bounds: tuple[float, float, float, float]) -> str | None:
    """DISPLAY_CRS when the bounds fit lon/lat, METRIC_CRS when they fit the national grid, else None.

    Args:
        bounds: (minx, miny, maxx, maxy).

    Returns:
        The inferred CRS string or None.
    """
    if _within(bounds, LONLAT_EXTENT):
        return DISPLAY_CRS
    if _within(bounds, BNG_EXTENT):
        return METRIC_CRS
    return None


def _within(bounds: tuple[float, ...], extent: tuple[float, ...]) -> bool:
    """Whether the box `bounds` lies inside `extent` (both minx, miny, maxx, maxy)."""
    minx, miny, maxx, maxy = bounds
    inside = minx >= extent[0] and miny >= extent[1] and maxx <= extent[2] and maxy <= extent[3]
    return bool(np.all(np.isfinite(bounds)) and inside)


def _fmt_bounds(bounds: tuple[float, ...]) -> str:
    """Bounds rounded for an error message."""
    return "(" + ", ".join(f"{b:.6g}" for b in bounds) + ")"


def _same_crs(crs: CRS | str | None, other: str) -> bool:
    """Whether `crs` is the same coordinate system as `other`, ignoring axis order."""
    return crs is not None and CRS.from_user_input(crs).equals(other, ignore_axis_order=True)


def _repair(path: Path, geoms: np.ndarray, codes: pd.Series) -> np.ndarray:
    """Repair invalid polygons with `shapely.make_valid`, keeping only their polygonal parts.

    Args:
        path: the file, for error messages.
        geoms: polygonal geometries.
        codes: their codes, for messages.

    Returns:
        The geometries, with invalid ones replaced by valid (Multi)Polygons.
    """
    invalid = ~shapely.is_valid(geoms)
    if not invalid.any():
        return geoms
    out = geoms.copy()
    fixed = np.array([_polygonal_part(g) for g in shapely.make_valid(geoms[invalid])], dtype=object)
    lost = shapely.is_empty(fixed)
    if lost.any():
        raise BoundaryFormatError(
            f"{path}: {int(lost.sum())} invalid geometries have no area once repaired, "
            f"e.g. {list(codes[invalid][lost][:_EXAMPLES])}"
        )
    out[invalid] = fixed
    log.warning(
        "%s: repaired %d invalid geometries, e.g. %s",
        path,
        int(invalid.sum()),
        list(codes[invalid][:_EXAMPLES]),
    )
    return out


def _polygonal_part(geom: shapely.Geometry) -> shapely.Geometry:
    """The polygons inside `geom` (a make_valid result may mix in lines and points).

    Args:
        geom: any geometry.

    Returns:
        A Polygon, a MultiPolygon, or an empty Polygon when there is no area.
    """
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in _POLYGONAL]
    polygons = [q for p in parts for q in shapely.get_parts(p) if not q.is_empty]
    if not polygons:
        return shapely.Polygon()
    return polygons[0] if len(polygons) == 1 else shapely.MultiPolygon(polygons)


def _to_metric(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """`gdf` in METRIC_CRS (unchanged when already there)."""
    _require_crs(gdf)
    return gdf if _same_crs(gdf.crs, METRIC_CRS) else gdf.to_crs(METRIC_CRS)


def _require_crs(gdf: gpd.GeoDataFrame) -> None:
    """Raise when `gdf` has no CRS, since every function here reprojects."""
    if gdf.crs is None:
        raise ConfigError("the GeoDataFrame has no CRS; read it with read_boundaries() or set_crs() first")


@functools.lru_cache(maxsize=8)
def _transformer(source: str, target: str) -> Transformer:
    """A cached lon/lat-ordered (always_xy) transformer."""
    return Transformer.from_crs(source, target, always_xy=True)


def web_geojson(
    gdf: gpd.GeoDataFrame,
    *,
    tolerance_m: float = 40.0,
    precision: int = 5,
    properties: Sequence[str] = ("lsoa_code", "lsoa_name"),
) -> str:
    """A compact GeoJSON FeatureCollection (EPSG:4326) of the polygons, for a pydeck choropleth.

    The polygons are simplified together as a coverage (`shapely.coverage_simplify`,
    Visvalingam-Whyatt), so every shared edge is simplified once and neighbours keep identical
    edges: no gaps or overlaps appear between them. A set that is not a valid coverage (overlaps,
    edges that do not match vertex for vertex) is first cleaned with `shapely.coverage_clean`;
    without it (GEOS < 3.14) it is simplified as is, which the GEOS docs warn may leave slivers.
    Coordinates are rounded to `precision` decimals (5 = about 1 m), and rounding cannot separate
    neighbours because their shared vertices round identically. geopandas reprojects
    (`to_crs`) and writes the text (`to_json`).

    The default tolerance of 40 m is what brings the 4,835 London LSOAs (ONS BGC, 20 m generalised,
    160k vertices) under 3 MB; at 15 m the payload is 3.5 MB, since the generalised input has
    little left to remove. At 40 m 99% of LSOAs keep their area within 5%.

    Args:
        gdf: polygons with the `properties` columns and a CRS.
        tolerance_m: simplification tolerance in metres, roughly the square root of the largest
            triangle area removed; 0 disables simplification.
        precision: decimals kept in longitudes and latitudes.
        properties: columns copied into each feature's properties (missing values become null).

    Returns:
        The GeoJSON text, without whitespace.
    """
    missing = [p for p in properties if p not in gdf.columns]
    if missing:
        raise UnknownKeyError(f"web_geojson: properties {missing} are not columns; columns: {list(gdf.columns)}")
    metric = _to_metric(gdf)
    simplified = _simplify_coverage(metric.geometry.values, tolerance_m)
    lonlat = gpd.GeoDataFrame(metric[list(properties)], geometry=simplified, crs=METRIC_CRS).to_crs(DISPLAY_CRS)
    geoms = shapely.orient_polygons(_rounded(lonlat.geometry.values, precision), exterior_cw=False)  # RFC 7946 winding
    return lonlat.set_geometry(geoms).to_json(
        drop_id=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_json_scalar
    )


def write_web_geojson(gdf: gpd.GeoDataFrame, path: str | os.PathLike, **kw) -> Path:
    """Write `web_geojson(gdf, **kw)` to `path` atomically (UTF-8).

    Args:
        gdf: polygons, as for `web_geojson`.
        path: destination file.
        **kw: keyword arguments of `web_geojson`.

    Returns:
        The path written.
    """
    text = web_geojson(gdf, **kw)
    with atomic_open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    return Path(path)


def _simplify_coverage(geoms: np.ndarray, tolerance_m: float) -> np.ndarray:
    """Simplify polygons as one coverage, cleaning it first when it is not a valid coverage.

    Args:
        geoms: polygonal geometries in metres.
        tolerance_m: coverage_simplify tolerance; 0 or less returns the (cleaned) input.

    Returns:
        One simplified geometry per input, none empty.
    """
    geoms = np.asarray(geoms, dtype=object)
    valid = shapely.is_valid(geoms)
    if not valid.all():
        geoms = geoms.copy()
        geoms[~valid] = [_polygonal_part(g) for g in shapely.make_valid(geoms[~valid])]
    if not shapely.coverage_is_valid(geoms):
        if hasattr(shapely, "coverage_clean"):
            cleaned = shapely.coverage_clean(geoms)
            # a polygon swallowed whole by a neighbour would vanish from the map; keep it
            geoms = np.where(shapely.is_empty(cleaned), geoms, cleaned)
        else:
            log.warning("not a valid coverage and shapely lacks coverage_clean: slivers may appear")
    if tolerance_m <= 0:
        return geoms
    return shapely.coverage_simplify(geoms, tolerance_m)


def _json_scalar(value: object) -> object:
    """JSON fallback for property values: numpy scalars become Python numbers, the rest strings."""
    return value.item() if isinstance(value, np.generic) else str(value)


def _rounded(geoms: np.ndarray, precision: int) -> np.ndarray:
    """Coordinates rounded to `precision` decimals, with the repeated vertices rounding makes dropped.

    Neighbours' shared vertices round identically, so rounding opens no gaps between them.
    """
    rounded = shapely.transform(geoms, lambda xy: np.round(xy, precision))
    return np.array([_without_repeats(geom) for geom in rounded], dtype=object)


def _without_repeats(geom: shapely.Geometry) -> shapely.Geometry:
    """`geom` without repeated vertices, or whole where a ring would keep under 4 (RFC 7946's minimum)."""
    try:
        thinned = shapely.remove_repeated_points(geom)
    except shapely.errors.GEOSException:  # a ring collapsed to under 3 points
        return geom
    rings = shapely.get_rings(shapely.get_parts(thinned))
    return thinned if shapely.get_num_coordinates(rings).min() >= 4 else geom


def join_points(
    points: pd.DataFrame, boundaries: gpd.GeoDataFrame, *, lat: str = "lat", lon: str = "lon"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Assign WGS84 points to the LSOA containing them.

    A point on an edge shared by several LSOAs goes to the smallest code. Every input row ends up
    in exactly one of the two outputs, in input order with its original index.

    Args:
        points: rows with latitude and longitude columns (degrees, WGS84).
        boundaries: polygons with `lsoa_code` and a CRS.
        lat: the latitude column.
        lon: the longitude column.

    Returns:
        (matched, unmatched): `matched` is the rows inside an LSOA plus `lsoa_code`; `unmatched` the
        other rows plus `problem`, either "invalid coordinates" (missing, non-numeric or out of
        range) or "outside every LSOA". Existing columns of those names are overwritten.
    """
    for column in (lat, lon):
        if column not in points.columns:
            raise UnknownKeyError(f"join_points: no {column!r} column in points; columns: {list(points.columns)}")
    if "lsoa_code" not in boundaries.columns:
        raise UnknownKeyError(f"join_points: boundaries have no 'lsoa_code'; columns: {list(boundaries.columns)}")
    _require_crs(boundaries)
    la = pd.to_numeric(points[lat], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    lo = pd.to_numeric(points[lon], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    ok = np.isfinite(la) & np.isfinite(lo) & (np.abs(la) <= 90) & (np.abs(lo) <= 180)
    codes = _codes_at(lo[ok], la[ok], boundaries)
    found = np.zeros(len(points), dtype=bool)
    found[np.flatnonzero(ok)] = pd.notna(codes)
    matched = points.iloc[np.flatnonzero(found)].copy()
    matched["lsoa_code"] = pd.Series(codes[pd.notna(codes)], index=matched.index, dtype="str")
    unmatched = points.iloc[np.flatnonzero(~found)].copy()
    unmatched["problem"] = np.where(ok[~found], "outside every LSOA", "invalid coordinates")
    return matched, unmatched


def _codes_at(lon: np.ndarray, lat: np.ndarray, boundaries: gpd.GeoDataFrame) -> np.ndarray:
    """The smallest `lsoa_code` of the polygons touching each point (None where there is none).

    Args:
        lon: longitudes (valid).
        lat: latitudes (valid).
        boundaries: polygons with `lsoa_code` and a CRS.

    Returns:
        Object array of codes or None, aligned with the points.
    """
    result = np.full(len(lon), None, dtype=object)
    if len(lon) == 0:
        return result
    if _same_crs(boundaries.crs, DISPLAY_CRS):
        x, y = lon, lat  # no round trip, so points exactly on an edge stay exactly on it
    else:
        x, y = _transformer(DISPLAY_CRS, boundaries.crs.to_string()).transform(lon, lat)
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    finite = np.flatnonzero(np.isfinite(x) & np.isfinite(y))  # far-away points can leave the projection
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x[finite], y[finite]), index=finite, crs=boundaries.crs)
    polys = gpd.GeoDataFrame(
        {"lsoa_code": boundaries["lsoa_code"].to_numpy()},
        geometry=boundaries.geometry.to_numpy(),
        crs=boundaries.crs,
    )
    # "intersects" (not "within") so points on edges match; the min picks one of them
    hits = gpd.sjoin(pts, polys, how="inner", predicate="intersects")
    best = hits.groupby(level=0)["lsoa_code"].min()
    result[best.index.to_numpy()] = best.to_numpy(dtype=object)
    return result
