"""Ingest: real and synthetic inputs give the same dataset format; nothing is dropped silently."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import time

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from thisineq.data.dataset import DatasetError, IngestConfig, ingest, load_dataset
from thisineq.data.synth import city
from thisineq.data.synth.build import SynthConfig, build_city_dataset
from thisineq.data.synth.render import SceneFactors, plan_scene, render
from thisineq.errors import ConfigError, ThisIneqError

CONFIG = SynthConfig(n_photos=60, city=city.CityConfig(n_lsoas=80, seed=1))


@pytest.fixture(scope="module")
def synthetic_dataset(tmp_path_factory):
    return build_city_dataset(tmp_path_factory.mktemp("synth") / "city", CONFIG, workers=1, progress=False)


def test_synthetic_city_ingests_completely(synthetic_dataset):
    data = load_dataset(synthetic_dataset)
    assert data.synthetic and data.manifest["counts"]["photos_usable"] == 60
    assert data.images().shape == (60, 64, 64, 3)
    first = data.photos.index[0]
    expected = np.asarray(Image.open(data.photos_dir / data.photos.loc[first, "image"]).convert("RGB"))
    assert np.array_equal(data.image(first), expected)
    assert {f"{k}_decile" for k in ("imd", "income", "health", "education")} <= set(data.photos.columns)
    geojson = json.loads(data.web_boundaries.read_text())
    assert len(geojson["features"]) == 80 and geojson["features"][0]["properties"]["lsoa_code"].startswith("X01")


def test_split_leaks_no_lsoa(synthetic_dataset):
    photos = load_dataset(synthetic_dataset).photos
    sides = photos.groupby("lsoa_code")["split"].nunique()
    assert (sides == 1).all()
    assert set(photos["split"]) == {"train", "val", "test"}


def test_missing_cache_is_rebuilt(synthetic_dataset, tmp_path):
    data = load_dataset(synthetic_dataset)
    before = np.array(data.images())
    (synthetic_dataset / data.manifest["images"]).unlink()
    assert np.array_equal(load_dataset(synthetic_dataset).images(), before)


def _read_images_when_released(root: str, start, results) -> None:
    start.wait()
    results.put(hashlib.sha256(np.array(load_dataset(root).images()).tobytes()).hexdigest())


def test_missing_cache_rebuilt_by_two_processes_at_once(synthetic_dataset):
    """Two app sessions opening a fresh clone both ask for the missing cache; neither may fail."""
    data = load_dataset(synthetic_dataset)
    before = hashlib.sha256(np.array(data.images()).tobytes()).hexdigest()
    (synthetic_dataset / data.manifest["images"]).unlink()
    context = multiprocessing.get_context("spawn")
    start, results = context.Event(), context.Queue()
    readers = [
        context.Process(target=_read_images_when_released, args=(str(synthetic_dataset), start, results)) for _ in range(2)
    ]
    for reader in readers:
        reader.start()
    time.sleep(3)  # both have imported thisineq and wait at the line
    start.set()
    for reader in readers:
        reader.join(120)  # a reader that failed has put nothing; one that succeeded has put its images
    assert [reader.exitcode for reader in readers] == [0, 0]
    assert [results.get(timeout=5) for _ in readers] == [before, before]


def _london_collection(folder, london_points):
    """Rendered photos placed at London coordinates, plus the bad rows a real collection has."""
    (folder / "img").mkdir(parents=True)
    rows = []
    for k, (lat, lon) in enumerate(london_points):
        Image.fromarray(render(plan_scene(SceneFactors(detail_seed=k)), 96)).save(folder / "img" / f"{k}.jpg", quality=90)
        rows.append({"image": f"img/{k}.jpg", "lat": lat, "lon": lon})
    rows.append({"image": "img/0.jpg", "lat": 51.5, "lon": -0.1})  # listed twice
    rows.append({"image": "img/absent.jpg", "lat": 51.5, "lon": -0.1})
    (folder / "img" / "broken.jpg").write_bytes(b"not a jpeg at all")
    rows.append({"image": "img/broken.jpg", "lat": 51.5, "lon": -0.1})
    Image.fromarray(render(plan_scene(SceneFactors(detail_seed=99)), 96)).save(folder / "img" / "oxford.jpg")
    rows.append({"image": "img/oxford.jpg", "lat": 51.752, "lon": -1.2577})  # outside London
    pd.DataFrame(rows).to_csv(folder / "meta.csv", index=False)
    return folder


def test_london_ingest_matches_the_synthetic_format(london, tmp_path, synthetic_dataset):
    points = [(51.5138, -0.0984), (51.5007, -0.1246), (51.5390, -0.1426), (51.4613, -0.1156), (51.5560, -0.2795)]
    raw = _london_collection(tmp_path / "raw", points)
    out = ingest(
        raw,
        raw / "meta.csv",
        london.file2_london,
        london.boundaries_shp,
        tmp_path / "ds",
        IngestConfig(workers=1),
        progress=False,
    )
    data = load_dataset(out)
    synthetic = load_dataset(synthetic_dataset)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        p.name for p in synthetic_dataset.iterdir() if p.name != "DATASET_CARD.md"
    )
    assert list(data.photos.columns) == list(synthetic.photos.columns)
    assert not data.synthetic and data.manifest["counts"]["lsoas"] == 4835
    assert len(data.photos) == 5 and data.photos["lsoa_code"].str.startswith("E01").all()
    problems = data.problems().set_index("image")["problem"]
    assert problems.to_dict() == {
        "img/0.jpg": "duplicate row",
        "img/absent.jpg": "missing file",
        "img/broken.jpg": "unreadable",
        "img/oxford.jpg": "outside every LSOA",
    }
    counts = data.manifest["counts"]
    assert counts["photos_usable"] + sum(counts["problems"].values()) == counts["photos_listed"] == 9
    # The City of London photo carries its LSOA's official deciles.
    city_row = data.photos[data.photos["image"] == "img/0.jpg"].iloc[0]
    assert city_row["lad_name"] == "City of London"


def _ingest_city(city_dir, metadata: pd.DataFrame, tmp_path):
    """The synthetic city's photos listed by `metadata`, ingested into tmp_path/ds."""
    metadata.to_csv(tmp_path / "metadata.csv", index=False)
    return ingest(
        city_dir,
        tmp_path / "metadata.csv",
        city_dir / "synthetic_deciles_file2.csv",
        city_dir / "lsoa_boundaries.geojson",
        tmp_path / "ds",
        IngestConfig(workers=1),
        progress=False,
    )


