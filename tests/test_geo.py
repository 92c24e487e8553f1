"""Tests for thisineq.data.geo: reading boundaries, web GeoJSON and point joins."""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from thisineq.data import geo
from thisineq.data.geo import BoundaryFormatError
from thisineq.errors import ThisIneqError

CODES = ["X01000001", "X01000002", "X01000003", "X01000004"]
ORIGIN = (530_000.0, 180_000.0)  # a British National Grid point in central London
SIDE = 1_000.0


def _grid(origin: tuple[float, float] = ORIGIN, side: float = SIDE) -> list[shapely.Polygon]:
    """A 2x2 grid of squares, numbered row by row from the south-west."""
    x0, y0 = origin
    return [
        shapely.box(x0 + i * side, y0 + j * side, x0 + (i + 1) * side, y0 + (j + 1) * side) for j in range(2) for i in range(2)
    ]


@pytest.fixture
def grid() -> gpd.GeoDataFrame:
    """Four 1 km squares in EPSG:27700 with made-up codes, names and an extra attribute."""
    return gpd.GeoDataFrame(
        {
            "LSOA11CD": CODES,
            "LSOA11NM": [f"Synthetic 001{c}" for c in "ABCD"],
            "population": [1500, 1600, 1700, 1800],
        },
        geometry=_grid(),
        crs=geo.METRIC_CRS,
    )


def _write(gdf: gpd.GeoDataFrame, path: Path, **kw) -> Path:
    """Write a test file, silencing pyogrio's warning about files without a CRS."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        gdf.to_file(path, **kw)
    return path


def _without_crs(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The same frame with its CRS removed."""
    return gpd.GeoDataFrame(gdf.drop(columns="geometry"), geometry=list(gdf.geometry), crs=None)


def test_read_shapefile_keeps_codes_names_and_other_columns(grid, tmp_path):
    out = geo.read_boundaries(_write(grid, tmp_path / "grid.shp"))
    assert list(out.columns) == ["lsoa_code", "lsoa_name", "population", "geometry"]
    assert out.crs.to_epsg() == 27700
    assert out["lsoa_code"].tolist() == CODES
    assert out["lsoa_name"].tolist()[0] == "Synthetic 001A"
    assert out["population"].tolist() == [1500, 1600, 1700, 1800]
    assert np.allclose(out.area, SIDE**2)


def test_geojson_without_crs_in_lonlat_is_read_as_wgs84(grid, tmp_path):
    lonlat = _without_crs(grid.to_crs(geo.DISPLAY_CRS))
    out = geo.read_boundaries(_write(lonlat, tmp_path / "grid.geojson"))
    assert out.crs.to_epsg() == 27700
    assert np.allclose(out.total_bounds, grid.total_bounds, atol=0.01)


def test_geojson_without_crs_in_metres_is_read_as_british_national_grid(grid, tmp_path):
    # GDAL reports EPSG:4326 for any GeoJSON without a crs member; metre coordinates override that
    out = geo.read_boundaries(_write(_without_crs(grid), tmp_path / "grid.geojson"))
    assert out.crs.to_epsg() == 27700
    assert np.allclose(out.total_bounds, grid.total_bounds)


def test_shapefile_without_prj_in_metres_is_read_as_british_national_grid(grid, tmp_path):
    path = _write(_without_crs(grid), tmp_path / "grid.shp")
    assert not path.with_suffix(".prj").exists()
    out = geo.read_boundaries(path)
    assert out.crs.to_epsg() == 27700
    assert np.allclose(out.total_bounds, grid.total_bounds)


def test_file_without_crs_and_unknown_coordinates_is_rejected(tmp_path):
    far = gpd.GeoDataFrame({"LSOA11CD": CODES}, geometry=_grid(origin=(5e6, 5e6)), crs=None)
    path = _write(far, tmp_path / "far.shp")
    with pytest.raises(BoundaryFormatError, match=r"far\.shp.*no CRS"):
        geo.read_boundaries(path)


def test_missing_code_column_error_lists_the_columns(grid, tmp_path):
    path = _write(grid.rename(columns={"LSOA11CD": "area_id"}), tmp_path / "nocode.geojson")
    with pytest.raises(BoundaryFormatError) as err:
        geo.read_boundaries(path)
    message = str(err.value)
    assert "nocode.geojson" in message and "no LSOA code column" in message
    assert "area_id" in message and "LSOA11NM" in message and "population" in message


