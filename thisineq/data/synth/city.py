"""Geography and hidden area variables of the synthetic city.

The city is a set of LSOA-like areas (Voronoi cells inside an irregular outline), each with
one hidden deprivation variable per IoD2019 domain. The variables are spatially smooth, and
correlated across domains as the real London deciles are; deciles are cut from them with
London's share of LSOAs in each decile, so the decile table looks like a London borough's.
A positive-control city (`independent_domains`) draws the domains independent of each other
instead, so that one domain's deprived and privileged areas differ in that domain's factors only.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from scipy.stats import norm

from thisineq.config import option
from thisineq.data.domains import (
    DOMAIN_KEYS,
    DOMAINS,
    SYNTHETIC_DISTRICT_PREFIX,
    SYNTHETIC_LSOA_PREFIX,
)
from thisineq.errors import ConfigError

# The seven domains that make up the IMD (the IMD itself is their weighted sum).
COMPONENT_KEYS: tuple[str, ...] = DOMAIN_KEYS[1:]

# Pearson correlations between the deciles of the eight indices in London, measured from
# the official File 2 London subset (4,835 LSOAs), in DOMAIN_KEYS order. A test re-measures
# them from ../shared where it is present.
LONDON_DECILE_CORRELATION = np.array(
    [
        [1.000, 0.937, 0.911, 0.715, 0.833, 0.650, 0.690, 0.333],
        [0.937, 1.000, 0.936, 0.701, 0.786, 0.543, 0.608, 0.203],
        [0.911, 0.936, 1.000, 0.701, 0.797, 0.516, 0.541, 0.137],
        [0.715, 0.701, 0.701, 1.000, 0.574, 0.351, 0.444, -0.064],
        [0.833, 0.786, 0.797, 0.574, 1.000, 0.502, 0.477, 0.249],
        [0.650, 0.543, 0.516, 0.351, 0.502, 1.000, 0.356, 0.393],
        [0.690, 0.608, 0.541, 0.444, 0.477, 0.356, 1.000, 0.153],
        [0.333, 0.203, 0.137, -0.064, 0.249, 0.393, 0.153, 1.000],
    ]
)
# Number of London LSOAs in deciles 1…10 of each index (same file, DOMAIN_KEYS order).
LONDON_DECILE_COUNTS = np.array(
    [
        [107, 688, 811, 661, 559, 532, 438, 413, 407, 219],
        [292, 709, 752, 686, 620, 461, 376, 311, 306, 322],
        [91, 451, 629, 625, 594, 547, 521, 426, 443, 508],
        [12, 136, 366, 484, 570, 646, 627, 574, 624, 796],
        [20, 139, 387, 495, 570, 604, 573, 633, 634, 780],
        [395, 667, 753, 779, 692, 546, 444, 322, 181, 56],
        [1407, 1062, 821, 593, 398, 255, 166, 78, 46, 9],
        [470, 935, 1069, 889, 668, 451, 237, 103, 13, 0],
    ]
)

# Centred on the Dogger Bank in the North Sea, where no city is: a synthetic map can never
# be mistaken for a real place, yet it lies inside the British National Grid.
CITY_CENTRE_LONLAT = (1.9, 54.7)
CITY_NAME = "Doggerton (synthetic)"


MIN_AREAS = 10


@dataclass(frozen=True)
class CityConfig:
    """How the synthetic city's geography and area variables are drawn."""

    n_lsoas: int = option(600, "number of synthetic LSOAs")
    radius_km: float = option(9.0, "mean radius of the city outline, in km")
    length_scale_km: float = option(2.5, "spatial correlation length of the area variables, in km")
    smooth_share: float = option(0.75, "share of each area variable's variance that is spatially smooth")
    n_districts: int = option(8, "number of borough-like groups of areas")
    seed: int = option(0, "random seed: the same seed gives the same city")  # the photos' draws too
    # A positive control: the deprived-vs-privileged difference of one domain then carries no
    # other domain's factors. The geography and the deciles' shares stay those of the default.
    independent_domains: bool = option(False, "draw the seven domains independent of each other (a positive control)")

    def __post_init__(self):
        if self.n_lsoas < MIN_AREAS:
            raise ConfigError(f"a city needs at least {MIN_AREAS} areas (one per decile), got {self.n_lsoas}")
        if not 1 <= self.n_districts <= self.n_lsoas:
            raise ConfigError(f"n_districts must be within 1–{self.n_lsoas} (the number of areas), got {self.n_districts}")
        if not (self.radius_km > 0 and self.length_scale_km > 0):
            raise ConfigError(f"radius_km and length_scale_km must be positive, got {self.radius_km} and {self.length_scale_km}")
        if not 0 <= self.smooth_share <= 1:
            raise ConfigError(f"smooth_share must be within 0–1, got {self.smooth_share}")


# --- geography --------------------------------------------------------------------------------


