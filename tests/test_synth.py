"""The synthetic city: deterministic, London-like decile structure, noisy but real links, real format."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import shapely

from thisineq.config import help_of
from thisineq.data.dataset import IngestConfig
from thisineq.data.domains import DOMAIN_KEYS
from thisineq.data.imd import decile_correlations, read_iod
from thisineq.data.synth import city
from thisineq.data.synth.build import SynthConfig, build_city, plan_city
from thisineq.data.synth.links import LINKS
from thisineq.data.synth.render import LINKED_FACTORS, SceneFactors, plan_scene, render
from thisineq.errors import ConfigError

SMALL = SynthConfig(n_photos=40, city=city.CityConfig(n_lsoas=120, seed=3))


def test_render_is_deterministic_and_sized():
    factors = SceneFactors(detail_seed=11, yaw=0.7, fog=0.3)
    for size in (64, 128, 256):
        image = render(plan_scene(factors), size)
        assert image.shape == (size, size, 3) and image.dtype == np.uint8
    assert np.array_equal(render(plan_scene(factors), 64), render(plan_scene(factors), 64))
    assert not np.array_equal(render(plan_scene(factors), 64), render(plan_scene(SceneFactors(detail_seed=12)), 64))


def test_render_shows_no_empty_canvas_for_a_turned_camera():
    for yaw in (-1.0, 1.0):
        image = render(plan_scene(SceneFactors(yaw=yaw, detail_seed=1)), 64)
        assert (image.sum(axis=2) < 15).mean() < 0.02  # no black wedges at the corners


@pytest.mark.parametrize("factor", ["greenery", "density", "litter", "facade_render"])
def test_a_linked_factor_changes_what_is_drawn(factor):
    low = render(plan_scene(SceneFactors(**{factor: 0.0}, detail_seed=5)), 64).astype(float)
    high = render(plan_scene(SceneFactors(**{factor: 1.0}, detail_seed=5)), 64).astype(float)
    assert np.abs(low - high).mean() > 3.0


def test_density_sets_the_building_type():
    assert plan_scene(SceneFactors(density=0.02)).building_type == "detached"
    assert plan_scene(SceneFactors(density=0.98)).building_type == "flats"


def test_each_default_domain_drives_two_factors_of_its_own():
    for domain in ("income", "health", "education"):
        own = [f for f, w in LINKS.items() if max(w, key=lambda d: abs(w[d])) == domain]
        assert len(own) >= 2, domain
    assert set(LINKS) == set(LINKED_FACTORS)


def test_city_is_deterministic_and_a_prefix_of_a_larger_one():
    _, table_a, photos_a = plan_city(SMALL)
    _, table_b, photos_b = plan_city(SMALL)
    pd.testing.assert_frame_equal(photos_a, photos_b)
    pd.testing.assert_frame_equal(table_a, table_b)
    bigger = SynthConfig(n_photos=100, city=SMALL.city)
    _, _, photos_c = plan_city(bigger)
    pd.testing.assert_frame_equal(photos_a, photos_c.iloc[:40])


def test_photos_stand_inside_their_own_area():
    areas, _, photos = plan_city(SMALL)
    # Compared in lon/lat, the direction the city is written in: PROJ's way back to the national
    # grid changes operation at 1.92 E, inside the city, and moves points east of it by ~130 m.
    own = areas.to_crs("EPSG:4326").set_index("lsoa_code").geometry.loc[photos["lsoa_code"]].to_numpy()
    points = shapely.points(photos["lon"].to_numpy(), photos["lat"].to_numpy())
    assert shapely.dwithin(own, points, 1e-6).all()  # lat/lon are kept to 6 decimals


def test_decile_correlations_match_london_within_a_tenth(london):
    real = decile_correlations(read_iod(london.file2_london))
    for seed in (0, 1):
        config = city.CityConfig(n_lsoas=600, seed=seed)
        rng = np.random.default_rng(seed)
        areas = city.synthetic_geography(config, rng)
        table = city.iod_table(areas, city.synthetic_area_variables(areas, config, rng))
        synthetic = decile_correlations(table)
        assert np.abs(synthetic.to_numpy() - real.loc[list(DOMAIN_KEYS), list(DOMAIN_KEYS)].to_numpy()).max() <= 0.1


def test_hardcoded_london_figures_are_the_files(london):
    real = read_iod(london.file2_london)
    assert np.allclose(decile_correlations(real).to_numpy(), city.LONDON_DECILE_CORRELATION, atol=5e-4)
    counts = np.array([np.bincount(real[f"{k}_decile"], minlength=11)[1:] for k in DOMAIN_KEYS])
    assert np.array_equal(counts, city.LONDON_DECILE_COUNTS)


def test_area_variables_are_spatially_smooth():
    config = city.CityConfig(n_lsoas=400, seed=0)
    rng = np.random.default_rng(0)
    areas = city.synthetic_geography(config, rng)
    variables = city.synthetic_area_variables(areas, config, rng)
    neighbours = areas.sjoin(areas, predicate="touches")
    left = variables.loc[neighbours["lsoa_code_left"], "income"].to_numpy()
    right = variables.loc[neighbours["lsoa_code_right"], "income"].to_numpy()
    assert np.corrcoef(left, right)[0, 1] > 0.4  # neighbours alike; iid areas would give ~0


def test_links_are_noisy_but_informative():
    config = SynthConfig(n_photos=3000, city=city.CityConfig(n_lsoas=300, seed=0))
    _, table, photos = plan_city(config)
    income = table.loc[photos["lsoa_code"], "income_decile"].to_numpy()
    r = np.corrcoef(photos["car_value"], income)[0, 1]
    assert 0.15 < r < 0.7  # privileged areas have newer cars, with wide overlap
    assert abs(np.corrcoef(photos["sun"], income)[0, 1]) < 0.08  # nuisance stays independent


def test_build_city_writes_the_real_format(tmp_path):
    out = build_city(tmp_path / "city", SMALL, workers=1, progress=False)
    meta = pd.read_csv(out / "metadata.csv")
    assert list(meta.columns) == ["image", "lat", "lon", "heading", "captured"]
    assert all((out / p).is_file() for p in meta["image"])
    table = read_iod(out / "synthetic_deciles_file2.csv")
    assert len(table) == 120 and table.index.str.startswith("X01").all()
    assert (out / "contact_sheet.png").is_file()
    card = (out / "DATASET_CARD.md").read_text()
    assert "synthetic: true" in card and "not a claim" in card
    truth = pd.read_csv(out / "ground_truth.csv")
    assert len(truth) == 40 and {"building_type", "area_income", *LINKED_FACTORS} <= set(truth.columns)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: SynthConfig(n_photos=0), "n_photos"),
        (lambda: SynthConfig(size=8), "16–1024"),
        (lambda: SynthConfig(image_format="gif"), "'png' or 'jpg'"),
        (lambda: city.CityConfig(n_lsoas=5), "at least 10 areas"),
        (lambda: city.CityConfig(n_districts=0), "n_districts"),
        (lambda: city.CityConfig(smooth_share=1.5), "smooth_share"),
        (lambda: plan_city(SMALL, boundaries="areas.shp"), "both --boundaries and --imd"),
    ],
)
def test_impossible_city_settings_are_config_errors(make, match):
    with pytest.raises(ConfigError, match=match):
        make()


@pytest.mark.parametrize("config", [SynthConfig, city.CityConfig, IngestConfig])
def test_every_setting_has_help_for_the_command_line(config):
    assert all(help_of(field) for field in dataclasses.fields(config))


def test_build_city_resumes_and_refuses_another_config(tmp_path):
    out = build_city(tmp_path / "city", SMALL, workers=1, progress=False)
    first = (out / "photos" / "000001.png").read_bytes()
    (out / "photos" / "000004.png").unlink()  # as if killed before writing it
    build_city(out, SMALL, workers=1, progress=False)
    assert (out / "photos" / "000004.png").is_file()
    assert (out / "photos" / "000001.png").read_bytes() == first
    with pytest.raises(ValueError, match="another configuration"):
        build_city(out, SynthConfig(n_photos=40, city=city.CityConfig(n_lsoas=120, seed=4)), workers=1, progress=False)


def test_synthetic_photos_on_a_real_decile_map(london, tmp_path):
    config = SynthConfig(n_photos=30, city=city.CityConfig(seed=0))
    areas, table, photos = plan_city(config, boundaries=london.boundaries_shp, imd=london.file2_london)
    assert len(areas) == 4835 and photos["lsoa_code"].str.startswith("E01").all()
    real = read_iod(london.file2_london)
    assert table.loc[photos["lsoa_code"], "income_decile"].equals(real.loc[photos["lsoa_code"], "income_decile"])
    assert photos["lat"].between(51.28, 51.70).all() and photos["lon"].between(-0.52, 0.34).all()
