"""Write a synthetic city to disk in exactly the format that real data arrives in.

A city folder holds `photos/`, `metadata.csv` (image, lat, lon, heading, captured), an IoD2019
File 2 CSV, the LSOA boundaries as GeoJSON — what a user brings for a real city — plus what only
a synthetic city can have: `ground_truth.csv` (every photo's visual factors and its area's hidden
variables), `DATASET_CARD.md` and `contact_sheet.png`.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from PIL import Image
from tqdm.auto import tqdm

from thisineq.config import option
from thisineq.data.dataset import MAX_SIZE, MIN_SIZE
from thisineq.data.synth import city as city_mod
from thisineq.data.synth.crowd import simulate_votes
from thisineq.data.synth.links import PHOTO_NOISE, factor_table, links_markdown, scene
from thisineq.data.synth.render import SceneFactors, plan_scene, render
from thisineq.errors import ConfigError
from thisineq.io import atomic_open, atomic_path, write_json

PHOTOS_DIR = "photos"
METADATA = "metadata.csv"
IOD_FILE = "synthetic_deciles_file2.csv"
BOUNDARIES = "lsoa_boundaries.geojson"
GROUND_TRUTH = "ground_truth.csv"
VOTES = "votes.csv"  # the simulated crowd's, when asked for
CARD = "DATASET_CARD.md"
CONTACT_SHEET = "contact_sheet.png"
CONFIG = "city.json"


@dataclass(frozen=True)
class SynthConfig:
    """Everything that determines a synthetic city; the same config always gives the same city."""

    n_photos: int = option(6000, "number of photos")  # a smaller city is a prefix of a larger one
    size: int = option(64, f"photo side in pixels, {MIN_SIZE}–{MAX_SIZE}")  # ingested at this size too
    image_format: str = option("png", "image format")  # "png" (lossless) or "jpg"
    noise: float = option(PHOTO_NOISE, "per-photo departure of the visual factors from their area's signal")
    # Kept variance: the factors' marginals and their links to the area variables do not change.
    area_style: float = option(0.0, "share (0–1) of that departure, and of the facade hue, common to all photos of an area")
    city: city_mod.CityConfig = option(help="the city's areas and their hidden variables", default_factory=city_mod.CityConfig)
    votes: int = option(0, "simulated crowd votes between random pairs of photos, Place Pulse layout (votes.csv; 0: none)")

    def __post_init__(self):
        if self.n_photos < 1:
            raise ConfigError(f"n_photos must be at least 1, got {self.n_photos}")
        if not MIN_SIZE <= self.size <= MAX_SIZE:
            raise ConfigError(f"size must be within {MIN_SIZE}–{MAX_SIZE} pixels, got {self.size}")
        if self.image_format not in ("png", "jpg"):
            raise ConfigError(f"image_format must be 'png' or 'jpg', got {self.image_format!r}")
        if self.votes < 0:
            raise ConfigError(f"votes must be at least 0, got {self.votes}")
        if not 0 <= self.area_style <= 1:
            raise ConfigError(f"area_style must be within 0–1 (a share of the photos' variation), got {self.area_style}")


def same_city(record_config: dict, config: SynthConfig) -> bool:
    """Whether a city recorded with `record_config` (its city.json "config") is the city `config` builds.

    A record written before a setting existed lacks it; that setting then had its default, which
    changes nothing, so a missing key counts as the default.
    """
    current = json.loads(json.dumps(asdict(config)))
    return _with_defaults(record_config, json.loads(json.dumps(asdict(SynthConfig())))) == current


def _with_defaults(record: dict, defaults: dict) -> dict:
    """`record` with every key it lacks taken from `defaults`, nested dicts too."""
    filled = {**defaults, **record}
    return {
        k: _with_defaults(v, defaults[k]) if isinstance(v, dict) and isinstance(defaults.get(k), dict) else v
        for k, v in filled.items()
    }


def areas_and_deciles(
    config: SynthConfig, boundaries: str | os.PathLike | None = None, imd: str | os.PathLike | None = None
) -> tuple[gpd.GeoDataFrame, pd.DataFrame, pd.DataFrame]:
    """The city's areas (EPSG:27700), hidden variables and IoD table (canonical form).

    With `boundaries` and `imd`, the areas and deciles are real ones and the hidden variables are
    drawn to agree with them; otherwise all three are synthetic.
    """
    rng = np.random.default_rng([config.city.seed, 1])
    if (boundaries is None) != (imd is None):
        raise ConfigError("give both --boundaries and --imd for a synthetic city on a real map, or neither")
    if boundaries is not None and config.city.independent_domains:
        raise ConfigError("independent_domains needs a synthetic map: a real map's deciles are correlated as they are")
    if boundaries is None:
        areas = city_mod.synthetic_geography(config.city, rng)
        variables = city_mod.synthetic_area_variables(areas, config.city, rng)
        return areas, variables, city_mod.iod_table(areas, variables)
    from thisineq.data.geo import read_boundaries
    from thisineq.data.imd import read_iod

    areas = read_boundaries(boundaries)
    table = read_iod(imd)
    shared = table.index.intersection(pd.Index(areas["lsoa_code"]))
    if shared.empty:
        raise ConfigError(f"no LSOA code of {boundaries} appears in {imd}: are they the same LSOA vintage (2011)?")
    areas = areas[areas["lsoa_code"].isin(shared)].sort_values("lsoa_code").reset_index(drop=True)
    table = table.loc[areas["lsoa_code"]]
    return areas, city_mod.area_variables_from_deciles(table, rng), table


def photo_areas(area_codes: np.ndarray, n_photos: int, seed: int) -> np.ndarray:
    """The area of each photo: uniform over areas (LSOAs hold similar populations)."""
    return np.random.default_rng([seed, 2]).choice(area_codes, size=n_photos)


def photo_locations(areas: gpd.GeoDataFrame, photo_area: np.ndarray, seed: int) -> np.ndarray:
    """A uniform random point inside each photo's area, (n, 2) lon/lat in degrees.

    Photos draw their points one after another from one stream, so the first k photos of a larger
    city stand where those of a k-photo city do.
    """
    shapes = areas.set_index("lsoa_code").geometry
    polygons = gpd.GeoSeries(shapes.loc[photo_area].to_numpy(), crs=areas.crs)
    points = polygons.sample_points(1, rng=np.random.default_rng([seed, 3])).to_crs("EPSG:4326")
    lonlat = shapely.get_coordinates(points.to_numpy())
    if len(lonlat) != len(photo_area):  # read_boundaries and the Voronoi cells give every area an area
        raise RuntimeError(f"sample_points gave {len(lonlat)} points for {len(photo_area)} photos: an area has no area")
    return lonlat


def capture_metadata(n: int, seed: int) -> pd.DataFrame:
    """Camera heading and capture date, as a street-level imagery provider records them."""
    heading = np.random.default_rng([seed, 4]).uniform(0, 360, n).round(1)
    days = np.random.default_rng([seed, 5]).integers(0, 13 * 365, n)
    captured = pd.Timestamp("2008-05-01") + pd.to_timedelta(days, unit="D")
    return pd.DataFrame({"heading": heading, "captured": captured.strftime("%Y-%m")})


def plan_city(config: SynthConfig, boundaries=None, imd=None) -> tuple[gpd.GeoDataFrame, pd.DataFrame, pd.DataFrame]:
    """Everything but the pixels: (areas, IoD table, photo table with metadata and factors)."""
    areas, variables, table = areas_and_deciles(config, boundaries, imd)
    seed = config.city.seed
    where = photo_areas(areas["lsoa_code"].to_numpy(), config.n_photos, seed)
    lonlat = photo_locations(areas, where, seed)
    ids = [f"{i:06d}" for i in range(1, config.n_photos + 1)]  # the row number, as ingest numbers photos
    photos = pd.DataFrame(
        {
            "photo_id": ids,
            "image": [f"{PHOTOS_DIR}/{i}.{config.image_format}" for i in ids],
            "lat": lonlat[:, 1].round(6),
            "lon": lonlat[:, 0].round(6),
            "lsoa_code": where,
        }
    )
    photos = pd.concat([photos, capture_metadata(config.n_photos, seed)], axis=1)
    factors = factor_table(variables, where, seed, config.noise, config.area_style)
    hidden = variables.loc[where].add_prefix("area_").reset_index(drop=True)
    return areas, table, pd.concat([photos, factors, hidden], axis=1)


def _render_one(job: tuple[dict, int, str]) -> str:
    """Render and write one photo (in a worker process); skips a photo already on disk."""
    row, size, path = job
    if not os.path.exists(path):
        pixels = render(plan_scene(scene(row)), size)
        with atomic_path(path) as tmp:
            Image.fromarray(pixels).save(tmp, format="PNG" if path.endswith(".png") else "JPEG", quality=95)
    return path


def render_photos(photos: pd.DataFrame, out_dir: Path, size: int, *, workers: int = 2, progress: bool = True) -> None:
    """Render every photo not yet on disk; an interrupted run resumes where it stopped."""
    (out_dir / PHOTOS_DIR).mkdir(parents=True, exist_ok=True)
    fields = list(SceneFactors.__dataclass_fields__)
    jobs = [
        (dict(zip(fields, values, strict=True)), size, str(out_dir / image))
        for values, image in zip(photos[fields].itertuples(index=False), photos["image"], strict=True)
    ]
    bar = tqdm(total=len(jobs), desc="rendering photos", unit="photo", disable=not progress)
    if workers <= 1:
        for job in jobs:
            _render_one(job)
            bar.update()
    else:
        with get_context("spawn").Pool(workers) as pool:
            for _ in pool.imap_unordered(_render_one, jobs, chunksize=64):
                bar.update()
    bar.close()


def ground_truth(photos: pd.DataFrame) -> pd.DataFrame:
    """Per-photo factors, the realised layout (building type, storeys…) and hidden variables."""
    fields = list(SceneFactors.__dataclass_fields__)
    summaries = [plan_scene(scene(dict(zip(fields, v, strict=True)))).summary() for v in photos[fields].itertuples(index=False)]
    return pd.concat([photos.drop(columns=["lat", "lon", "heading", "captured"]), pd.DataFrame(summaries)], axis=1)


def contact_sheet(out_dir: Path, photos: pd.DataFrame, columns: int = 12, rows: int = 8, scale: int = 2) -> Image.Image:
    """A grid of the first photos, up-scaled without blur, to judge the city at a glance."""
    images = [Image.open(out_dir / p).convert("RGB") for p in photos["image"].iloc[: columns * rows]]
    side = images[0].width * scale
    sheet = Image.new("RGB", (columns * side, ((len(images) + columns - 1) // columns) * side), "white")
    for k, image in enumerate(images):
        sheet.paste(image.resize((side, side), Image.Resampling.NEAREST), ((k % columns) * side, (k // columns) * side))
    return sheet


def build_city(
    out_dir: str | os.PathLike,
    config: SynthConfig = SynthConfig(),
    *,
    boundaries: str | os.PathLike | None = None,
    imd: str | os.PathLike | None = None,
    workers: int = 2,
    progress: bool = True,
) -> Path:
    """Write a synthetic city into `out_dir` (created; an interrupted build resumes). Returns it."""
    from thisineq.data.imd import write_file2

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _check_same_config(out_dir, config, boundaries, imd)
    areas, table, photos = plan_city(config, boundaries, imd)
    render_photos(photos, out_dir, config.size, workers=workers, progress=progress)
    with atomic_open(out_dir / METADATA, "w", encoding="utf-8", newline="") as handle:
        photos[["image", "lat", "lon", "heading", "captured"]].to_csv(handle, index=False)
    write_file2(table, out_dir / IOD_FILE)
    with atomic_path(out_dir / BOUNDARIES) as tmp:
        areas[["lsoa_code", "lsoa_name", "geometry"]].rename(columns={"lsoa_code": "LSOA11CD", "lsoa_name": "LSOA11NM"}).to_crs(
            "EPSG:4326"
        ).to_file(tmp, driver="GeoJSON", layer="lsoa_boundaries", COORDINATE_PRECISION=6, RFC7946="YES")
    with atomic_open(out_dir / GROUND_TRUTH, "w", encoding="utf-8", newline="") as handle:
        ground_truth(photos).to_csv(handle, index=False, float_format="%.5f")
    if config.votes:
        votes = simulate_votes(photos, photos["image"], config.votes, seed=config.city.seed)
        with atomic_open(out_dir / VOTES, "w", encoding="utf-8", newline="") as handle:
            votes.to_csv(handle, index=False)
    with atomic_path(out_dir / CONTACT_SHEET) as tmp:
        contact_sheet(out_dir, photos).save(tmp, format="PNG")
    with atomic_open(out_dir / CARD, "w", encoding="utf-8") as handle:
        handle.write(dataset_card(config, areas, table, photos, real_map=boundaries is not None))
    return out_dir


def _check_same_config(out_dir: Path, config: SynthConfig, boundaries, imd) -> None:
    """Refuse to resume into a folder built from another config (it would mix two cities)."""
    maps = {"boundaries": str(boundaries) if boundaries else None, "imd": str(imd) if imd else None}
    path = out_dir / CONFIG
    if path.exists():
        previous = json.loads(path.read_text(encoding="utf-8"))
        if not same_city(previous["config"], config) or {k: previous.get(k) for k in maps} != maps:
            raise ConfigError(f"{out_dir} holds a city built with another configuration ({path}); choose a new folder")
    else:
        write_json(path, {"config": asdict(config), **maps})


def dataset_card(config: SynthConfig, areas, table: pd.DataFrame, photos: pd.DataFrame, *, real_map: bool) -> str:
    """The dataset card: what the city is, how it was made, and that it is synthetic."""
    where = "real LSOA boundaries and real IoD2019 deciles" if real_map else f"{len(areas)} synthetic Voronoi areas"
    return f"""---