def test_code_column_matching_ignores_case_and_can_be_named(grid, tmp_path):
    lowered = grid.rename(columns={"LSOA11CD": "lsoa11cd"})
    lower = geo.read_boundaries(_write(lowered, tmp_path / "lower.geojson"))
    assert lower["lsoa_code"].tolist() == CODES
    renamed = grid.rename(columns={"LSOA11CD": "area_id"})
    named = geo.read_boundaries(_write(renamed, tmp_path / "named.geojson"), code_column="area_id")
    assert named["lsoa_code"].tolist() == CODES


def test_several_code_columns_are_ambiguous_unless_one_is_chosen(grid, tmp_path):
    both = grid.assign(LSOA21CD=[c.replace("X01", "E01") for c in CODES])
    path = _write(both, tmp_path / "both.geojson")
    with pytest.raises(BoundaryFormatError, match=r"both\.geojson.*LSOA11CD.*LSOA21CD.*code_column"):
        geo.read_boundaries(path)
    out = geo.read_boundaries(path, code_column="LSOA21CD")
    assert out["lsoa_code"].tolist()[0] == "E01000001"
    assert "LSOA11CD" in out.columns  # the column not chosen is kept as an attribute


def test_explicit_code_column_that_does_not_exist(grid, tmp_path):
    path = _write(grid, tmp_path / "grid.geojson")
    with pytest.raises(BoundaryFormatError, match=r"grid\.geojson.*'LSOA21CD'.*LSOA11CD"):
        geo.read_boundaries(path, code_column="LSOA21CD")


def test_name_column_is_optional(grid, tmp_path):
    out = geo.read_boundaries(_write(grid.drop(columns="LSOA11NM"), tmp_path / "noname.geojson"))
    assert out["lsoa_name"].isna().all()
    assert out["lsoa_code"].tolist() == CODES


def test_duplicated_codes_are_rejected_with_examples(grid, tmp_path):
    dup = grid.assign(LSOA11CD=["X01000001", "X01000002", "X01000002", "X01000004"])
    with pytest.raises(BoundaryFormatError, match=r"dup\.geojson.*more than once.*X01000002"):
        geo.read_boundaries(_write(dup, tmp_path / "dup.geojson"))


def test_blank_codes_are_rejected(grid, tmp_path):
    blank = grid.assign(LSOA11CD=["X01000001", " ", "X01000003", "X01000004"])
    with pytest.raises(BoundaryFormatError, match=r"blank\.geojson.*blank LSOA code"):
        geo.read_boundaries(_write(blank, tmp_path / "blank.geojson"))


def test_empty_file_is_rejected(tmp_path):
    path = tmp_path / "empty.geojson"
    path.write_text('{"type": "FeatureCollection", "features": []}')
    with pytest.raises(BoundaryFormatError, match=r"empty\.geojson.*no features"):
        geo.read_boundaries(path)


def test_non_polygon_geometries_are_rejected(grid, tmp_path):
    mixed = grid.copy()
    mixed.loc[2, "geometry"] = shapely.Point(ORIGIN)
    with pytest.raises(BoundaryFormatError, match=r"mixed\.geojson.*not polygons.*X01000003 \(Point\)"):
        geo.read_boundaries(_write(mixed, tmp_path / "mixed.geojson"))


def _feature(code: str, geometry: dict | None) -> dict:
    return {"type": "Feature", "properties": {"LSOA11CD": code}, "geometry": geometry}


@pytest.mark.parametrize("geometry", [None, {"type": "Polygon", "coordinates": []}], ids=["null", "empty"])
def test_missing_or_empty_geometries_are_rejected(tmp_path, geometry):
    square = json.loads(shapely.to_geojson(shapely.box(0, 51, 0.01, 51.01)))
    path = tmp_path / "holes.geojson"
    features = [_feature("X01000001", square), _feature("X01000002", geometry)]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    with pytest.raises(BoundaryFormatError, match=r"holes\.geojson.*missing or empty geometry.*X01000002"):
        geo.read_boundaries(path)