def city_outline(config: CityConfig, rng: np.random.Generator) -> shapely.Polygon:
    """An irregular blob around the origin, in metres."""
    angles = np.linspace(0, 2 * np.pi, 181)[:-1]
    radius = np.ones_like(angles)
    for k in range(2, 6):
        radius += rng.uniform(0.03, 0.1) / k * np.cos(k * angles + rng.uniform(0, 2 * np.pi))
    radius *= config.radius_km * 1000
    return shapely.Polygon(np.c_[radius * np.cos(angles), radius * np.sin(angles)])


def voronoi_areas(outline: shapely.Polygon, n: int, rng: np.random.Generator) -> list[shapely.Polygon]:
    """`n` cells tiling `outline`, smaller towards the centre as population-based areas are."""
    minx, miny, maxx, maxy = outline.bounds
    scale = max(maxx - minx, maxy - miny) / 2
    points = np.empty((0, 2))
    while len(points) < n:
        candidates = rng.normal(0, scale * 0.55, (4 * n, 2))
        inside = shapely.contains_xy(outline, candidates[:, 0], candidates[:, 1])
        points = np.vstack([points, candidates[inside]])
    points = points[:n]
    for _ in range(2):  # Lloyd relaxation: rounder, more even cells
        cells = _clipped_cells(points, outline)
        points = shapely.get_coordinates(shapely.centroid(cells))
    return list(_clipped_cells(points, outline))


def _clipped_cells(points: np.ndarray, outline: shapely.Polygon) -> np.ndarray:
    diagram = shapely.voronoi_polygons(shapely.MultiPoint(points), extend_to=outline)
    cells = np.array(shapely.get_parts(diagram))
    # voronoi_polygons does not keep input order: match each cell to the point inside it.
    tree = shapely.STRtree(cells)
    point_idx, cell_idx = tree.query(shapely.points(points), predicate="intersects")
    order = np.full(len(points), -1)
    order[point_idx] = cell_idx
    return shapely.intersection(cells[order], outline)


def synthetic_geography(config: CityConfig, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """The synthetic areas with codes, names and districts, in EPSG:27700."""
    outline = city_outline(config, rng)
    cells = voronoi_areas(outline, config.n_lsoas, rng)
    centroids = shapely.get_coordinates(shapely.centroid(cells))
    district = _districts(centroids, config.n_districts, rng)
    # Number areas within each district from the north-west, as ONS codes roughly are.
    order = np.lexsort((-centroids[:, 1] + centroids[:, 0], district))
    to_bng = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)
    cx, cy = to_bng.transform(*CITY_CENTRE_LONLAT)
    within = pd.Series(district[order]).groupby(district[order]).cumcount().to_numpy() + 1
    rows = []
    for serial, (i, number) in enumerate(zip(order, within, strict=True), start=1):
        d = district[i] + 1
        rows.append(
            {
                "lsoa_code": f"{SYNTHETIC_LSOA_PREFIX}{serial:06d}",
                "lsoa_name": f"Synthetic {d:02d} {number:03d}",
                "lad_code": f"{SYNTHETIC_DISTRICT_PREFIX}{d:06d}",
                "lad_name": f"Synthetic district {d:02d}",
                "geometry": shapely.affinity.translate(cells[i], cx, cy),
            }
        )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:27700")


