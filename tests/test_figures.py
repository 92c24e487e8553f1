"""Fig. 3: the supervised view's axes, the stratified t-SNE subsample, the written figure and its coordinates, and the Metrics page
that shows the same views beside the boundaries' stability and the known-answer benchmark."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from thisineq.app import charts, latent_views, maps, tables
from thisineq.latent import figures
from thisineq.latent.normals import BoundarySet, Direction

ROOT = Path(__file__).resolve().parents[1]


def two_decile_directions(n: int = 400, d: int = 12, seed: int = 0):
    """Latents whose decile shows along e0 (the normal) and, weaker, along e1, with a larger decile-free spread along e2."""
    rng = np.random.default_rng(seed)
    deciles = rng.integers(1, 11, n)
    centred = deciles - 5.5
    latents = 0.3 * rng.normal(size=(n, d))
    latents[:, 0] += 0.5 * centred
    latents[:, 1] += 0.3 * centred
    latents[:, 2] *= 20  # PCA's first axis, unrelated to the decile
    return latents, deciles, np.eye(d)[0]


def test_supervised_x_is_the_projection_on_the_normal_and_y_is_orthogonal_to_it():
    latents, deciles, _ = two_decile_directions()
    normal = np.random.default_rng(1).normal(size=latents.shape[1])  # any direction, any length
    view = figures.supervised_view(latents, deciles, normal)
    unit = normal / np.linalg.norm(normal)
    axis = figures.best_orthogonal_axis(latents, deciles, normal)
    assert view.shape == (len(latents), 2)
    np.testing.assert_allclose(view[:, 0], latents @ unit)
    np.testing.assert_allclose(view[:, 1], latents @ axis)
    assert abs(axis @ unit) < 1e-12 and np.linalg.norm(axis) == pytest.approx(1)


def test_the_orthogonal_axis_finds_the_second_decile_direction_not_the_largest_spread():
    latents, deciles, normal = two_decile_directions()
    axis = figures.best_orthogonal_axis(latents, deciles, normal)
    assert axis[1] > 0.95  # e1, signed so that the decile rises along it
    y = figures.supervised_view(latents, deciles, normal)[:, 1]
    assert np.corrcoef(y, deciles)[0, 1] > 0.9
    pca_axis = np.linalg.svd(latents - latents.mean(0), full_matrices=False)[2][0]
    assert abs(pca_axis[2]) > 0.99  # what an unsupervised view would have shown instead


def test_the_orthogonal_axis_holds_with_fewer_latents_than_dimensions():
    latents, deciles, normal = two_decile_directions(n=96, d=256, seed=2)  # the projector's regime: least squares fits noise
    assert figures.best_orthogonal_axis(latents, deciles, normal)[1] > 0.75


def test_the_orthogonal_axis_falls_back_to_the_residuals_principal_axis_when_nothing_covaries():
    rng = np.random.default_rng(0)
    latents = rng.normal(size=(50, 4)) * [1, 1, 5, 1]
    axis = figures.best_orthogonal_axis(latents, np.full(50, 4), np.eye(4)[0])  # one decile: no covariance at all
    assert abs(axis[2]) > 0.95 and axis[0] == pytest.approx(0)


def test_shapes_and_deciles_are_checked():
    with pytest.raises(ValueError, match="latents must be"):
        figures.supervised_view(np.zeros((5, 3)), np.ones(4), np.ones(3))
    with pytest.raises(ValueError, match="whole numbers from 1 to 10"):
        figures.fig3_points(np.zeros((3, 2)), np.array([1.0, np.nan, 4.0]), np.ones(2))


def test_the_stratified_subsample_keeps_each_deciles_share_and_is_reproducible():
    deciles = np.repeat([1, 2, 10], [600, 300, 100])
    keep = figures.stratified_subsample(deciles, 100, seed=3)
    assert len(keep) == 100 and np.all(np.diff(keep) > 0)
    counts = pd.Series(deciles[keep]).value_counts()
    assert abs(counts[1] - 60) <= 1 and abs(counts[2] - 30) <= 1 and abs(counts[10] - 10) <= 1
    np.testing.assert_array_equal(keep, figures.stratified_subsample(deciles, 100, seed=3))
    assert not np.array_equal(keep, figures.stratified_subsample(deciles, 100, seed=4))
    np.testing.assert_array_equal(figures.stratified_subsample(deciles[:50], 100), np.arange(50))  # few enough: all


def test_fig3_points_hold_every_latent_in_the_supervised_and_pca_views_and_a_subsample_in_tsne():
    latents, deciles, normal = two_decile_directions(n=120)
    ids = np.array([f"p{i:03d}" for i in range(120)])
    points = figures.fig3_points(latents, deciles, normal, photo_ids=ids, tsne_max=50)
    assert list(points.columns) == ["view", "photo_id", "decile", "x", "y"]
    assert points["view"].value_counts().to_dict() == {"supervised": 120, "pca": 120, "tsne": 50}
    supervised = points[points["view"] == "supervised"]
    assert list(supervised["photo_id"]) == list(ids) and list(supervised["decile"]) == list(deciles)
    np.testing.assert_allclose(supervised["x"], latents @ normal)
    tsne = points[points["view"] == "tsne"]
    assert set(tsne["photo_id"]) <= set(ids) and tsne[["x", "y"]].notna().all().all()
    assert figures.view_title(points, "tsne") == "t-SNE (50 of 120 latents, stratified by decile)"
    assert figures.view_title(points, "pca") == "PCA"


@pytest.mark.slow
def test_write_fig3_writes_a_small_png_and_the_plotted_coordinates(tmp_path):
    latents, deciles, normal = two_decile_directions(n=150, d=16)
    png, csv = figures.write_fig3(tmp_path / "figs", "e4e", latents, deciles, 3 * normal, "income", synthetic=True)
    assert (png.name, csv.name) == ("fig3_e4e_income.png", "fig3_e4e_income.csv.gz")
    assert 10_000 < png.stat().st_size < 150_000
    pixels = np.asarray(Image.open(png).convert("RGB"))
    assert pixels.shape[1] > 2 * pixels.shape[0] > 600  # three panels side by side
    decile_one = np.array([0xA5, 0x00, 0x26])
    assert (np.abs(pixels.astype(int) - decile_one).sum(-1) < 40).sum() > 50  # the most deprived decile's dark red is drawn
    table = pd.read_csv(csv, dtype={"photo_id": str})
    assert table["view"].value_counts().to_dict() == {"supervised": 150, "pca": 150, "tsne": 150}
    np.testing.assert_allclose(table.loc[table["view"] == "supervised", "x"], latents @ normal, rtol=1e-4, atol=1e-4)
    assert not list(tmp_path.glob("figs/.*"))  # no temporary files left behind
    again, _ = figures.write_fig3(tmp_path / "again", "e4e", latents, deciles, normal, "income", synthetic=True)
    assert again.read_bytes() == png.read_bytes()  # the same latents draw the same bytes


def test_the_figures_decile_colours_are_the_maps():
    assert list(figures.DECILE_HEX) == maps.decile_hex()


def test_decile_scatter_colours_by_decile_with_photo_tooltips():
    points = pd.DataFrame({"view": "pca", "photo_id": ["a", "b"], "decile": [1, 10], "x": [0.0, 1.0], "y": [1.0, 0.0]})
    spec = charts.decile_scatter(points, "PCA", "principal axis 1", "principal axis 2", legend=False).to_dict()
    (rows,) = spec["datasets"].values()
    assert [r["photo_id"] for r in rows] == ["a", "b"] and "view" not in rows[0]
    colour = spec["encoding"]["color"]
    assert colour["field"] == "decile" and colour["scale"] == {"domain": list(range(1, 11)), "range": maps.decile_hex()}
    assert colour["legend"] is None and colour["title"] == "decile (1 = most deprived)"
    assert {t["field"] for t in spec["encoding"]["tooltip"]} == {"photo_id", "decile"}
    assert spec["encoding"]["x"]["title"] == "principal axis 1" and spec["title"] == "PCA"


def visibility(**stability) -> pd.DataFrame:
    table = pd.DataFrame(
        {
            "method": ["e4e", "e4e"],
            "domain": ["income", "income"],
            "fit": ["whitened", "principal axes"],
            "n": [40, 40],
            "f1": [0.8, 0.7],
            "f1_low": [0.75, 0.6],
            "f1_high": [0.85, 0.8],
            "roc_auc": [0.9, 0.8],
            "sigma_w": [0.6, 2.0],
            "change": [0.01, 0.05],
        }
    )
    return table.assign(**stability)


def test_visibility_shows_the_stability_cosines_only_where_the_set_has_them():
    old = visibility()
    assert "split_half_cosine" not in tables.visibility_display(old) and not tables.has_stability(old)
    new = visibility(split_half_cosine=[0.9, 0.95], bootstrap_cosine=[0.8, np.nan])
    shown = tables.visibility_display(new)
    assert list(shown.columns)[-2:] == ["split_half_cosine", "bootstrap_cosine"] and tables.has_stability(new)
    spec = charts.stability_points(new).to_dict()
    (rows,) = spec["datasets"].values()
    assert len(rows) == 3  # the missing bootstrap cosine is left out
    assert {r["measure"] for r in rows} == {"split halves (LSOA-disjoint)", "bootstrap resamples"}
    assert {r["boundary"] for r in rows} == {"e4e · Income"} and spec["encoding"]["x"]["scale"] == {"domain": [-1, 1]}


def test_known_answer_tables_are_shown_per_source_when_they_have_one():
    known = pd.DataFrame(
        {"source": ["random", "photos", "random"], "domain": ["income", "income", "health"], "cosine": [1, 2, 3]}
    )
    assert tables.sources(known) == ["random", "photos"]
    assert tables.rows_of_source(known, "random").to_dict("list") == {"domain": ["income", "health"], "cosine": [1, 3]}
    plain = known.drop(columns="source")
    assert tables.sources(plain) == [] and tables.rows_of_source(plain, None) is plain
    assert tables.column_notes(plain, tables.KNOWN_ANSWER_NOTES).startswith("cosine:")
    assert tables.column_notes(plain[["domain"]], tables.KNOWN_ANSWER_NOTES) == ""


def test_fitted_normals_take_the_whitened_fit_where_the_set_has_one_and_the_only_one_otherwise():
    normals = BoundarySet()
    normals.add("e4e", Direction("income", np.eye(3)[1], 1.0), fit="standardised")
    only = latent_views.fitted_normals(normals, "e4e")
    assert list(only) == ["income"]
    np.testing.assert_array_equal(only["income"], np.eye(3)[1])
    normals.add("e4e", Direction("income", np.eye(3)[0], 1.0), fit="whitened")
    np.testing.assert_array_equal(latent_views.fitted_normals(normals, "e4e")["income"], np.eye(3)[0])
    assert latent_views.fitted_normals(normals, "restyle") == {}


def fig3_charts(at: AppTest) -> dict[str, tuple[dict, int]]:
    """The page's Fig. 3 charts by title: (Vega-Lite spec, rows drawn)."""
    found = {}
    for chart in at.get("vega_lite_chart"):
        spec = json.loads(chart.proto.spec)
        if str(spec.get("title", "")).split(" (")[0] in ("Supervised", "PCA", "t-SNE"):
            (dataset,) = chart.proto.datasets
            found[spec["title"]] = spec, len(pyarrow.ipc.open_stream(dataset.data.data).read_all())
    return found


