"""The dataset format every later stage reads: photos joined to LSOAs and deciles, split and cached.

`ingest` turns raw inputs — a photo folder, its metadata CSV, an IoD2019 file and LSOA
boundaries — into a dataset folder; the synthetic city goes through the very same function, so
nothing downstream can tell the two apart except by the `synthetic` flag it records. A dataset
folder holds:

| file | what |
|---|---|
| `dataset.json` | format version, sources with sha256, counts, split, whether it is synthetic |
| `photos.csv` | one row per usable photo: id, image path, lat/lon, LSOA, every decile, split, cache row |
| `problems.csv` | every photo that is not usable, and why — nothing is dropped silently |
| `lsoas.csv` | the IoD2019 table for the LSOAs that have boundaries, with photo counts |
| `lsoas.geojson` | simplified boundaries with codes and names (no deciles, to stay small), for the web map |
| `images_<size>.npy` | uint8 (n_photos, size, size, 3), row `cache_index` of photos.csv |
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from thisineq import __version__
from thisineq.config import option
from thisineq.data.domains import DOMAIN_KEYS, SYNTHETIC_LSOA_PREFIX
from thisineq.errors import ConfigError, MissingFileError, ThisIneqError
from thisineq.io import atomic_open, sha256_file, write_json

FORMAT = "thisineq-dataset"
FORMAT_VERSION = 1
MANIFEST = "dataset.json"
PHOTOS = "photos.csv"
PROBLEMS = "problems.csv"
LSOAS = "lsoas.csv"
VOTES = "votes.csv"
VOTE_PROBLEMS = "vote_problems.csv"
WEB_BOUNDARIES = "lsoas.geojson"
CARD_NAMES = ("DATASET_CARD.md", "README.md")


class DatasetError(ThisIneqError, ValueError):
    """A dataset folder that is missing, incomplete or of another format version."""


MIN_SIZE, MAX_SIZE = 16, 1024  # cached image side: below 16 px nothing is recognisable; 1024 is the GAN's largest


@dataclass(frozen=True)
class IngestConfig:
    """How raw inputs become a dataset."""

    size: int = option(64, "side of the cached images in pixels")
    split_fractions: tuple[float, float, float] = option((0.8, 0.1, 0.1), "train, val and test shares of the photos, by LSOA")
    split_seed: int = option(0, "seed of the train/val/test split by LSOA")
    workers: int = option(2, "decoding processes")

    def __post_init__(self):
        if not MIN_SIZE <= self.size <= MAX_SIZE:
            raise ConfigError(f"image size must be within {MIN_SIZE}–{MAX_SIZE} pixels, got {self.size}")
        if self.workers < 1:
            raise ConfigError(f"workers must be at least 1, got {self.workers}")
        fractions = tuple(self.split_fractions)
        if len(fractions) != 3 or min(fractions) < 0 or fractions[0] <= 0 or abs(sum(fractions) - 1) > 1e-6:
            raise ConfigError(f"split_fractions are (train, val, test) shares summing to 1 with some train, got {fractions}")


def ingest(
    photos_dir: str | os.PathLike,
    metadata: str | os.PathLike,
    imd: str | os.PathLike,
    boundaries: str | os.PathLike,
    out_dir: str | os.PathLike,
    config: IngestConfig = IngestConfig(),
    *,
    votes: str | os.PathLike | None = None,
    progress: bool = True,
) -> Path:
    """Build a dataset folder from raw inputs; rerunning resumes the image cache. Returns out_dir.

    `votes`: pairwise crowd votes in the Place Pulse layout (`thisineq.data.votes`), kept as votes.csv
    with photo ids; votes naming photos the dataset lacks go to vote_problems.csv with their reason.
    """
    from thisineq.data.votes import read_votes

    raw_votes = read_votes(votes) if votes is not None else None  # a bad file stops the ingest before it writes
    from thisineq.data.geo import read_boundaries, write_web_geojson
    from thisineq.data.imd import read_iod
    from thisineq.data.photos.checks import check_files
    from thisineq.data.photos.metadata import read_metadata

    photos_dir, out_dir = Path(photos_dir), Path(out_dir)
    if not photos_dir.is_dir():
        raise MissingFileError(f"photo folder not found: {photos_dir}")
    table = read_iod(imd)
    areas = read_boundaries(boundaries)
    meta = read_metadata(metadata)
    usable, problems = check_files(meta, photos_dir)
    located, unlocated = locate_photos(usable, areas, set(table.index))
    photos = located.join(table.filter(like="_decile"), on="lsoa_code")
    photos = photos.join(table[["lsoa_name", "lad_code", "lad_name"]], on="lsoa_code")
    photos["split"] = split_photos(photos, config)
    out_dir.mkdir(parents=True, exist_ok=True)
    photos, failed = cache_images(photos, photos_dir, out_dir, config, progress=progress)
    problems = pd.concat([problems, unlocated, failed], ignore_index=True)
    lsoas = lsoa_table(table, areas, photos)
    _write_csv(out_dir / PHOTOS, photo_columns(photos))
    _write_csv(out_dir / PROBLEMS, problems[["photo_id", "image", "problem", "detail"]])
    _write_csv(out_dir / LSOAS, lsoas)
    # Deciles stay out of the boundary file to keep the web payload small (≤ 3 MB for London);
    # the map page adds the one domain it shows.
    write_web_geojson(areas[areas["lsoa_code"].isin(lsoas.index)], out_dir / WEB_BOUNDARIES)
    card = _find_card(Path(metadata).parent)
    if card is not None:
        with atomic_open(out_dir / card.name, "w", encoding="utf-8") as handle:
            handle.write(card.read_text(encoding="utf-8"))
    counts = _counts(meta, photos, problems, lsoas)
    sources = {"metadata": metadata, "imd": imd, "boundaries": boundaries}
    if raw_votes is not None:
        counts["votes"] = _write_votes(raw_votes, photos, out_dir)
        sources["votes"] = votes
    manifest = _manifest(out_dir, photos_dir, card, config, photos, lsoas, counts, sources)
    write_json(out_dir / MANIFEST, _kept_creation_time(out_dir / MANIFEST, manifest))
    return out_dir


def _kept_creation_time(path: Path, manifest: dict) -> dict:
    """`manifest` with the creation time of the one at `path` where nothing else differs: the same photos ingested
    again give the same file, so what was computed from the dataset (features, inversions, pipeline steps) stays current."""
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return manifest
    if not isinstance(previous, dict) or "created" not in previous:
        return manifest
    written = json.loads(json.dumps(manifest))  # as the file would hold it (tuples as lists)
    same = {k: v for k, v in previous.items() if k != "created"} == {k: v for k, v in written.items() if k != "created"}
    return {**manifest, "created": previous["created"]} if same else manifest


def _write_votes(raw_votes: pd.DataFrame, photos: pd.DataFrame, out_dir: Path) -> dict:
    """votes.csv (usable, by photo id) and vote_problems.csv; their counts for the manifest."""
    from thisineq.data.votes import check_votes

    usable, problems = check_votes(raw_votes, photos.set_index("photo_id"))
    _write_csv(out_dir / VOTES, usable)
    _write_csv(out_dir / VOTE_PROBLEMS, problems)
    return {
        "listed": int(len(raw_votes)),
        "usable": int(len(usable)),
        "questions": {str(k): int(v) for k, v in usable["question"].value_counts().items()},
        "problems": {str(k): int(v) for k, v in problems["problem"].value_counts().items()},
    }


def _manifest(
    out_dir: Path,
    photos_dir: Path,
    card: Path | None,
    config: IngestConfig,
    photos: pd.DataFrame,
    lsoas: pd.DataFrame,
    counts: dict,
    sources: dict[str, str | os.PathLike],
) -> dict:
    """dataset.json: what the dataset is, how it was split, what it counts and where it came from."""
    manifest = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "name": _card_field(card, "name") or out_dir.name,
        "synthetic": is_synthetic(card, lsoas.index),
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "thisineq": __version__,
        "photos_dir": os.path.relpath(photos_dir.resolve(), out_dir.resolve()),
        "image_size": config.size,
        "images": image_cache_name(config.size),
        "domains": [k for k in DOMAIN_KEYS if f"{k}_decile" in photos],
        "split": {"fractions": list(config.split_fractions), "seed": config.split_seed, "grouped_by": "lsoa_code"},
        "counts": counts,
        "sources": {name: _source(path, out_dir) for name, path in sources.items()},
    }
    if card is not None:
        manifest["card"] = card.name
    return manifest


def _counts(meta: pd.DataFrame, photos: pd.DataFrame, problems: pd.DataFrame, lsoas: pd.DataFrame) -> dict:
    """Photos listed and usable, problems by kind, LSOAs with and without photos, photos per split."""
    return {
        "photos_listed": int(len(meta)),
        "photos_usable": int(len(photos)),
        "problems": {str(k): int(v) for k, v in problems["problem"].value_counts().items()},
        "lsoas": int(len(lsoas)),
        "lsoas_with_photos": int((lsoas["n_photos"] > 0).sum()),
        "splits": {str(k): int(v) for k, v in photos["split"].value_counts().items()},
    }


def photo_columns(photos: pd.DataFrame) -> pd.DataFrame:
    """photos.csv's columns in one order for every dataset; a user's extra columns go last.

    The absolute `path` found while checking files is dropped: it would tie the dataset to one
    machine, and `image` with the manifest's `photos_dir` locates every photo.
    """
    photos = photos.drop(columns=["path"], errors="ignore")
    for optional in ("lat", "lon", "heading", "captured"):
        if optional not in photos:
            photos[optional] = pd.NA
    deciles = [f"{k}_decile" for k in DOMAIN_KEYS if f"{k}_decile" in photos]
    canonical = [
        "photo_id",
        "image",
        "lat",
        "lon",
        "heading",
        "captured",
        "lsoa_code",
        "lsoa_name",
        "lad_code",
        "lad_name",
        *deciles,
        "split",
        "cache_index",
        "format",
        "width",
        "height",
        "sha256",
    ]
    return photos[canonical + [c for c in photos.columns if c not in canonical]]


def locate_photos(photos: pd.DataFrame, areas, known_codes: set[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Give every photo its LSOA: an explicit `lsoa_code`, else the polygon its lat/lon falls in.

    Returns (located, problems); a photo outside every LSOA, with bad coordinates, or in an LSOA
    without deciles is a problem, never dropped silently.
    """
    from thisineq.data.geo import join_points

    given = photos.get("lsoa_code", pd.Series(pd.NA, index=photos.index)).astype("string").str.strip()
    has_code = given.notna() & (given != "")
    by_code = photos[has_code].assign(lsoa_code=given[has_code])
    unknown = ~by_code["lsoa_code"].isin(set(areas["lsoa_code"]))
    problems = [_problem_rows(by_code[unknown], "unknown LSOA code", lambda r: f"{r.lsoa_code} is not in the boundary file")]
    by_code = by_code[~unknown]
    to_join = photos[~has_code]
    if len(to_join) and {"lat", "lon"} <= set(photos.columns):
        joined, outside = join_points(to_join.drop(columns=["lsoa_code"], errors="ignore"), areas)
        problems.append(_problem_rows(outside, None, lambda r: f"lat {r.lat}, lon {r.lon}"))
    else:
        joined = to_join.iloc[:0].assign(lsoa_code=pd.Series(dtype="string"))
        problems.append(_problem_rows(to_join, "no location", lambda r: "neither lsoa_code nor lat/lon given"))
    located = pd.concat([by_code, joined]).sort_index()
    no_deciles = ~located["lsoa_code"].isin(known_codes)
    problems.append(
        _problem_rows(located[no_deciles], "LSOA has no IoD2019 deciles", lambda r: f"{r.lsoa_code} is not in the IoD2019 file")
    )
    return located[~no_deciles], pd.concat(problems, ignore_index=True)


