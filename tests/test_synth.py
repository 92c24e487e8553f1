"""The synthetic city: deterministic, London-like decile structure, noisy but real links, real format."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
import shapely
from scipy.stats import norm

from thisineq import cli
from thisineq.config import help_of
from thisineq.data.dataset import IngestConfig
from thisineq.data.domains import DOMAIN_KEYS
from thisineq.data.imd import decile_correlations, read_iod
from thisineq.data.synth import build, city
from thisineq.data.synth.build import SynthConfig, areas_and_deciles, build_city, plan_city, same_city
from thisineq.data.synth.links import LINKS, PHOTO_NOISE
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


@pytest.mark.parametrize("area_style", [0.0, 0.6])
def test_city_is_deterministic_and_a_prefix_of_a_larger_one(area_style):
    small = dataclasses.replace(SMALL, area_style=area_style)
    _, table_a, photos_a = plan_city(small)
    _, table_b, photos_b = plan_city(small)
    pd.testing.assert_frame_equal(photos_a, photos_b)
    pd.testing.assert_frame_equal(table_a, table_b)
    bigger = dataclasses.replace(small, n_photos=100)
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


def _domain_correlations(variables: pd.DataFrame, table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The seven domains' pairwise correlations (21,): of the hidden variables, and of the deciles."""
    domains = list(city.COMPONENT_KEYS)
    pairs = np.triu_indices(len(domains), k=1)
    return np.corrcoef(variables[domains].to_numpy().T)[pairs], decile_correlations(table).loc[domains, domains].to_numpy()[pairs]


def test_independent_domains_make_a_positive_control():
    control = SynthConfig(city=city.CityConfig(n_lsoas=300, seed=1, independent_domains=True))
    areas, variables, table = areas_and_deciles(control)
    hidden, deciles = _domain_correlations(variables, table)
    assert np.abs(hidden).max() < 0.15 and np.abs(deciles).max() < 0.15
    domains = list(city.COMPONENT_KEYS)
    assert np.allclose(variables["imd"], city.imd_variable(variables[domains].to_numpy()))  # still the weighted sum
    counts = np.bincount(table["income_decile"], minlength=11)[1:]
    assert np.abs(counts - city.LONDON_DECILE_COUNTS[1] / city.LONDON_DECILE_COUNTS[1].sum() * 300).max() <= 1

    default_areas, variables, table = areas_and_deciles(
        SynthConfig(city=dataclasses.replace(control.city, independent_domains=False))
    )
    hidden, deciles = _domain_correlations(variables, table)
    assert decile_correlations(table).loc["income", "health"] > 0.6 and np.median(deciles) > 0.4  # London's, as before
    assert areas.geometry.equals(default_areas.geometry)  # the same map, other variables


def test_independent_domains_is_a_command_line_flag(monkeypatch):
    built = []
    monkeypatch.setattr(build, "build_city_dataset", lambda out, config, **options: built.append(config) or out)
    assert cli.main(["data", "synth", "--independent-domains", "--area-style", "0.5", "--out", "nowhere"]) == 0
    assert built[0].city.independent_domains and built[0].area_style == 0.5


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


