"""The known-answer benchmark on cases whose answer is known exactly: truth profiles, walks read by a linear stand-in, the oracle."""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import pytest
import torch

from thisineq.data.synth import city
from thisineq.data.synth.build import SynthConfig, plan_city
from thisineq.data.synth.links import scene
from thisineq.data.synth.render import SceneFactors, plan_scene, render
from thisineq.known_answer import baselines, targets
from thisineq.known_answer.benchmark import Sources, Walk, known_answer_table
from thisineq.known_answer.control import fit_directions
from thisineq.known_answer.measures import cosine, leakage, only_other_factors, permutation_p
from thisineq.known_answer.oracle import FACTORS, NUISANCE, factor_targets, load_oracle, predict, save_oracle, train_oracle
from thisineq.known_answer.truth import class_profile, partial_profile, profile_of, truth_profiles
from thisineq.latent.labels import DECILE_BANDS, labelled_subset
from thisineq.latent.normals import Direction
from thisineq.latent.wspace import WSpace

DOMAINS = ["income", "health", "education"]
DIM = 8


@cache
def tiny_city(independent: bool = False) -> tuple[pd.DataFrame, np.ndarray]:
    """The photo table (with every domain's decile) of a 2,000-photo city, unrendered, and its true factors."""
    config = SynthConfig(n_photos=2000, size=32, city=city.CityConfig(n_lsoas=60, seed=3, independent_domains=independent))
    _, table, photos = plan_city(config)
    photos = photos.join(table.filter(regex="_decile$"), on="lsoa_code")
    return photos, factor_targets(photos)


@cache
def tiny_truths() -> pd.DataFrame:
    photos, true_factors = tiny_city()
    return truth_profiles(true_factors, photos, DOMAINS, definition=DECILE_BANDS)


def truth_dict(profiles: pd.DataFrame) -> dict:
    return {(k, d): profile_of(profiles, k, d) for k, d in zip(profiles["kind"], profiles["domain"], strict=True)}


def test_the_truth_profile_is_the_balanced_class_difference_and_carries_correlated_domains():
    photos, true_factors = tiny_city()
    profile, n = class_profile(true_factors, photos, "income", definition=DECILE_BANDS)
    subset = labelled_subset(true_factors, photos, "income", 0, DECILE_BANDS)  # the boundaries' photos exactly
    assert n == len(subset.y) and np.allclose(profile, subset.X[subset.y == 1].mean(0) - subset.X[subset.y == 0].mean(0))
    assert profile[FACTORS.index("car_value")] > 0.1 and profile[FACTORS.index("density")] < -0.05  # income's own factors
    profiles = tiny_truths().set_index(["kind", "domain"])
    # Correlated domains: income's privileged photos are greener too, so the truth itself leaks a lot …
    assert profiles.loc[("classes", "income"), "leakage"] > 0.4 and profiles.loc[("classes", "health"), "leakage"] > 0.4
    # … and holding the other domains fixed takes most of it away.
    partial, classes = profiles.loc["partial", "leakage"], profiles.loc["classes", "leakage"]
    assert partial.mean() < 0.7 * classes.mean()
    own, _ = partial_profile(true_factors, photos, "health", definition=DECILE_BANDS)
    assert own[FACTORS.index("greenery")] > 0.05


def test_in_the_positive_control_city_the_truth_leaks_almost_nothing():
    photos, true_factors = tiny_city(independent=True)
    profiles = truth_profiles(true_factors, photos, DOMAINS, definition=DECILE_BANDS)
    assert (profiles["leakage"] < 0.2).all()
    classes = np.stack([profile_of(profiles, "classes", d) for d in DOMAINS])
    assert abs(cosine(classes[0], classes[1])) < 0.5 and abs(cosine(classes[1], classes[2])) < 0.5


# --- a linear stand-in for generator + oracle, in which shared and nuisance factors DO move ---------