def test_lsoa_code_column_locates_photos_without_coordinates(tmp_path, synthetic_dataset):
    city_dir = synthetic_dataset.parent
    meta = pd.read_csv(city_dir / "metadata.csv").head(5)
    truth = pd.read_csv(city_dir / "ground_truth.csv").head(5)
    meta = meta.drop(columns=["lat", "lon"]).assign(lsoa_code=truth["lsoa_code"])
    meta.loc[4, "lsoa_code"] = "X01999999"
    data = load_dataset(_ingest_city(city_dir, meta, tmp_path))
    assert list(data.photos["lsoa_code"]) == list(truth["lsoa_code"].head(4))
    assert data.problems()["problem"].tolist() == ["unknown LSOA code"]


def test_the_same_photos_ingested_again_give_the_same_manifest(tmp_path, synthetic_dataset):
    city_dir = synthetic_dataset.parent
    meta = pd.read_csv(city_dir / "metadata.csv")

    def ingested(rows: pd.DataFrame) -> bytes:
        return (_ingest_city(city_dir, rows, tmp_path) / "dataset.json").read_bytes()

    first = ingested(meta)
    manifest = json.loads(first)
    manifest["created"] = "2000-01-01T00:00:00+00:00"  # as if ingested long ago
    (tmp_path / "ds" / "dataset.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert json.loads(ingested(meta))["created"] == "2000-01-01T00:00:00+00:00"  # nothing else changed: kept
    fewer = json.loads(ingested(meta.head(50)))
    assert fewer["counts"]["photos_listed"] == 50 and fewer["created"] != "2000-01-01T00:00:00+00:00"


@pytest.mark.parametrize(
    ("settings", "match"),
    [({"size": 8}, "within 16–1024"), ({"workers": 0}, "at least 1"), ({"split_fractions": (0, 0.5, 0.5)}, "some train")],
)
def test_impossible_ingest_settings_are_config_errors(settings, match):
    with pytest.raises(ConfigError, match=match):
        IngestConfig(**settings)


def test_ingest_names_a_missing_photo_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="photo folder not found") as error:
        ingest(tmp_path / "nowhere", tmp_path / "m.csv", tmp_path / "f2.csv", tmp_path / "b.shp", tmp_path / "out")
    assert isinstance(error.value, ThisIneqError)


def test_load_dataset_names_what_is_wrong(tmp_path, synthetic_dataset):
    with pytest.raises(DatasetError, match="dataset.json not found"):
        load_dataset(tmp_path)
    (tmp_path / "dataset.json").write_text('{"format": "thisineq-dataset", "version": 99}')
    with pytest.raises(DatasetError, match="version 99"):
        load_dataset(tmp_path)
    (tmp_path / "dataset.json").write_text("{not json")
    with pytest.raises(DatasetError, match="not valid JSON"):
        load_dataset(tmp_path)