def test_invalid_geometries_are_repaired(grid, tmp_path):
    x0, y0 = ORIGIN
    bowtie = shapely.Polygon([(x0, y0), (x0 + 100, y0 + 100), (x0 + 100, y0), (x0, y0 + 100)])
    assert not bowtie.is_valid
    broken = grid.copy()
    broken.loc[0, "geometry"] = bowtie
    out = geo.read_boundaries(_write(broken, tmp_path / "bowtie.shp"))
    assert out.is_valid.all()
    assert set(out.geom_type) <= {"Polygon", "MultiPolygon"}
    assert out.area.iloc[0] == pytest.approx(5_000)  # two triangles of 50 x 100 m


def test_unsupported_format_is_rejected(tmp_path):
    path = tmp_path / "areas.csv"
    path.write_text("LSOA11CD,wkt\n")
    with pytest.raises(BoundaryFormatError, match=r"areas\.csv.*unsupported"):
        geo.read_boundaries(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.shp") as error:
        geo.read_boundaries(tmp_path / "nowhere.shp")
    assert isinstance(error.value, ThisIneqError)  # the CLI shows it in one line


def test_geopackage_picks_the_polygon_layer_with_codes(grid, tmp_path):
    path = tmp_path / "city.gpkg"
    centroids = gpd.GeoDataFrame({"LSOA11CD": CODES}, geometry=grid.centroid, crs=grid.crs)
    _write(centroids, path, layer="centroids", driver="GPKG")
    _write(grid.dissolve()[["geometry"]].assign(LAD11CD="X09000001"), path, layer="borough", driver="GPKG")
    _write(grid, path, layer="lsoa", driver="GPKG")
    out = geo.read_boundaries(path)
    assert out["lsoa_code"].tolist() == CODES
    _write(grid, path, layer="lsoa_copy", driver="GPKG")
    with pytest.raises(BoundaryFormatError, match=r"city\.gpkg.*4 layers.*centroids \(Point\).*lsoa_copy"):
        geo.read_boundaries(path)


def _lonlat_grid() -> gpd.GeoDataFrame:
    """The 2x2 grid drawn directly in degrees, with binary fractions so every edge is exact."""
    return gpd.GeoDataFrame({"lsoa_code": CODES}, geometry=_grid(origin=(-0.125, 51.5), side=0.015625), crs=geo.DISPLAY_CRS)


def test_point_on_shared_edge_or_corner_is_assigned_once_to_the_smallest_code():
    mid_x, mid_y = -0.125 + 0.015625, 51.5 + 0.015625  # the grid's inner vertical and horizontal lines
    points = pd.DataFrame(
        {
            "lat": [51.5078125, mid_y, mid_y, 51.5234375],
            "lon": [mid_x, -0.1171875, mid_x, mid_x],
        },
        index=["edge_1_2", "edge_1_3", "corner", "edge_3_4"],
    )
    grid = _lonlat_grid()
    on_edge = gpd.points_from_xy(points["lon"], points["lat"])
    touching = shapely.touches(grid.geometry.to_numpy()[:, None], np.asarray(on_edge)[None, :])
    assert (touching.sum(axis=0) >= 2).all()  # each point really is on a shared edge
    matched, unmatched = geo.join_points(points, grid)
    assert unmatched.empty
    assert matched.index.tolist() == points.index.tolist()
    assert matched["lsoa_code"].tolist() == ["X01000001", "X01000001", "X01000001", "X01000003"]


def test_point_on_a_projected_edge_is_assigned_once(grid):
    edge = gpd.GeoSeries([shapely.Point(ORIGIN[0] + SIDE, ORIGIN[1] + SIDE / 2)], crs=geo.METRIC_CRS)
    lonlat = edge.to_crs(geo.DISPLAY_CRS)
    points = pd.DataFrame({"lat": lonlat.y, "lon": lonlat.x})
    matched, unmatched = geo.join_points(points, grid.rename(columns={"LSOA11CD": "lsoa_code"}))
    assert len(matched) == 1 and unmatched.empty
    assert matched["lsoa_code"].iloc[0] in ("X01000001", "X01000002")


def test_join_points_reports_every_row_once_in_order(grid):
    boundaries = grid.rename(columns={"LSOA11CD": "lsoa_code"})
    inside = gpd.GeoSeries(boundaries.centroid, crs=geo.METRIC_CRS).to_crs(geo.DISPLAY_CRS)
    points = pd.DataFrame(
        {
            "lat": [inside.y[3], np.nan, 95.0, 51.752, inside.y[0], "north", 51.5],
            "lon": [inside.x[3], -0.1, -0.1, -1.2577, inside.x[0], -0.1, 200.0],
            "label": list("abcdefg"),
        },
        index=[10, 11, 12, 13, 14, 11, 16],  # a repeated label must not confuse the join
    )
    matched, unmatched = geo.join_points(points, boundaries)
    assert len(matched) + len(unmatched) == len(points)
    assert matched["label"].tolist() == ["a", "e"]
    assert matched.index.tolist() == [10, 14]
    assert matched["lsoa_code"].tolist() == ["X01000004", "X01000001"]
    assert unmatched["label"].tolist() == ["b", "c", "d", "f", "g"]
    assert unmatched.index.tolist() == [11, 12, 13, 11, 16]
    assert unmatched["problem"].tolist() == [
        "invalid coordinates",
        "invalid coordinates",
        "outside every LSOA",
        "invalid coordinates",
        "invalid coordinates",
    ]
    assert "lsoa_code" not in unmatched.columns and "problem" not in matched.columns


def test_join_points_with_no_points(grid):
    empty = pd.DataFrame({"lat": pd.Series([], dtype=float), "lon": pd.Series([], dtype=float)})
    matched, unmatched = geo.join_points(empty, grid.rename(columns={"LSOA11CD": "lsoa_code"}))
    assert matched.empty and unmatched.empty


def test_join_points_names_a_missing_column(grid):
    with pytest.raises(KeyError, match="latitude"):
        geo.join_points(
            pd.DataFrame({"lat": [51.5], "lon": [0.0]}),
            grid.rename(columns={"LSOA11CD": "lsoa_code"}),
            lat="latitude",
        )


def test_web_geojson_of_the_grid(grid, tmp_path):
    boundaries = geo.read_boundaries(_write(grid, tmp_path / "grid.shp"))
    text = geo.web_geojson(boundaries, precision=5)
    doc = json.loads(text)
    assert doc["type"] == "FeatureCollection" and " " not in text.replace("Synthetic 001", "")
    first = doc["features"][0]["properties"]
    assert first == {"lsoa_code": "X01000001", "lsoa_name": "Synthetic 001A"}
    coords = np.array([xy for f in doc["features"] for xy in f["geometry"]["coordinates"][0]])
    assert np.allclose(coords, np.round(coords, 5))
    assert (-0.2 < coords[:, 0]).all() and (coords[:, 0] < 0).all() and (51.4 < coords[:, 1]).all()
    shared = [{tuple(xy) for xy in f["geometry"]["coordinates"][0]} for f in doc["features"]]
    assert len(shared[0] & shared[1]) == 2  # both squares carry the identical shared edge
    written = geo.write_web_geojson(boundaries, tmp_path / "web" / "grid.geojson", properties=("lsoa_code",))
    assert json.loads(written.read_text())["features"][3]["properties"] == {"lsoa_code": "X01000004"}


def test_web_geojson_keeps_every_ring_drawable_when_rounding_collapses_it():
    x0, y0 = ORIGIN
    sliver = shapely.box(x0, y0, x0 + 100, y0 + 0.3)  # thinner than a 5th decimal of latitude (about 1.1 m)
    speck = shapely.box(x0 + 200, y0, x0 + 200.3, y0 + 0.3)
    areas = gpd.GeoDataFrame({"lsoa_code": CODES[:2], "lsoa_name": ["a", "b"]}, geometry=[sliver, speck], crs=geo.METRIC_CRS)
    doc = json.loads(geo.web_geojson(areas, tolerance_m=0))
    rings = [ring for feature in doc["features"] for ring in feature["geometry"]["coordinates"]]
    assert len(rings) == 2 and all(len(ring) >= 4 and ring[0] == ring[-1] for ring in rings)  # RFC 7946 linear rings


def test_web_geojson_names_missing_properties(grid):
    with pytest.raises(KeyError, match="decile"):
        geo.web_geojson(grid, properties=("LSOA11CD", "decile"))


@pytest.fixture(scope="module")
def london_lsoas(london) -> gpd.GeoDataFrame:
    return geo.read_boundaries(london.boundaries_shp)


@pytest.fixture(scope="module")
def london_web(london_lsoas) -> tuple[str, float]:
    start = time.perf_counter()
    text = geo.web_geojson(london_lsoas)
    return text, time.perf_counter() - start


def test_london_shapefile(london, london_lsoas):
    raw = gpd.read_file(london.boundaries_shp)
    assert len(london_lsoas) == 4835
    assert london_lsoas.crs.to_epsg() == 27700
    assert london_lsoas["lsoa_code"].tolist() == raw["LSOA11CD"].tolist()
    assert london_lsoas["lsoa_name"].tolist() == raw["LSOA11NM"].tolist()
    assert {"MSOA11CD", "LAD11CD", "LAD11NM"} <= set(london_lsoas.columns)
    assert london_lsoas.is_valid.all()


def test_london_geojson_reads_the_same_lsoas(london, london_lsoas):
    from_geojson = geo.read_boundaries(london.boundaries_geojson)
    assert from_geojson.crs.to_epsg() == 27700
    assert from_geojson["lsoa_code"].tolist() == london_lsoas["lsoa_code"].tolist()
    assert np.allclose(from_geojson.area, london_lsoas.area, rtol=1e-3)


def test_london_geopackage_reads_the_same_lsoas(london, london_lsoas, tmp_path):
    path = tmp_path / "london.gpkg"
    gpd.read_file(london.boroughs_geojson).to_file(path, layer="boroughs", driver="GPKG")
    gpd.read_file(london.boundaries_shp).to_file(path, layer="lsoa11", driver="GPKG")
    from_gpkg = geo.read_boundaries(path)
    assert from_gpkg["lsoa_code"].tolist() == london_lsoas["lsoa_code"].tolist()
    assert np.allclose(from_gpkg.area, london_lsoas.area)


def test_london_web_payload_is_complete_and_small(london_lsoas, london_web):
    text, seconds = london_web
    assert len(text.encode("utf-8")) <= 3_000_000
    assert seconds < 15  # about 1.5 s measured; the bound only catches pathologies
    features = json.loads(text)["features"]
    assert [f["properties"]["lsoa_code"] for f in features] == london_lsoas["lsoa_code"].tolist()
    assert all(f["geometry"]["type"] in ("Polygon", "MultiPolygon") for f in features)


def _interior_holes(geometry: shapely.Geometry) -> shapely.Geometry:
    """The union of the interior rings of a (multi)polygon, as polygons."""
    holes = [shapely.Polygon(ring) for part in shapely.get_parts(geometry) for ring in part.interiors]
    return shapely.union_all(holes)


def test_london_web_payload_has_no_visible_gaps_or_overlaps(london_lsoas, london_web):
    # At city zoom (web-mercator z11-z13 at 51.5 N: about 48-12 m per pixel) a sliver narrower
    # than a few metres is sub-pixel; the thresholds below are far stricter than that: the
    # whole city may hold at most 1 m2 of new gaps and 5 m2 of overlaps (measured: 0 and 0.8 m2,
    # the overlaps from rounding to 5 decimals).
    simplified = gpd.GeoDataFrame.from_features(json.loads(london_web[0])["features"], crs=geo.DISPLAY_CRS)
    simple = shapely.make_valid(simplified.to_crs(geo.METRIC_CRS).geometry.to_numpy())
    original = london_lsoas.geometry.to_numpy()
    before = _interior_holes(shapely.union_all(original))
    after = _interior_holes(shapely.union_all(simple))
    assert shapely.difference(after, before).area <= 1.0
    left, right = shapely.STRtree(simple).query(simple, predicate="intersects")
    pairs = left < right
    overlap = shapely.area(shapely.intersection(simple[left[pairs]], simple[right[pairs]]))
    assert overlap.sum() <= 5.0 and overlap.max() <= 1.0


def test_london_web_payload_keeps_lsoa_areas(london_lsoas, london_web):
    simplified = gpd.GeoDataFrame.from_features(json.loads(london_web[0])["features"], crs=geo.DISPLAY_CRS)
    area = shapely.area(shapely.make_valid(simplified.to_crs(geo.METRIC_CRS).geometry.to_numpy()))
    original = london_lsoas.area.to_numpy()
    error = np.abs(area / original - 1)
    # large LSOAs (>= 0.2 km2, half of London's) within 5%; 98% of all within 5%; none beyond 15%
    assert error[original >= 200_000].max() <= 0.05
    assert (error <= 0.05).mean() >= 0.98
    assert error.max() <= 0.15


# Well-known places, each over 100 m from any LSOA edge, whose LSOA follows from the name:
# the City's LSOAs are "City of London 001x"; the others lie in the borough in the name.
LANDMARKS = pd.DataFrame(
    {
        "lat": [51.5138, 51.5005, 51.5081, 51.4769, 51.5560, 51.4700, 51.4787],
        "lon": [-0.0984, -0.1268, -0.0759, -0.0005, -0.2795, -0.4543, -0.2956],
        "expected_code": [
            "E01032739",
            "E01004733",
            "E01004293",
            "E01001642",
            "E01033424",
            "E01002444",
            "E01003847",
        ],
        "expected_name": [
            "City of London 001",  # St Paul's Cathedral
            "Westminster ",  # Parliament Square
            "Tower Hamlets ",  # Tower of London
            "Greenwich ",  # Royal Observatory
            "Brent ",  # Wembley Stadium
            "Hillingdon ",  # Heathrow central area
            "Richmond upon Thames ",  # Kew Gardens
        ],
    },
    index=["st_pauls", "parliament_sq", "tower", "observatory", "wembley", "heathrow", "kew"],
)


def test_london_landmarks_land_in_the_right_lsoa(london_lsoas):
    matched, unmatched = geo.join_points(LANDMARKS, london_lsoas)
    assert unmatched.empty
    assert matched.index.tolist() == LANDMARKS.index.tolist()
    assert matched["lsoa_code"].tolist() == LANDMARKS["expected_code"].tolist()
    names = london_lsoas.set_index("lsoa_code")["lsoa_name"].loc[matched["lsoa_code"]]
    for name, prefix in zip(names, LANDMARKS["expected_name"], strict=True):
        assert name.startswith(prefix), (name, prefix)


def test_london_points_outside_or_invalid(london_lsoas):
    points = pd.DataFrame(
        {
            "lat": [51.752, 48.8566, 0.0, 51.5090, 51.5008, np.nan, 95.0, 51.5138],
            "lon": [-1.2577, 2.3522, 0.0, -0.1000, -0.1219, -0.1, -0.1, -0.0984],
        },
        index=[
            "oxford",
            "paris",
            "null_island",
            "thames_blackfriars",
            "westminster_bridge",
            "nan",
            "lat95",
            "st_pauls",
        ],
    )
    matched, unmatched = geo.join_points(points, london_lsoas)
    assert matched.index.tolist() == ["st_pauls"]
    # the boundaries are clipped to mean high water, so the middle of the Thames is in no LSOA
    assert unmatched["problem"].to_dict() == {
        "oxford": "outside every LSOA",
        "paris": "outside every LSOA",
        "null_island": "outside every LSOA",
        "thames_blackfriars": "outside every LSOA",
        "westminster_bridge": "outside every LSOA",
        "nan": "invalid coordinates",
        "lat95": "invalid coordinates",
    }


def _points_inside(areas: gpd.GeoDataFrame, per_area: int, seed: int) -> pd.DataFrame:
    """`per_area` random points inside each area, as lsoa_code, lat, lon."""
    points = areas.geometry.sample_points(per_area, rng=np.random.default_rng(seed)).to_crs(geo.DISPLAY_CRS)
    xy = points.get_coordinates()
    codes = areas["lsoa_code"].reindex(xy.index).to_numpy()
    return pd.DataFrame({"lsoa_code": codes, "lat": xy["y"].to_numpy(), "lon": xy["x"].to_numpy()})


def test_london_join_is_fast_and_consistent(london_lsoas):
    some = london_lsoas.iloc[::5]  # 967 LSOAs
    sampled = _points_inside(some, 6, seed=42)
    assert len(sampled) == 6 * len(some)

    rng = np.random.default_rng(1)
    n = 15_000 - len(sampled)
    scattered = pd.DataFrame({"lat": rng.uniform(51.28, 51.70, n), "lon": rng.uniform(-0.52, 0.34, n)})
    points = pd.concat([sampled[["lat", "lon"]], scattered], ignore_index=True)  # 15,000 points
    start = time.perf_counter()
    matched, unmatched = geo.join_points(points, london_lsoas)
    join_seconds = time.perf_counter() - start
    assert join_seconds < 5  # about 0.2 s measured
    assert len(matched) + len(unmatched) == 15_000
    assert not matched.index.duplicated().any()
    assert matched.loc[: len(sampled) - 1, "lsoa_code"].tolist() == sampled["lsoa_code"].tolist()