def _departures(photos: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each photo's departure from what its area predicts, per linked factor (on the latent scale), and its hue's."""
    out = {"hue": norm.ppf(photos["hue"])}
    for factor, weights in LINKS.items():
        if factor != "graffiti":  # clipped at zero for most photos: no latent value to recover
            signal = sum(-w * photos[f"area_{domain}"].to_numpy() for domain, w in weights.items())
            spread = np.sqrt(sum(w * w for w in weights.values()) + PHOTO_NOISE**2)
            out[factor] = norm.ppf(photos[factor]) * spread - signal
    return out


def _within_area_correlation(values: list[np.ndarray], area: pd.Series) -> float:
    """Correlation between two photos of the same area, over every such pair, pooled over `values` (each (n,))."""
    left, right = [], []
    for rows in area.groupby(area).indices.values():
        i, j = np.triu_indices(len(rows), k=1)
        left += [v[rows[i]] for v in values]
        right += [v[rows[j]] for v in values]
    return np.corrcoef(np.concatenate(left), np.concatenate(right))[0, 1]


@pytest.mark.parametrize(("share", "low", "high"), [(0.0, -0.1, 0.1), (0.6, 0.45, 0.75)])
def test_area_style_is_shared_by_the_photos_of_an_area(share, low, high):
    config = SynthConfig(n_photos=300, area_style=share, city=city.CityConfig(n_lsoas=30, seed=1))
    _, _, photos = plan_city(config)
    departures = _departures(photos)
    hue = departures.pop("hue")
    assert low < _within_area_correlation(list(departures.values()), photos["lsoa_code"]) < high
    assert low - 0.1 < _within_area_correlation([hue], photos["lsoa_code"]) < high + 0.1  # the palette too


def test_area_style_keeps_every_factors_distribution():
    def planned(share):
        return plan_city(SynthConfig(n_photos=300, area_style=share, city=city.CityConfig(n_lsoas=200, seed=1)))[2]

    own, styled = planned(0.0), planned(0.6)
    assert np.abs(own[list(LINKED_FACTORS)].std() - styled[list(LINKED_FACTORS)].std()).mean() < 0.02
    departures = np.concatenate(list(_departures(styled).values())[1:])
    assert abs(departures.std() - PHOTO_NOISE) < 0.1  # the departure's variance is kept
    r = [np.corrcoef(p["car_value"], -p["area_income"])[0, 1] for p in (own, styled)]
    assert abs(r[0] - r[1]) < 0.1  # and so is the link
    assert styled["hue"].between(0, 1).all() and abs(styled["hue"].std() - 12**-0.5) < 0.03


@pytest.mark.parametrize("changed", [{"area_style": 0.3}, {"city": {"independent_domains": True}}, {"city": {"seed": 1}}])
def test_a_city_recorded_before_a_setting_existed_is_the_same_city(changed):
    pipeline = SynthConfig(n_photos=480, city=city.CityConfig(n_lsoas=600, seed=0))
    record = {  # artifacts/demo/city/city.json, written before area_style and independent_domains
        "n_photos": 480,
        "size": 64,
        "image_format": "png",
        "noise": 2.0,
        "city": {"n_lsoas": 600, "radius_km": 9.0, "length_scale_km": 2.5, "smooth_share": 0.75, "n_districts": 8, "seed": 0},
    }
    assert same_city(record, pipeline)
    assert same_city(json.loads(json.dumps(dataclasses.asdict(pipeline))), pipeline)
    other = dataclasses.replace(
        pipeline, **{k: dataclasses.replace(pipeline.city, **v) if k == "city" else v for k, v in changed.items()}
    )
    assert not same_city(record, other)


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
    assert "positive_control: false" in card and "area_style: 0.0" in card and "as London's" in card
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
        (lambda: SynthConfig(area_style=1.5), "area_style must be within 0–1"),
        (
            lambda: plan_city(SynthConfig(city=city.CityConfig(independent_domains=True)), boundaries="a.shp", imd="b.csv"),
            "independent_domains needs a synthetic map",
        ),
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
    record = json.loads((out / "city.json").read_text())
    del record["config"]["area_style"], record["config"]["city"]["independent_domains"]
    (out / "city.json").write_text(json.dumps(record))  # as a city built before these settings records itself
    build_city(out, SMALL, workers=1, progress=False)
    with pytest.raises(ValueError, match="another configuration"):
        build_city(out, dataclasses.replace(SMALL, area_style=0.5), workers=1, progress=False)


def test_dataset_card_says_a_city_is_a_positive_control():
    config = SynthConfig(n_photos=3, area_style=0.4, city=city.CityConfig(n_lsoas=20, independent_domains=True))
    areas, table, photos = plan_city(config)
    card = build.dataset_card(config, areas, table, photos, real_map=False)
    assert "positive_control: true" in card and "**A positive control:**" in card and "as London's" not in card
    assert "area_style: 0.4" in card and "Area style: 0.4" in card


def test_synthetic_photos_on_a_real_decile_map(london, tmp_path):
    config = SynthConfig(n_photos=30, city=city.CityConfig(seed=0))
    areas, table, photos = plan_city(config, boundaries=london.boundaries_shp, imd=london.file2_london)
    assert len(areas) == 4835 and photos["lsoa_code"].str.startswith("E01").all()
    real = read_iod(london.file2_london)
    assert table.loc[photos["lsoa_code"], "income_decile"].equals(real.loc[photos["lsoa_code"], "income_decile"])
    assert photos["lat"].between(51.28, 51.70).all() and photos["lon"].between(-0.52, 0.34).all()