def stand_in_world(truths: dict) -> np.ndarray:
    """M (DIM, len(FACTORS)): w's axis 0 moves the factors as income's truth does (own AND shared ones), axis 1 only the
    factors tied to other domains (greenery, window size, litter), axis 2 the nuisance factors, the rest at random."""
    rows = np.random.default_rng(1).normal(0, 0.05, (DIM, len(FACTORS)))
    rows[0] = truths[("classes", "income")]
    rows[1] = 0
    rows[1, [FACTORS.index(f) for f in only_other_factors("income", ["health", "education"])]] = 0.15
    rows[2] = 0
    rows[2, [FACTORS.index(f) for f in NUISANCE]] = 0.1
    return rows


def linear_reader(world: np.ndarray):
    """ws (n, num_ws, DIM) → one 'oracle's' factors (1, n, F), an explicit linear function of w."""

    def read(ws: torch.Tensor) -> np.ndarray:
        return (0.5 + ws.mean(dim=1).double().numpy() @ world)[None]

    return read


def test_a_faithful_walk_meets_every_target_and_leaking_or_nuisance_walks_fail():
    truths = truth_dict(tiny_truths())
    world = stand_in_world(truths)
    wspace = WSpace.from_samples(np.random.default_rng(0).standard_normal((4000, DIM)))
    axis = np.eye(DIM)
    walks = {
        "faithful": axis[0],
        "leaking": axis[0] + 2.0 * axis[1],  # moves health's and education's own factors beyond the truth
        "nuisance": axis[0] + 2.0 * axis[2],  # moves the weather and the camera
    }
    chosen = [Walk(baselines.walked("income", u, wspace), "income", method=name) for name, u in walks.items()]
    sources = Sources("random latents", "-", torch.randn(16, 3, DIM, generator=torch.Generator().manual_seed(0)) * 0.5)
    randoms = baselines.random_directions(wspace, 20, seed=0)
    table = known_answer_table(linear_reader(world), sources, chosen, truths, DOMAINS, randoms=randoms)
    assert set(table["direction"]) == {"boundary", "flipped", "random"}
    margins = targets.margins(table).set_index("method")
    figures = table[table["direction"] == "boundary"].set_index("method")
    faithful = margins.loc["faithful", list(targets.TARGETS)]
    assert (faithful >= 0).all(), faithful  # cosine 1, right signs, truth's leakage, beats all 20 random directions
    assert figures.loc["faithful", "leakage"] == pytest.approx(leakage(truths[("classes", "income")], "income", DOMAINS[1:]))
    assert figures.loc["faithful", "truth_leakage"] > 0.4  # a faithful walk moves the shared factors as the truth does
    assert margins.loc["leaking", "leakage"] < 0 and margins.loc["leaking", "cosine"] < 0
    assert figures.loc["leaking", "leakage_excess"] > 0.5
    assert margins.loc["nuisance", "cosine"] < 0 and figures.loc["nuisance", "nuisance"] > 5 * figures.loc["faithful", "nuisance"]
    flipped = table[table["direction"] == "flipped"].set_index("method")
    assert flipped.loc["faithful", "cosine"] == pytest.approx(-1) and flipped.loc["faithful", "own_change"] < 0
    assert table.loc[table["direction"] == "random", "cosine"].abs().max() < 0.9


def test_a_faint_walk_fails_the_own_change_minimum():
    truths = truth_dict(tiny_truths())
    wspace = WSpace.from_samples(np.random.default_rng(0).standard_normal((4000, DIM)))
    faint = Direction("income", np.eye(DIM)[0], 0.01)  # the truth's direction, but a step of 0.01 σ
    strong = Direction("income", np.eye(DIM)[0], 1.0)
    sources = Sources("random latents", "-", torch.zeros(4, 3, DIM))
    walks = [Walk(faint, "income", method="faint"), Walk(strong, "income", method="strong")]
    read = linear_reader(stand_in_world(truths))
    table = known_answer_table(read, sources, walks, truths, DOMAINS, steps=(-3.0, -1.0, 1.0, 3.0))
    rows = targets.margins(table).set_index("method")
    assert rows.loc["faint", "cosine"] >= 0 and rows.loc["faint", "own_change"] < 0 and np.isnan(table["p_random"]).all()
    assert rows.loc["strong", "own_change"] > 0
    assert table.set_index("method").loc["strong", "own_rho"].tolist() == [1.0, -1.0]  # the walk, then its flipped row
    assert wspace.dim == DIM