synthetic: true
name: {city_mod.CITY_NAME if not real_map else "Synthetic photos on a real decile map"}
photos: {len(photos)}
areas: {len(areas)}
positive_control: {str(config.city.independent_domains).lower()}
area_style: {config.area_style}
---
# SYNTHETIC DATA — {city_mod.CITY_NAME if not real_map else "synthetic photos of a real decile map"}

Every photo in this folder was drawn by a program. **No photo shows a real place.**

- Photos: {len(photos)} procedural street-level views of housing, {config.size}×{config.size} px, {config.image_format.upper()}.
- Areas: {where}.{"" if real_map else " Codes start with `X01` (no real GSS code does); the city lies on the Dogger Bank in the North Sea, where no city is."}
- Deciles: {_card_deciles(config, real_map=real_map)}.
- Built by `thisineq data synth` with seed {config.city.seed}; the same command and seed give the same bytes.

## How the photos depend on deprivation — a design choice for validation

The link from an area's hidden deprivation variables to what its photos show is **invented**, so
that the pipeline (GAN → inversion → boundary → walk) can be checked against a known answer. It is
**not a claim about what deprived places look like.** Each linked factor is
Φ((Σ weight × privilege + noise) / spread), with per-photo noise of standard deviation {config.noise}:

{links_markdown()}