def _districts(centroids: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Borough-like districts: nearest of `k` random seed areas (contiguous by construction)."""
    seeds = centroids[rng.choice(len(centroids), size=min(k, len(centroids)), replace=False)]
    distance = ((centroids[:, None, :] - seeds[None]) ** 2).sum(-1)
    return distance.argmin(axis=1)


# --- area variables ---------------------------------------------------------------------------


def smooth_fields(xy_m: np.ndarray, n_fields: int, config: CityConfig, rng: np.random.Generator) -> np.ndarray:
    """Independent standardised random fields at points `xy_m` (n, 2). Returns (n, n_fields).

    Each field is a Gaussian process with a squared-exponential kernel, approximated by random
    Fourier features, plus an independent per-area part (areas differ from neighbours too).
    """
    n_features = 256
    scale = config.length_scale_km * 1000
    omega = rng.normal(0, 1 / scale, (n_fields, n_features, 2))
    phase = rng.uniform(0, 2 * np.pi, (n_fields, n_features))
    smooth = np.cos(np.einsum("pc,kfc->pkf", xy_m, omega) + phase).sum(-1)
    smooth = _standardise(smooth)
    local = _standardise(rng.normal(size=smooth.shape))
    return np.sqrt(config.smooth_share) * smooth + np.sqrt(1 - config.smooth_share) * local


def _standardise(x: np.ndarray) -> np.ndarray:
    return (x - x.mean(0)) / x.std(0)


def deciles_from_variable(deprivation: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Cut a deprivation variable (higher = more deprived) into deciles with the given shares.

    Decile 1 holds the most deprived areas, as in the IoD. `counts` gives the relative number
    of areas per decile (e.g. London's); it is rescaled to the number of areas.
    """
    n = len(deprivation)
    edges = np.round(np.cumsum(counts) / counts.sum() * n).astype(int)
    rank = np.empty(n, int)
    rank[np.argsort(-deprivation, kind="stable")] = np.arange(n)
    return (np.searchsorted(edges, rank, side="right") + 1).clip(1, 10)


def imd_variable(components: np.ndarray) -> np.ndarray:
    """The IMD as the weighted sum of the seven domain variables (n, 7) → (n,)."""
    weights = np.array([d.imd_weight for d in DOMAINS[1:]])
    return components @ weights


def correlated_variables(
    fields: np.ndarray,
    target: np.ndarray = LONDON_DECILE_CORRELATION,
    counts: np.ndarray = LONDON_DECILE_COUNTS,
    iterations: int = 25,
) -> np.ndarray:
    """Mix independent fields (n, 7) into domain variables whose deciles correlate as `target`.

    The empirical covariance of the fields is whitened, then coloured with a latent correlation
    that is adjusted until the deciles' correlation (all eight indices, IMD included) matches
    `target`: cutting into unequal deciles weakens correlations, so the latent one runs higher.
    """
    white = _whiten(fields)
    latent = target[1:, 1:].copy()
    for _ in range(iterations):
        variables = white @ np.linalg.cholesky(_nearest_correlation(latent)).T
        achieved = np.corrcoef(decile_table(variables, counts).T)
        latent = latent + 0.8 * (target - achieved)[1:, 1:]
    return white @ np.linalg.cholesky(_nearest_correlation(latent)).T


def decile_table(components: np.ndarray, counts: np.ndarray = LONDON_DECILE_COUNTS) -> np.ndarray:
    """Deciles (n, 8) of the IMD and the seven domains, in DOMAIN_KEYS order."""
    variables = np.column_stack([imd_variable(components), components])
    return np.column_stack([deciles_from_variable(variables[:, k], counts[k]) for k in range(variables.shape[1])])


def _whiten(x: np.ndarray) -> np.ndarray:
    x = x - x.mean(0)
    eigval, eigvec = np.linalg.eigh(np.cov(x.T))
    return x @ eigvec @ np.diag(eigval**-0.5) @ eigvec.T


def _nearest_correlation(c: np.ndarray, floor: float = 1e-3) -> np.ndarray:
    """Clip eigenvalues so `c` is positive definite, then restore a unit diagonal."""
    c = (c + c.T) / 2
    eigval, eigvec = np.linalg.eigh(c)
    c = eigvec @ np.diag(np.maximum(eigval, floor)) @ eigvec.T
    d = np.sqrt(np.diag(c))
    return c / d[:, None] / d[None, :]


def synthetic_area_variables(areas: gpd.GeoDataFrame, config: CityConfig, rng: np.random.Generator) -> pd.DataFrame:
    """Hidden deprivation variables (higher = more deprived) for each area; one column per domain."""
    xy = shapely.get_coordinates(areas.geometry.centroid.values)
    fields = smooth_fields(xy - xy.mean(0), len(COMPONENT_KEYS), config, rng)
    # Whitened, independent fields have no sample correlation at all, not just none expected:
    # smooth fields on a few hundred areas would otherwise correlate by chance.
    components = _whiten(fields) if config.independent_domains else correlated_variables(fields)
    return _variables_frame(areas["lsoa_code"], components)


def area_variables_from_deciles(iod: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Hidden variables consistent with real deciles (or ranks, where the table has them).

    A real area's variable is the normal score of its national rank; with deciles only, of a
    uniformly jittered position inside its decile.
    """
    columns = {}
    for key in COMPONENT_KEYS:
        if f"{key}_rank" in iod:
            rank = iod[f"{key}_rank"].to_numpy(float)
            position = (rank - 0.5) / max(rank.max(), 32844)
        else:
            decile = iod[f"{key}_decile"].to_numpy(float)
            position = (decile - 1 + rng.uniform(0, 1, len(decile))) / 10
        columns[key] = norm.ppf(1 - np.clip(position, 1e-4, 1 - 1e-4))  # rank 1 = most deprived
    components = np.column_stack([columns[k] for k in COMPONENT_KEYS])
    return _variables_frame(pd.Series(iod.index, name="lsoa_code"), components)


def _variables_frame(codes: pd.Series, components: np.ndarray) -> pd.DataFrame:
    frame = pd.DataFrame(components, columns=list(COMPONENT_KEYS), index=pd.Index(codes.to_numpy(), name="lsoa_code"))
    frame.insert(0, "imd", imd_variable(components))
    return frame


def iod_table(areas: gpd.GeoDataFrame, variables: pd.DataFrame) -> pd.DataFrame:
    """An IoD2019 table in thisineq's canonical form (ranks and deciles) for synthetic areas."""
    table = areas.set_index("lsoa_code")[["lsoa_name", "lad_code", "lad_name"]].copy()
    deciles = decile_table(variables[list(COMPONENT_KEYS)].to_numpy())
    for k, key in enumerate(DOMAIN_KEYS):
        rank = variables[key].rank(ascending=False, method="first").astype(int)
        table[f"{key}_rank"] = rank.reindex(table.index).to_numpy()
        table[f"{key}_decile"] = pd.Series(deciles[:, k], index=variables.index).reindex(table.index).to_numpy()
    return table.sort_index()
