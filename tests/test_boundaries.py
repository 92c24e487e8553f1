"""Latent boundaries: separate separable data, point the right way, and are measured strictly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from thisineq.boundaries import LatentBoundary, balanced_subset, conditional_normal, cosine_matrix, decile_labels, evaluate


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


def test_grouped_evaluation_is_stricter_than_photo_level():
    rng = np.random.default_rng(1)
    n_groups, per_group, d = 60, 8, 80
    group_y = rng.integers(0, 2, n_groups)
    group_look = rng.normal(size=(n_groups, d)) * 2  # each area looks its own way, unrelated to its label
    groups = np.repeat(np.arange(n_groups), per_group)
    X = group_look[groups] + rng.normal(size=(len(groups), d)) * 0.3
    y = group_y[groups]
    photo = evaluate(X, y, groups, grouped=False, n_boot=100)
    grouped = evaluate(X, y, groups, grouped=True, n_boot=100)
    assert photo.scores["accuracy"] > 0.8  # memorises areas
    assert grouped.scores["accuracy"] < 0.7  # cannot generalise to new areas
    low, high = grouped.intervals["f1"]
    assert low <= grouped.scores["f1"] <= high


def test_labels_and_balancing():
    deciles = pd.Series([1, 2, 3, 4, 5, 8, 9, 10, 3, 1], index=list("abcdefghij"))
    labels = decile_labels(deciles)
    assert labels.isna().sum() == 2 and labels["a"] == 0 and labels["h"] == 1
    subset = balanced_subset(labels)
    assert labels[subset].value_counts().tolist() == [3, 3]
    with pytest.raises(ValueError, match="both classes"):
        balanced_subset(labels[labels == 0])


def test_conditional_normal_is_orthogonal_and_cosines_are_symmetric():
    rng = np.random.default_rng(2)
    income, health = rng.normal(size=16), rng.normal(size=16)
    income_only = conditional_normal(income, [health])
    assert abs(income_only @ health) < 1e-10 and np.isclose(np.linalg.norm(income_only), 1)
    cos = cosine_matrix({"income": income, "health": health})
    assert np.allclose(np.diag(cos), 1) and np.isclose(cos.loc["income", "health"], cos.loc["health", "income"])
    with pytest.raises(ValueError, match="span"):
        conditional_normal(health, [health])


def test_table_one_has_a_row_per_domain_method_and_split():
    from thisineq.boundaries import boundary_table, latent_matrix

    rng = np.random.default_rng(3)
    n = 240
    ids = np.array([f"{i:06d}" for i in range(n)])
    income = rng.integers(1, 11, n)
    photos = pd.DataFrame(
        {"lsoa_code": [f"X01{i % 40:06d}" for i in range(n)], "income_decile": income, "health_decile": rng.integers(1, 11, n)},
        index=ids,
    )
    ws = rng.normal(size=(n, 4, 6))
    ws[:, :, 0] += (income[:, None] - 5.5) * 0.8  # income is visible in the latents, health is not
    table = boundary_table({"e4e": (ids, latent_matrix(ws))}, photos, ["income", "health"], n_boot=50)
    assert len(table) == 4 and set(table["split"]) == {"by LSOA", "by photo"}
    f1 = table.set_index(["domain", "split"])["f1"]
    assert f1["income", "by LSOA"] > 0.8 and f1["health", "by LSOA"] < 0.75
    assert {"precision_low", "recall_high", "roc_auc"} <= set(table.columns)
    with pytest.raises(ValueError, match="latent kind"):
        latent_matrix(ws, "z")


def test_fast_scores_match_scikit_learn():
    from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

    from thisineq.boundaries import _scores

    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 300)
    score = rng.normal(size=300) + y * 0.8
    score[:20] = 0.25  # ties
    ours = _scores(y, score)
    predicted = (score > 0).astype(int)
    assert np.isclose(ours["precision"], precision_score(y, predicted))
    assert np.isclose(ours["recall"], recall_score(y, predicted))
    assert np.isclose(ours["f1"], f1_score(y, predicted))
    assert np.isclose(ours["accuracy"], accuracy_score(y, predicted))
    assert np.isclose(ours["roc_auc"], roc_auc_score(y, score))
