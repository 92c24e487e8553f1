"""Table 1: scores measured strictly, intervals that resample areas, the C chosen, class definitions and spatial blocks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from thisineq.errors import ConfigError
from thisineq.latent.blocks import photo_blocks, spatial_blocks
from thisineq.latent.boundaries import LatentBoundary
from thisineq.latent.labels import DECILE_BANDS, PAPER
from thisineq.latent.table1 import TABLE_COLUMNS, _at_edge, _scores, boundary_table, chosen_c, evaluate


def blobs(n=400, d=8, shift=1.5, seed=0):
    rng = np.random.default_rng(seed)
    direction = rng.normal(size=d)
    direction /= np.linalg.norm(direction)
    y = rng.integers(0, 2, n)
    X = rng.normal(size=(n, d)) + np.outer(np.where(y == 1, shift, -shift), direction) + rng.normal(size=d) * 5
    return X, y


def clustered(n_groups=40, per_group=10, d=5, seed=5):
    """Photos whose areas shift them all the same way along the class direction: their errors come in clusters."""
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(n_groups), per_group)
    y = rng.integers(0, 2, n_groups)[groups]
    X = rng.normal(size=(len(groups), d)) * 0.3
    X[:, 0] += np.where(y == 1, 1.0, -1.0) + rng.normal(size=n_groups)[groups] * 1.5
    return X, y, groups


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


def test_too_few_areas_for_grouped_cross_validation_is_a_config_error():
    X, y = blobs(n=40)
    with pytest.raises(ConfigError, match="too few photos or areas for 5-fold"):
        evaluate(X, y, np.arange(40) % 3)


def test_fast_scores_match_scikit_learn():
    from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

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


def test_resampling_areas_widens_the_intervals_of_clustered_photos():
    X, y, groups = clustered()
    by_area = evaluate(X, y, groups, bootstrap="area", n_boot=300)
    by_photo = evaluate(X, y, groups, bootstrap="photo", n_boot=300)
    assert by_area.scores == by_photo.scores  # the same folds and fits: only the intervals differ
    width = {e.bootstrap: e.intervals["f1"][1] - e.intervals["f1"][0] for e in (by_area, by_photo)}
    assert width["area"] > 1.5 * width["photo"]
    assert by_area.row()["bootstrap"] == "area" and by_photo.row()["bootstrap"] == "photo"


def test_without_areas_the_bootstrap_resamples_photos_and_says_so():
    X, y = blobs(n=200)
    assert evaluate(X, y, None, grouped=False, n_boot=50).bootstrap == "photo"
    with pytest.raises(ConfigError, match="one of area, photo, got 'lsoa'"):
        evaluate(X, y, np.arange(200) % 20, bootstrap="lsoa")
    with pytest.raises(ConfigError, match="needs grouped folds"):
        evaluate(X, y, np.arange(200) % 20, grouped=False, folds_by=np.arange(200) % 5)


def test_the_chosen_c_and_whether_it_is_at_an_end_of_the_grid():
    X, y = blobs(n=200)
    grid = (0.01, 0.1, 1.0)
    chosen = chosen_c(X, y, np.arange(200) % 20, Cs=grid)
    assert chosen["C"] == LatentBoundary(Cs=grid).fit(X, y, np.arange(200) % 20).C_
    assert chosen["C_at_edge"] == (chosen["C"] != 0.1)
    assert chosen_c(X, y, Cs=(0.3,)) == {"C": 0.3, "C_at_edge": True}
    assert _at_edge(0.01, (1.0, 0.01, 0.1)) and _at_edge(1.0, (1.0, 0.01, 0.1)) and not _at_edge(0.1, (1.0, 0.01, 0.1))


def city_photos(n_areas=60, per_area=4, seed=3):
    """Photos of areas whose income (rank and decile) shows in the latents; health does not, and crime is flat."""
    rng = np.random.default_rng(seed)
    areas = np.repeat(np.arange(n_areas), per_area)
    income_rank = rng.permutation(n_areas) + 1
    health_rank = rng.permutation(n_areas) + 1
    income = np.ceil(income_rank / (n_areas / 10)).astype(int)[areas]
    photos = pd.DataFrame(
        {
            "lsoa_code": [f"X01{a:06d}" for a in areas],
            "income_rank": income_rank[areas],
            "income_decile": income,
            "health_rank": health_rank[areas],
            "health_decile": np.ceil(health_rank / (n_areas / 10)).astype(int)[areas],
            "crime_decile": 5,  # nobody deprived or privileged, and no ranks
        },
        index=[f"{i:06d}" for i in range(len(areas))],
    )
    latents = rng.normal(size=(len(areas), 6))
    latents[:, 0] += (income - 5.5) * 0.8
    return photos, latents


def test_table_one_has_a_row_per_domain_method_class_definition_and_split():
    photos, latents = city_photos()
    table = boundary_table({"e4e": (photos.index.to_numpy(), latents)}, photos, ["income", "health", "crime"], n_boot=50)
    assert list(table.columns) == TABLE_COLUMNS and len(table) == 3 * 2 * 2
    assert table["classes"].iloc[0] == PAPER.name and set(table["classes"]) == {PAPER.name, DECILE_BANDS.name}
    assert set(table["split"]) == {"by LSOA", "by photo"}
    scored = table.dropna(subset=["f1"])
    f1 = scored.set_index(["domain", "classes", "split"])["f1"]
    assert (f1["income", slice(None), "by LSOA"] > 0.8).all() and (f1["health", slice(None), "by LSOA"] < 0.75).all()
    assert (scored["bootstrap"] == "area").all() and scored["roc_auc"].between(0, 1).all()
    # Each domain and definition's rows share the C of one fit on all their photos, a C from the grid in use.
    assert (scored.groupby(["domain", "classes"])["C"].nunique() == 1).all()
    grid = LatentBoundary().get_params()["Cs"]
    assert scored["C"].isin(grid).all()
    assert (scored["C_at_edge"] == scored["C"].isin([min(grid), max(grid)])).all()
    crime = table[table["domain"] == "crime"].set_index("classes")
    assert crime.loc[DECILE_BANDS.name, "note"].str.endswith("a boundary needs at least 10 of each").all()
    assert crime.loc[PAPER.name, "note"].str.contains("needs the photo columns \\['crime_rank'\\]").all()
    assert (crime["n"] == 0).all() and crime["f1"].isna().all() and crime["C"].isna().all()


def test_the_boundarys_parameters_reach_every_fit():
    photos, latents = city_photos()
    table = boundary_table(
        {"e4e": (photos.index.to_numpy(), latents)}, photos, ["income"], definitions=(DECILE_BANDS,), n_boot=20, Cs=(0.05,)
    )
    assert (table["C"] == 0.05).all() and table["C_at_edge"].all() and (table["classes"] == DECILE_BANDS.name).all()
    with pytest.raises(ConfigError, match="at least one class definition"):
        boundary_table({"e4e": (photos.index.to_numpy(), latents)}, photos, ["income"], definitions=())


def test_spatial_blocks_are_compact_patches_of_neighbouring_areas():
    rng = np.random.default_rng(6)
    centroids = pd.DataFrame(rng.uniform(0, 10_000, size=(300, 2)), columns=["x", "y"], index=[f"E{i:08d}" for i in range(300)])
    blocks = spatial_blocks(centroids, 8, seed=0)
    assert blocks.index.equals(centroids.index) and sorted(blocks.unique()) == list(range(8))
    centres = centroids.groupby(blocks).mean().to_numpy()  # (8, 2)
    distance = np.linalg.norm(centroids.to_numpy()[:, None, :] - centres[None], axis=-1)  # (areas, blocks)
    for block in range(8):
        mine = distance[blocks.to_numpy() == block]
        others = np.delete(mine, block, axis=1)
        assert mine[:, block].mean() < others.mean(axis=0).min()
    with pytest.raises(ConfigError, match="columns x and y"):
        spatial_blocks(centroids.rename(columns={"y": "north"}), 8)
    with pytest.raises(ConfigError, match="from 2 to the number of areas \\(300\\), got 1"):
        spatial_blocks(centroids, 1)
    with pytest.raises(ConfigError, match="1 areas photographed have no spatial block \\(e.g. E99"):
        photo_blocks(["E00000001", "E99"], blocks)


def test_cross_validation_by_block_holds_out_whole_neighbourhoods():
    # Deprivation comes in patches, and each patch looks its own way: neighbouring areas give it away.
    rng = np.random.default_rng(7)
    n_blocks, areas_per_block, per_area, d = 20, 6, 4, 40
    block_of_area = np.repeat(np.arange(n_blocks), areas_per_block)
    areas = np.repeat(np.arange(len(block_of_area)), per_area)
    block_look = rng.normal(size=(n_blocks, d)) * 2
    latents = block_look[block_of_area[areas]] + rng.normal(size=(len(areas), d)) * 0.5
    codes = np.array([f"E{a:08d}" for a in range(len(block_of_area))])
    photos = pd.DataFrame(
        {"lsoa_code": codes[areas], "income_decile": np.where(block_of_area % 2, 10, 1)[areas]},
        index=[f"{i:06d}" for i in range(len(areas))],
    )
    block_xy = rng.permutation(np.stack(np.meshgrid(np.arange(5), np.arange(4)), -1).reshape(-1, 2)) * 5000.0
    centroids = pd.DataFrame(block_xy[block_of_area] + rng.normal(size=(len(codes), 2)) * 300, columns=["x", "y"], index=codes)
    blocks = spatial_blocks(centroids, n_blocks, seed=0)
    table = boundary_table(
        {"e4e": (photos.index.to_numpy(), latents)}, photos, ["income"], definitions=(DECILE_BANDS,), blocks=blocks, n_boot=50
    )
    accuracy = table.set_index("split")["accuracy"]
    assert list(accuracy.index) == ["by LSOA", "by photo", "by block"]
    assert accuracy["by LSOA"] > 0.8 and accuracy["by block"] < 0.7
    with pytest.raises(ConfigError, match="at least 5 spatial blocks, got 3"):
        boundary_table({"e4e": (photos.index.to_numpy(), latents)}, photos, ["income"], blocks=blocks % 3)