{_card_area_style(config.area_style)}

Nuisance factors — sun, cloud, haze, camera yaw, facade hue, number of parked cars — are drawn
independently of every area variable.

## Files

| file | what |
|---|---|
| `{PHOTOS_DIR}/` | the photos |
| `{METADATA}` | `image, lat, lon, heading, captured` — the format a real photo collection uses |
| `{IOD_FILE}` | deciles and ranks in the official IoD2019 File 2 layout |
| `{BOUNDARIES}` | area boundaries, GeoJSON, EPSG:4326, codes in `LSOA11CD` |
| `{GROUND_TRUTH}` | every photo's visual factors, realised layout and its area's hidden variables (`area_*`, higher = more deprived) |
| `{CONTACT_SHEET}` | the first photos as a grid |
"""


def _card_deciles(config: SynthConfig, *, real_map: bool) -> str:
    if real_map:
        return "copied from the IoD2019 file given"
    if config.city.independent_domains:
        return (
            "cut from smooth hidden variables, with London's share of areas in each decile. **A positive control:** "
            "the seven domains are drawn independent of each other (unlike London's, which correlate strongly), so "
            "that the deprived and privileged areas of one domain differ in that domain's factors only; the IMD is "
            "still their weighted sum"
        )
    return "cut from smooth hidden variables, correlated across domains as London's IoD2019 deciles are, with London's share of areas in each decile"


def _card_area_style(share: float) -> str:
    if share == 0:
        return "Area style: 0 — each photo's noise, and its facade hue, is its own; photos of one area share only its signal."
    return (
        f"Area style: {share} — that share of the noise's variance, and of the facade hue's, is common to every photo "
        "of the same area (a street's building age, tree policy, palette); the rest is each photo's own. The "
        "noise's total variance is kept, so each factor's distribution and its link to the area variables are unchanged."
    )


def build_city_dataset(out_dir: str | os.PathLike, config: SynthConfig = SynthConfig(), **options) -> Path:
    """Write a city (`build_city`, same options), then ingest it like real data into `out_dir/dataset`."""
    from thisineq.data.dataset import IngestConfig, ingest

    city = build_city(out_dir, config, **options)
    return ingest(
        photos_dir=city,
        metadata=city / METADATA,
        imd=city / IOD_FILE,
        boundaries=city / BOUNDARIES,
        out_dir=city / "dataset",
        config=IngestConfig(size=config.size, workers=options.get("workers", 2)),
        votes=city / VOTES if config.votes else None,
        progress=options.get("progress", True),
    )