def test_the_ideal_direction_and_the_interfacegan_control_recover_the_truth_through_a_linear_reader():
    truths = truth_dict(tiny_truths())
    world = stand_in_world(truths)
    rng = np.random.default_rng(2)
    mixing = rng.normal(0, 0.4, (DIM, DIM)) + np.eye(DIM)
    w = rng.standard_normal((4000, DIM)) @ mixing + 0.3  # a W with correlated dimensions and an offset
    wspace = WSpace.from_samples(w)
    factors = 0.5 + w @ world + rng.normal(0, 0.01, (len(w), len(FACTORS)))
    coefficients = baselines.factor_regression(wspace.whiten(w), factors)
    ideal = baselines.ideal_direction("income", coefficients, truths[("classes", "income")], wspace)
    photos, true_factors = tiny_city()
    model = baselines.privilege_model(true_factors, -photos["area_income"].to_numpy())
    scores = baselines.privilege_score(model, factors)
    interfacegan = baselines.interfacegan_direction("income", w, scores, wspace)
    assert ideal.sigma == pytest.approx(wspace.spread(ideal.normal))
    sources = Sources("random latents", "-", torch.from_numpy(np.repeat(w[:8, None], 3, axis=1)))
    walks = [Walk(ideal, "income", "ideal"), Walk(interfacegan, "income", "interfacegan")]
    table = known_answer_table(linear_reader(world), sources, walks, truths, DOMAINS).set_index("direction")
    assert table.loc["ideal", "cosine"] > 0.999
    assert table.loc["interfacegan", "cosine"] > 0.8 and table.loc["interfacegan", "own_change"] > 0


def test_extreme_labels_take_the_lowest_and_highest_shares():
    rows, labels = baselines.extreme_labels(np.arange(10.0)[::-1], share=0.3)
    assert sorted(rows[labels == 0]) == [7, 8, 9] and sorted(rows[labels == 1]) == [0, 1, 2]
    with pytest.raises(ValueError, match="at most 0.5"):
        baselines.extreme_labels(np.arange(10.0), share=0.6)


def test_the_permutation_p_counts_the_baselines_at_least_as_good():
    assert permutation_p(0.9, np.linspace(-1, 0.5, 20)) == pytest.approx(1 / 21)
    assert permutation_p(0.0, np.array([0.0, 0.5, -0.5])) == pytest.approx(3 / 4)


def test_the_summary_names_each_target_and_the_seed_spread():
    base = {"source": "random latents", "method": "e4e", "fit": "whitened", "walk": "plain", "truth": "classes", "n": 4}
    figures = {"right_sign": 1.0, "own_change": 0.3, "own_change_min": 0.1, "leakage": 0.5, "truth_leakage": 0.45}
    rows = [
        base | figures | {"direction": "boundary", "domain": "income", "oracle_seed": 0, "cosine": 0.95, "p_random": 0.04},
        base | figures | {"direction": "boundary", "domain": "income", "oracle_seed": 1, "cosine": 0.80, "p_random": 0.09},
    ]
    table = pd.DataFrame(rows, index=[0, 0])  # as tables concatenated from several source sets are
    table = table.assign(leakage_excess=table["leakage"] - table["truth_leakage"], nuisance=0.1)
    summary = targets.summary(table, pd.DataFrame({"direction": ["boundary"], "leakage": [0.25], "truth_leakage": [0.05]}))
    cosine_target = summary["boundaries"]["cosine"]
    assert cosine_target["rows"] == 2 and cosine_target["met"] == 1 and cosine_target["worst_margin"] == pytest.approx(-0.1)
    assert cosine_target["worst_row"]["oracle_seed"] == 1
    assert summary["boundaries"]["leakage"]["met"] == 2 and summary["control"]["met"] == 0
    spread = summary["oracle_seed_spread"]["figures"]
    assert spread["cosine"]["max"] == pytest.approx(0.15) and not spread["cosine"]["below_limit"]
    assert spread["own_change"]["max"] == 0 and spread["own_change"]["below_limit"]
    verdicts = summary["verdicts"]
    assert verdicts["profile cosine ≥ 0.9"] == "missed by 1 of 2 walks; worst by 0.100"
    assert verdicts["leakage within ±0.15 of the truth-implied"] == "met by all 2 walks"
    assert verdicts["positive control: leakage ≤ 0.2"].startswith("missed by 1 of 1 walks; worst by 0.050")


