"""Latent boundaries: separate separable data, point the right way, and are measured strictly."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from thisineq.errors import ConfigError
from thisineq.latent.boundaries import (
    LatentBoundary,
    PrincipalCoordinates,
    conditional_normal,
    cosine_matrix,
    normal_stability,
    partial_effects,
    principal_axes,
)
from thisineq.latent.labels import balanced_subset, decile_labels, labelled_subset
from thisineq.latent.wspace import WSpace


def blobs(n=400, d=8, shift=1.5, seed=0):
    rng = np.random.default_rng(seed)
    direction = rng.normal(size=d)
    direction /= np.linalg.norm(direction)
    y = rng.integers(0, 2, n)
    X = rng.normal(size=(n, d)) + np.outer(np.where(y == 1, shift, -shift), direction) + rng.normal(size=d) * 5
    return X, y, direction


def test_separable_latents_are_separated_along_the_true_direction():
    X, y, direction = blobs(shift=3.0)
    boundary = LatentBoundary().fit(X, y)
    assert (boundary.predict(X) == y).mean() > 0.97
    assert np.isclose(np.linalg.norm(boundary.normal_), 1.0)
    assert boundary.normal_ @ direction > 0.8  # from deprived (0) to privileged (1)
    assert np.all((boundary.decision_function(X) > 0) == boundary.predict(X).astype(bool))


def test_labels_and_balancing():
    deciles = pd.Series([1, 2, 3, 4, 5, 8, 9, 10, 3, 1], index=list("abcdefghij"))
    labels = decile_labels(deciles)
    assert labels.isna().sum() == 2 and labels["a"] == 0 and labels["h"] == 1
    subset = balanced_subset(labels)
    assert labels[subset].value_counts().tolist() == [3, 3]
    with pytest.raises(ValueError, match="both classes"):
        balanced_subset(labels[labels == 0])


def test_the_labelled_subset_is_balanced_and_says_when_there_are_too_few():
    n = 60
    photos = pd.DataFrame(
        {
            "lsoa_code": [f"A{i % 12}" for i in range(n)],
            "income_decile": np.r_[np.full(40, 1), np.full(20, 9)],
            "health_decile": np.r_[np.full(55, 2), np.full(5, 10)],
        },
        index=[f"p{i:03d}" for i in range(n)],
    )
    latents = np.repeat(np.arange(n, dtype=float)[:, None], 3, axis=1)  # row i's latent is (i, i, i)
    subset = labelled_subset(latents, photos, "income", seed=1)
    assert subset.too_few is None and np.bincount(subset.y).tolist() == [20, 20]
    rows = subset.X[:, 0].astype(int)  # each latent keeps its own photo's label and area
    assert np.array_equal(subset.y, (rows >= 40).astype(int))
    assert np.array_equal(subset.groups, photos["lsoa_code"].to_numpy()[rows])
    few = labelled_subset(latents, photos, "health")
    assert few.too_few.endswith("a boundary needs at least 10 of each") and len(few.y) == 10
    deprived, privileged = map(int, re.match(r"only (\d+) deprived and (\d+) privileged", few.too_few).groups())
    assert min(deprived, privileged) == 5  # the balanced subset holds 5 of each
    one_class = labelled_subset(latents[:40], photos.iloc[:40], "income")
    assert one_class.too_few and one_class.X.shape == (0, 3)
    with pytest.raises(ValueError, match="60 latents but 40 photos"):
        labelled_subset(latents, photos.iloc[:40], "income")


def test_conditional_normal_is_orthogonal_and_cosines_are_symmetric():
    rng = np.random.default_rng(2)
    income, health = rng.normal(size=16), rng.normal(size=16)
    income_only = conditional_normal(income, [health])
    assert abs(income_only @ health) < 1e-10 and np.isclose(np.linalg.norm(income_only), 1)
    cos = cosine_matrix({"income": income, "health": health})
    assert np.allclose(np.diag(cos), 1) and np.isclose(cos.loc["income", "health"], cos.loc["health", "income"])
    with pytest.raises(ValueError, match="span"):
        conditional_normal(health, [health])


def spread_latents(n=600, d=24, signal_axis=0, seed=3):
    """Latents whose variance falls off along the coordinate axes (axis 0 widest), the classes shifted along one of them."""
    rng = np.random.default_rng(seed)
    scales = np.geomspace(4.0, 0.2, d)
    y = rng.integers(0, 2, n)
    X = rng.normal(size=(n, d)) * scales + 3.0
    X[:, signal_axis] += np.where(y == 1, 1.5, -1.5) * scales[signal_axis]
    reference = rng.normal(size=(5000, d)) * scales  # "W": the generator's own spread
    return X, y, principal_axes(reference, 8)


def test_principal_axes_are_orthonormal_and_ordered_by_variance():
    rng = np.random.default_rng(4)
    latents = rng.normal(size=(2000, 6)) * np.array([0.5, 3.0, 1.0, 0.1, 2.0, 0.2])
    axes = principal_axes(latents, 3)
    assert np.allclose(axes @ axes.T, np.eye(3), atol=1e-10)
    assert [int(np.argmax(np.abs(row))) for row in axes] == [1, 4, 2]
    with pytest.raises(ValueError, match="n_axes"):
        principal_axes(latents, 7)


def test_a_boundary_on_principal_axes_keeps_the_generators_directions():
    X, y, axes = spread_latents(signal_axis=0)
    boundary = LatentBoundary(axes=axes, axis_counts=(1, 4, None)).fit(X, y)
    assert boundary.n_axes_ == 1  # one axis separates as well as all of them, so the fewest win
    assert abs(boundary.normal_[0]) > 0.99 and boundary.normal_[0] > 0
    assert (boundary.predict(X) == y).mean() > 0.9
    # The normal and intercept mapped back into latent space give the fitted SVM's own scores, rescaled.
    svm = Pipeline(
        [
            ("axes", PrincipalCoordinates(axes, 1)),
            ("scale", StandardScaler()),
            ("svm", LinearSVC(C=boundary.C_, max_iter=20000, random_state=0)),
        ]
    )
    raw = svm.fit(X, y).decision_function(X)
    scores = boundary.decision_function(X)
    scale = (scores @ raw) / (raw @ raw)
    assert scale > 0 and np.allclose(scores, scale * raw, atol=1e-6)


def test_the_full_space_wins_when_the_classes_differ_off_the_principal_axes():
    X, y, axes = spread_latents(signal_axis=20)  # a direction the reference hardly varies along
    boundary = LatentBoundary(axes=axes, axis_counts=(1, 4, None)).fit(X, y)
    assert boundary.n_axes_ is None
    assert abs(boundary.normal_[20]) > 0.9
    assert LatentBoundary().fit(X, y).n_axes_ is None  # the default: the full space only


def test_principal_axis_settings_are_checked():
    X, y, axes = spread_latents()
    with pytest.raises(ValueError, match="no axes were given"):
        LatentBoundary(axis_counts=(4,)).fit(X, y)
    with pytest.raises(ValueError, match="must be \\(k, 24\\)"):
        LatentBoundary(axes=axes[:, :10], axis_counts=(4,)).fit(X, y)
    with pytest.raises(ValueError, match=r"axis counts \[9\]"):
        LatentBoundary(axes=axes, axis_counts=(9,)).fit(X, y)
    with pytest.raises(ValueError, match="at least one"):
        LatentBoundary(axes=axes, axis_counts=()).fit(X, y)


def test_the_fewest_axes_within_one_standard_error_of_the_best_are_picked():
    from thisineq.latent.boundaries import _simplest_within_one_se as pick

    def results(means, stds, counts, cs=None):
        folds = {f"split{i}_test_score": np.zeros(len(means)) for i in range(4)}  # 4 folds: SE = std / 2
        cs = cs or [1.0] * len(means)
        scores = {"mean_test_score": np.array(means), "std_test_score": np.array(stds)}
        return scores | {"param_axes__n_axes": counts, "param_svm__C": cs, **folds}

    # The full space is best (0.80 ± 0.02 SE); 16 axes (0.79) are within reach, 8 (0.70) are not.
    assert pick(results([0.70, 0.79, 0.78, 0.80], [0.04] * 4, [8, 16, 16, None])) == 1
    # Among equal axes, the best F1 at equal C; a clearly better full space wins.
    assert pick(results([0.70, 0.80, 0.75], [0.04] * 3, [None] * 3)) == 1
    assert pick(results([0.60, 0.80], [0.02, 0.02], [8, None])) == 1
    # The smallest C within one standard error of the best: 0.79 at C 0.01 is within 0.80 − 0.04/2, 0.70 is not.
    assert pick(results([0.70, 0.79, 0.80, 0.785], [0.04] * 4, [None] * 4, [0.001, 0.01, 0.1, 1.0])) == 1
    # Whitened fits have no axes to choose: the C alone decides.
    without_axes = results([0.79, 0.80], [0.04] * 2, [None] * 2, [0.01, 1.0])
    del without_axes["param_axes__n_axes"]
    assert pick(without_axes) == 0


def correlated_w(d=6, seed=0):
    """A W with very unequal spreads: the separating direction sits in a narrow one."""
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.normal(size=(d, d)))
    spreads = np.geomspace(3.0, 0.05, d)
    return WSpace(rng.normal(size=d), (basis * spreads**2) @ basis.T), basis, spreads


def test_a_whitened_fit_finds_the_whitened_direction_and_walks_along_its_image_in_w():
    wspace, _, _ = correlated_w()
    rng = np.random.default_rng(1)
    truth = rng.normal(size=6)
    truth /= np.linalg.norm(truth)  # the separating direction, in whitened units
    n = 800
    y = rng.integers(0, 2, n)
    z = rng.normal(size=(n, 6)) + np.outer(np.where(y == 1, 1.2, -1.2), truth)
    X = z @ wspace._root + wspace.mean  # the same photos as latents in W
    boundary = LatentBoundary(whitening=wspace).fit(X, y, np.arange(n) % 40)
    assert boundary.fitted_normal_ @ truth > 0.97
    # The walk is Σ^{1/2}a, not the hyperplane's normal Σ^{-1/2}a (W's unequal spreads magnify a's small error).
    assert np.allclose(boundary.walk_direction_, wspace.unwhiten_direction(boundary.fitted_normal_))
    assert boundary.walk_direction_ @ wspace.unwhiten_direction(truth) > 0.9
    assert abs(boundary.walk_direction_ @ boundary.normal_) < 0.99  # in a non-isotropic W the two differ
    # Walking one whitened unit along the walk direction raises the decision value, and moves the whitened code along a.
    step = wspace.spread(boundary.walk_direction_) * boundary.walk_direction_
    moved = wspace.whiten(X[:1] + step) - wspace.whiten(X[:1])
    assert (moved / np.linalg.norm(moved)) @ boundary.fitted_normal_ > 0.99
    assert boundary.decision_function(X[:1] + step) > boundary.decision_function(X[:1])
    assert (boundary.predict(X) == y).mean() > 0.85


def test_whitening_and_principal_axes_do_not_mix_and_the_whitening_must_fit_the_latents():
    wspace, basis, _ = correlated_w()
    X, y, _ = blobs(n=100, d=6)
    with pytest.raises(ConfigError, match="either in whitened W or on principal axes"):
        LatentBoundary(whitening=wspace, axes=basis.T, axis_counts=(2,)).fit(X, y)
    with pytest.raises(ValueError, match=r"whitening is for 6-D latents \(or layers of them\), these are 8-D"):
        LatentBoundary(whitening=wspace).fit(*blobs(n=100, d=8)[:2])


def test_w_space_whitens_its_own_samples():
    wspace, _, spreads = correlated_w()
    samples = np.random.default_rng(2).multivariate_normal(wspace.mean, wspace.cov, 20000)
    estimated = WSpace.from_samples(samples)
    assert np.allclose(np.cov(estimated.whiten(samples), rowvar=False), np.eye(6), atol=1e-6)
    u = np.eye(6)[0]
    assert estimated.spread(u) == pytest.approx(np.std(samples @ u), rel=1e-3)
    assert np.allclose(estimated.whiten_direction(estimated.unwhiten_direction(u)), u)
    with pytest.raises(ValueError, match="more samples than dimensions"):
        WSpace.from_samples(samples[:5])


def test_relative_spread_is_one_for_w_and_finds_codes_that_vary_where_w_does_not():
    wspace, basis, _ = correlated_w()
    rng = np.random.default_rng(3)
    samples = rng.multivariate_normal(wspace.mean, wspace.cov, 20000)
    narrow, wide = basis[:, -1], basis[:, 0]
    for u in (narrow, wide, rng.normal(size=6)):
        assert wspace.relative_spread(samples, u) == pytest.approx(1.0, abs=0.03)
    # A projector-like code cloud: W's spread plus a fixed extra wobble in every direction, which only shows
    # against W where W itself hardly varies.
    codes = samples[:5000] + rng.normal(scale=0.2, size=(5000, 6))
    assert wspace.relative_spread(codes, narrow) > 3.5
    assert wspace.relative_spread(codes, wide) < 1.01
    assert wspace.relative_spread(codes, 7 * narrow) == pytest.approx(wspace.relative_spread(codes, narrow))


def test_a_stable_boundary_has_high_split_half_cosines_and_noise_has_low_ones():
    rng = np.random.default_rng(3)
    groups = np.repeat(np.arange(80), 10)
    y = np.repeat(rng.integers(0, 2, 80), 10)
    signal = rng.normal(size=40) / np.sqrt(40)
    strong = rng.normal(size=(800, 40)) + np.outer(np.where(y == 1, 1.5, -1.5), signal * np.sqrt(40) / 6)
    noise = rng.normal(size=(800, 40))
    stable = normal_stability(strong, y, groups, n_halves=3, n_boot=3, Cs=(0.1,))
    unstable = normal_stability(noise, y, groups, n_halves=3, n_boot=3, Cs=(0.1,))
    assert stable["split_half"] > 0.8 and len(stable["split_half_runs"]) == 3 and stable["bootstrap"] > 0.85
    assert unstable["split_half"] < 0.5 and unstable["split_half"] < stable["split_half"] - 0.3


def test_partial_effects_separate_correlated_domains():
    rng = np.random.default_rng(4)
    n = 3000
    income = rng.integers(1, 11, n).astype(float)
    health = np.clip(income + rng.integers(-2, 3, n), 1, 10)  # strongly correlated with income, as in London
    d_income, d_health = np.eye(5)[0], np.eye(5)[1]
    X = np.outer(income, d_income) + np.outer(health, d_health) + rng.normal(size=(n, 5)) * 0.5
    deciles = pd.DataFrame({"income": income, "health": health})
    effects = partial_effects(X, deciles)
    assert effects["income"] @ d_income > 0.99 and effects["health"] @ d_health > 0.99  # each its own, the other held fixed
    class_means = X[income >= 8].mean(0) - X[income <= 3].mean(0)
    assert class_means @ d_health > 0.5 * np.linalg.norm(class_means)  # the class difference mixes both
    with pytest.raises(ValueError, match="collinear"):
        partial_effects(X, pd.DataFrame({"income": income, "copy": income}))


def test_inner_folds_that_could_not_fit_are_left_out_of_the_choice_of_c():
    from thisineq.latent.boundaries import _simplest_within_one_se

    results = {
        "mean_test_score": [np.nan, np.nan],  # sklearn's means: one failed fold makes every mean NaN
        "std_test_score": [np.nan, np.nan],
        "split0_test_score": [0.8, 0.6],
        "split1_test_score": [np.nan, np.nan],  # this inner fold's training part held one class
        "split2_test_score": [0.7, 0.9],
        "param_svm__C": [0.01, 1.0],
    }
    assert _simplest_within_one_se(results) == 0  # 0.75 and 0.75: the smaller C
    results["split0_test_score"] = results["split2_test_score"] = [np.nan, np.nan]
    with pytest.raises(ConfigError, match="no inner cross-validation fold could fit a boundary"):
        _simplest_within_one_se(results)