@pytest.mark.slow
def test_metrics_page_shows_fig3_for_the_chosen_method_and_domain():
    at = AppTest.from_file(str(ROOT / "app_pages/metrics.py"), default_timeout=180).run()
    assert not at.exception, at.exception
    assert any(h.value == "Latent space (Fig. 3)" for h in at.header)
    method, domain = at.selectbox(key="metrics_projection_method"), at.selectbox(key="metrics_projection_domain")
    assert method.options == ["e4e", "ReStyle", "projector"] and domain.options == ["Income", "Health", "Education"]
    views = fig3_charts(at)
    # The pipeline's points (the training city's 6,000 e4e latents the boundary was fitted on; t-SNE on a subsample).
    drawn = pd.read_csv(ROOT / "artifacts/demo/figures/fig3_e4e_income.csv.gz")["view"].value_counts()
    assert [title.split(" (")[0] for title in views] == ["Supervised", "PCA", "t-SNE"]
    assert [n for _, n in views.values()] == [drawn["supervised"], drawn["pca"], drawn["tsne"]]
    assert all(spec["encoding"]["color"]["field"] == "decile" for spec, _ in views.values())
    assert "as the pipeline drew the figure" in " ".join(c.value for c in at.caption)  # its points, not t-SNE run live
    method.set_value("projector").run()  # its boundaries are fitted on its own, fewer, training-city inversions
    assert not at.exception and at.selectbox(key="metrics_projection_domain").options == ["Income", "Health", "Education"]
    drawn = pd.read_csv(ROOT / "artifacts/demo/figures/fig3_projector_income.csv.gz")["view"].value_counts()
    assert [n for _, n in fig3_charts(at).values()] == [drawn["supervised"], drawn["pca"], drawn["tsne"]]
    at.selectbox(key="metrics_projection_domain").set_value("health").run()
    assert not at.exception and "its boundary was fitted on 384 inverted photos" in " ".join(c.value for c in at.caption)
    source = at.radio(key="metrics_known_source")
    assert source.options == ["random latents", "inverted photos"]
    source.set_value("inverted photos").run()
    assert not at.exception
    known = next(frame.value for frame in at.dataframe if "cosine" in frame.value.columns)
    table = pd.read_csv(ROOT / "artifacts/demo/known_answer/table.csv")
    assert "source" not in known.columns and len(known) == (table["source"] == "inverted photos").sum()