def _problem_rows(rows: pd.DataFrame, problem: str | None, detail) -> pd.DataFrame:
    """Rows as problem records; `problem=None` keeps the rows' own `problem` column."""
    out = pd.DataFrame(
        {
            "photo_id": rows["photo_id"],
            "image": rows["image"],
            "problem": rows["problem"] if problem is None else problem,
            "detail": [detail(r) for r in rows.itertuples()] if len(rows) else [],
        }
    )
    return out.reset_index(drop=True)


def split_photos(photos: pd.DataFrame, config: IngestConfig) -> pd.Series:
    """Each photo's split, train/val/test, keeping every LSOA on one side."""
    from thisineq.data.photos.splits import split_by_group

    return split_by_group(photos["lsoa_code"], fractions=config.split_fractions, seed=config.split_seed)


def image_cache_name(size: int) -> str:
    """The file name of the image cache at `size` pixels."""
    return f"images_{size}.npy"


def cache_images(
    photos: pd.DataFrame, photos_dir: Path, out_dir: Path, config: IngestConfig, *, progress: bool
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Decode every photo into the image cache; returns (photos with `cache_index`, decode failures)."""
    from thisineq.data.photos.cache import build_image_cache

    photos = photos.assign(cache_index=np.arange(len(photos)))
    paths = [photos_dir / image for image in photos["image"]]
    failures = build_image_cache(
        paths, config.size, out_dir / image_cache_name(config.size), workers=config.workers, progress=progress
    )
    rows = photos.iloc[failures["index"].to_numpy(int)]
    problems = pd.DataFrame(
        {
            "photo_id": rows["photo_id"].to_numpy(),
            "image": rows["image"].to_numpy(),
            "problem": failures["problem"].to_numpy(),
            "detail": failures["detail"].to_numpy(),
        }
    )
    return photos[~photos["cache_index"].isin(failures["index"])], problems


def lsoa_table(table: pd.DataFrame, areas, photos: pd.DataFrame) -> pd.DataFrame:
    """The IoD2019 rows of the LSOAs that have a boundary, with their number of usable photos."""
    lsoas = table[table.index.isin(set(areas["lsoa_code"]))].copy()
    lsoas["n_photos"] = photos["lsoa_code"].value_counts().reindex(lsoas.index, fill_value=0).astype(int)
    return lsoas


def is_synthetic(card: Path | None, codes: pd.Index) -> bool:
    """Synthetic when the card says so or any LSOA code carries the synthetic prefix."""
    flag = _card_field(card, "synthetic")
    return (flag or "").lower() == "true" or bool(pd.Index(codes).astype(str).str.startswith(SYNTHETIC_LSOA_PREFIX).any())


def _find_card(folder: Path) -> Path | None:
    for name in CARD_NAMES:
        if (folder / name).is_file():
            return folder / name
    return None


def _card_field(card: Path | None, key: str) -> str | None:
    """A `key: value` line of the card's front matter (between `---` lines), if any."""
    if card is None:
        return None
    text = card.read_text(encoding="utf-8", errors="replace")
    match = re.match(r"---\n(.*?)\n---", text, flags=re.S)
    if not match:
        return None
    for line in match.group(1).splitlines():
        name, _, value = line.partition(":")
        if name.strip() == key:
            return value.strip()
    return None


def _source(path, out_dir: Path) -> dict:
    """A source file by its path relative to the dataset (so a moved folder stays valid) and hash."""
    path = Path(path)
    relative = os.path.relpath(path.resolve(), out_dir.resolve())
    return {"path": relative, "sha256": sha256_file(path), "bytes": path.stat().st_size}


def _write_csv(path: Path, frame: pd.DataFrame) -> None:
    with atomic_open(path, "w", encoding="utf-8", newline="") as handle:
        frame.to_csv(handle, index=frame.index.name is not None)


# --- reading a dataset ------------------------------------------------------------------------


@dataclass
class Dataset:
    """A dataset folder, read: tables in memory, images memory-mapped."""

    root: Path
    manifest: dict
    photos: pd.DataFrame  # one row per usable photo, index photo_id
    lsoas: pd.DataFrame  # index lsoa_code

    @property
    def synthetic(self) -> bool:
        return bool(self.manifest["synthetic"])

    @property
    def image_size(self) -> int:
        return int(self.manifest["image_size"])

    @property
    def photos_dir(self) -> Path:
        return (self.root / self.manifest["photos_dir"]).resolve()

    @property
    def web_boundaries(self) -> Path:
        return self.root / WEB_BOUNDARIES

    def images(self) -> np.ndarray:
        """uint8 (n_photos, size, size, 3), memory-mapped; row i is photos.cache_index == i.

        The cache is derived data: where it is missing (it is not committed with the demo), it is
        rebuilt from the photos first.
        """
        path = self.root / self.manifest["images"]
        if not path.is_file():
            self._build_images(path)
        return np.load(path, mmap_mode="r")

    def _build_images(self, path: Path) -> None:
        from thisineq.data.photos.cache import build_image_cache

        order = self.photos.sort_values("cache_index")
        if not np.array_equal(order["cache_index"].to_numpy(), np.arange(len(order))):
            raise DatasetError(f"{path} is missing and photos.csv has gaps in cache_index: re-run `thisineq data ingest`")
        # Two processes (two app sessions, two scripts) may ask for a missing cache at once: they would share one
        # partial file, so the second waits for the first and then reads its cache. The lock lives outside the
        # dataset, which keeps its files.
        digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
        with open(Path(tempfile.gettempdir()) / f"thisineq-cache-{digest}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                if not path.is_file():
                    paths = [self.photos_dir / image for image in order["image"]]
                    build_image_cache(paths, self.image_size, path, workers=1, progress=False)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def image(self, photo_id: str) -> np.ndarray:
        """One photo's cached square image, uint8 (size, size, 3)."""
        return np.asarray(self.images()[int(self.photos.loc[photo_id, "cache_index"])])

    def problems(self) -> pd.DataFrame:
        return pd.read_csv(self.root / PROBLEMS, dtype={"photo_id": str})

    def votes(self) -> pd.DataFrame | None:
        """The crowd votes ingested with the photos (row, left, right, winner, question; photo ids), or None."""
        path = self.root / VOTES
        return pd.read_csv(path, dtype={"left": str, "right": str}, keep_default_na=False) if path.is_file() else None


def load_dataset(root: str | os.PathLike) -> Dataset:
    """Read a dataset folder written by `ingest`; a clear error says what is missing or wrong."""
    root = Path(root)
    path = root / MANIFEST
    if not path.is_file():
        raise DatasetError(f"{root} is not a thisineq dataset: {MANIFEST} not found (build one with `thisineq data ingest`)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DatasetError(f"{path} is not valid JSON: {error}") from None
    if manifest.get("format") != FORMAT or manifest.get("version") != FORMAT_VERSION:
        raise DatasetError(
            f"{path} is format {manifest.get('format')!r} version {manifest.get('version')!r}; "
            f"this thisineq reads {FORMAT!r} version {FORMAT_VERSION}: rebuild it with `thisineq data ingest`"
        )
    for name in (PHOTOS, LSOAS):
        if not (root / name).is_file():
            raise DatasetError(f"dataset {root} is incomplete: {name} is missing")
    photos = pd.read_csv(root / PHOTOS, dtype={"photo_id": str, "lsoa_code": str}).set_index("photo_id")
    lsoas = pd.read_csv(root / LSOAS, dtype={"lsoa_code": str}).set_index("lsoa_code")
    return Dataset(root=root, manifest=manifest, photos=photos, lsoas=lsoas)