def test_control_boundaries_point_along_the_domain_they_were_fitted_for():
    photos, _ = tiny_city(independent=True)
    hidden = photos[[f"area_{d}" for d in ("income", "health", "education")]].to_numpy()
    latents = np.column_stack([hidden, np.random.default_rng(0).normal(0, 1, (len(hidden), DIM - 3))])
    wspace = WSpace.from_samples(np.random.default_rng(1).standard_normal((2000, DIM)))
    directions = fit_directions(latents, photos, DOMAINS, wspace, definition=DECILE_BANDS, log=lambda message: None)
    for k, domain in enumerate(DOMAINS):
        assert directions[domain].normal[k] < -0.8  # privilege is minus the hidden deprivation variable


def test_oracle_learns_factors_from_rendered_photos(tmp_path):
    _, _, photos = plan_city(SynthConfig(n_photos=240, size=32, city=city.CityConfig(n_lsoas=40, seed=6)))
    fields = list(SceneFactors.__dataclass_fields__)
    images = np.stack(
        [render(plan_scene(scene(dict(zip(fields, v, strict=True)))), 32) for v in photos[fields].itertuples(index=False)]
    )
    true_factors = factor_targets(photos)
    assert true_factors.min() >= 0 and true_factors.max() <= 1
    is_test = np.arange(len(images)) >= 200
    model, report = train_oracle(images, true_factors, is_test, epochs=6, batch=32, progress=False)
    assert set(report.r2) == set(FACTORS) and report.n_test == 40
    assert report.r2["density"] > 0.3  # building type is the most visible factor, learned even from 200 photos
    save_oracle(model, tmp_path / "oracle.pt", report)
    loaded, r2 = load_oracle(tmp_path / "oracle.pt")
    x = torch.from_numpy(images[:4]).permute(0, 3, 1, 2)
    assert np.allclose(predict(loaded, x), predict(model, x), atol=1e-6) and r2 == report.r2
    assert isinstance(pd.Series(report.r2).median(), float)


def test_factor_support_flags_new_combinations_and_far_readings_but_few_held_out_photos():
    from thisineq.errors import ConfigError
    from thisineq.known_answer.novelty import FactorSupport

    rng = np.random.default_rng(0)

    # Two factors that move together in the photos: each alone spans the same range as in the odd readings below.
    def photos(n):
        common = rng.uniform(-1, 1, n)
        return np.column_stack([common, common]) + rng.normal(scale=0.05, size=(n, 2))

    support = FactorSupport(quantile=0.99).fit(photos(3000), photos(1000))
    assert support.beyond(photos(2000)).mean() < 0.03
    combination = np.array([[0.9, -0.9], [-0.8, 0.8]])  # each value common, together never seen
    far = np.array([[3.0, 3.0]])
    assert support.beyond(combination).all() and support.beyond(far).all()
    assert not support.beyond(np.array([[0.5, 0.5]])).any()
    assert np.all(np.diff(support.distance(np.array([[1.0, 1.0], [1.5, 1.5], [2.0, 2.0]]))) > 0)
    with pytest.raises(ConfigError, match="more than 5 photos"):
        FactorSupport().fit(photos(4), photos(10))
    with pytest.raises(ConfigError, match=r"readings must be \(n, factors\) alike"):
        FactorSupport().fit(photos(100), np.zeros((10, 3)))
