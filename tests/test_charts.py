"""The dashboard's charts and tables, built without Streamlit: what each encodes (fields, scales, marks) and what rows it draws."""

from __future__ import annotations

import numpy as np
import pandas as pd

from thisineq.app import charts, maps, tables


def drawn(chart) -> tuple[dict, list[dict]]:
    """(the chart's Vega-Lite spec, the rows it draws: one mark per row)."""
    spec = chart.to_dict()
    (rows,) = spec["datasets"].values()  # every chart here, layered or not, draws one table
    return spec, rows


def table1() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "domain": ["income", "income", "health"],
            "method": ["e4e", "restyle", "e4e"],
            "split": "by LSOA",
            "n": [40, 40, 40],
            "f1": [0.8, 0.7, np.nan],
            "f1_low": [0.75, 0.6, np.nan],
            "f1_high": [0.85, 0.8, np.nan],
        }
    )


def test_decile_bars_count_photos_per_decile_in_the_maps_colours():
    photos = pd.DataFrame({"income_decile": [1, 1, 3, 10]})
    spec, rows = drawn(charts.decile_bars(charts.decile_counts(photos, "income")))
    assert rows == [{"decile": 1, "photos": 2}, {"decile": 3, "photos": 1}, {"decile": 10, "photos": 1}]
    assert spec["mark"]["type"] == "bar"
    assert spec["encoding"]["x"] | {"title": None} == {"field": "decile", "type": "ordinal", "title": None}
    colour = spec["encoding"]["color"]
    assert colour["scale"] == {"domain": list(range(1, 11)), "range": maps.decile_hex()} and colour["legend"] is None
    assert colour["scale"]["range"][0] == "#a50026"  # decile 1, the most deprived: the map's dark red


def test_correlation_heatmap_draws_every_pair_on_a_fixed_scale():
    corr = pd.DataFrame([[1.0, 0.4], [0.4, 1.0]], index=["income", "health"], columns=["income", "health"])
    spec, rows = drawn(charts.correlation_heatmap(corr))
    assert len(rows) == 4 and {(r["a"], r["b"], r["r"]) for r in rows} >= {("income", "health", 0.4)}
    assert spec["mark"]["type"] == "rect"
    assert spec["encoding"]["color"]["scale"] == {"scheme": "redblue", "domain": [-1, 1]}
    assert spec["encoding"]["x"]["sort"] == ["income", "health"] and spec["encoding"]["y"]["sort"] == ["income", "health"]


def test_score_bars_show_each_score_with_its_interval_on_zero_to_one():
    spec, rows = drawn(charts.score_bars(table1(), "f1"))
    assert len(rows) == 2  # the missing score is left out
    assert {r["domain"] for r in rows} == {"Income"}  # domains in words
    bars, intervals = spec["layer"]
    assert bars["mark"]["type"] == "bar" and bars["encoding"]["y"]["field"] == "f1"
    assert bars["encoding"]["y"]["scale"] == {"domain": [0, 1]}
    assert intervals["mark"]["type"] == "errorbar"
    assert (intervals["encoding"]["y"]["field"], intervals["encoding"]["y2"]["field"]) == ("f1_low", "f1_high")
    # one axis title in words for both layers (not "f1, f1_low")
    assert bars["encoding"]["y"]["title"] == intervals["encoding"]["y"]["title"] == "F1 (out of fold, 95% interval)"
    for layer in spec["layer"]:  # side by side per domain, one colour per method
        assert layer["encoding"]["xOffset"]["field"] == "method" and layer["encoding"]["color"]["field"] == "method"


def test_visibility_scatter_sets_separation_against_image_change():
    visibility = pd.DataFrame(
        {
            "method": ["e4e", "e4e"],
            "domain": ["income", "income"],
            "fit": ["full space", "8 principal axes"],
            "f1": [0.8, 0.7],
            "change": [0.01, 0.06],
        }
    )
    spec, rows = drawn(charts.visibility_scatter(visibility))
    assert len(rows) == 2 and spec["mark"] == {"type": "point", "filled": True, "size": 90}
    x, y = spec["encoding"]["x"], spec["encoding"]["y"]
    assert (x["field"], x["axis"]["format"]) == ("change", "%")
    assert (y["field"], y["scale"]) == ("f1", {"zero": False})
    assert spec["encoding"]["color"]["field"] == "fit" and spec["encoding"]["shape"]["field"] == "method"


def test_cosine_heatmap_writes_each_value_in_its_cell():
    matrix = pd.DataFrame({"Unnamed: 0": ["income", "health"], "income": [1.0, 0.3], "health": [0.3, 1.0]})
    spec, rows = drawn(charts.cosine_heatmap(matrix, "e4e"))
    assert len(rows) == 4 and {r["a"] for r in rows} == {"income", "health"}
    cells, values = spec["layer"]
    assert cells["title"] == values["title"] == "e4e"
    assert cells["mark"]["type"] == "rect" and cells["encoding"]["color"]["scale"] == {"domain": [-1, 1], "scheme": "redblue"}
    assert values["mark"]["type"] == "text" and values["encoding"]["text"] == {
        "field": "cosine",
        "type": "quantitative",
        "format": ".2f",
    }


def test_comparison_bars_give_each_measure_its_own_row_and_scale():
    comparison = pd.DataFrame(
        {"method": ["e4e", "projector"], "lpips": [0.3, 0.2], "seconds_per_photo": [0.01, 4.0], "psnr": [20, 22]}
    )
    spec, rows = drawn(charts.comparison_bars(comparison))
    # psnr is not charted; the measures are named in words
    assert len(rows) == 4 and {r["measure"] for r in rows} == {
        "LPIPS (lower: closer to the photo)",
        "seconds per photo (batch 1)",
    }
    assert spec["encoding"]["row"]["field"] == "measure" and spec["resolve"] == {"scale": {"x": "independent"}}


def test_table1_display_puts_each_interval_in_one_cell():
    shown = tables.table1_display(table1())
    assert list(shown.columns) == ["domain", "method", "n", "f1"]
    assert list(shown["f1"]) == ["0.80 [0.75–0.85]", "0.70 [0.60–0.80]", "—"]
    assert list(shown["domain"]) == ["Income", "Income", "Health"]
    noted = tables.table1_display(table1().assign(note=[None, None, "only 3 deprived and 12 privileged photos"]))
    assert list(noted["why no score"]) == ["", "", "only 3 deprived and 12 privileged photos"]


def test_the_ranking_shows_how_far_each_ranker_falls_below_its_ceiling_with_its_interval_in_one_cell():
    ranking = pd.DataFrame(
        {
            "question": ["safer", "livelier"],
            "ranker_accuracy": [0.85, 0.88],
            "ceiling_accuracy": [0.90, 0.87],
            "ceiling_gap_low": [0.03, -0.02],
            "ceiling_gap_high": [0.07, 0.01],
            "ranker_accuracy_simulated": [0.87, 0.86],
            "ceiling_accuracy_simulated": [0.89, 0.895],
        }
    )
    shown = tables.ranking_display(ranking)
    assert list(shown.columns) == [
        "question",
        "ranker_accuracy",
        "ceiling_accuracy",
        "below_ceiling",
        "ranker_accuracy_simulated",
        "ceiling_accuracy_simulated",
        "below_ceiling_simulated",
    ]
    assert list(shown["below_ceiling"]) == ["0.050 [0.030 to 0.070]", "-0.010 [-0.020 to 0.010]"]
    assert list(shown["below_ceiling_simulated"]) == ["0.020", "0.035"]  # no interval in the set: the gap alone
    assert "below_ceiling" not in tables.ranking_display(ranking.drop(columns=[c for c in ranking if "ceiling" in c]))


def test_the_prediction_scatter_draws_one_point_per_area_with_the_diagonal_on_the_decile_scale():
    lsoa = pd.DataFrame({"lsoa_code": ["a", "b", "c"], "true": [1, 5, 10], "predicted": [2.5, 5.1, 8.0], "photos": 3})
    spec = charts.prediction_scatter(lsoa, "income").to_dict()
    points, diagonal = spec["layer"]
    assert len(spec["datasets"][points["data"]["name"]]) == 3 and len(spec["datasets"][diagonal["data"]["name"]]) == 2
    assert points["encoding"]["y"]["field"] == "predicted" and points["encoding"]["y"]["scale"]["domain"] == [0.5, 10.5]
    assert points["encoding"]["color"]["scale"]["range"] == maps.decile_hex()


def test_walk_readings_give_each_reading_its_panel_and_each_image_its_line():
    readings = pd.DataFrame(
        {
            "image": ["seed 0"] * 3 + ["seed 1"] * 3,
            "step": [-1, 0, 1] * 2,
            "reading": "Income: predicted decile",
            "value": range(6),
        }
    )
    spec, rows = drawn(charts.walk_readings(readings, "walks"))
    assert len(rows) == 6 and spec["encoding"]["facet"]["field"] == "reading" and spec["encoding"]["color"]["field"] == "image"
    assert spec["resolve"]["scale"]["y"] == "independent"


def test_area_scores_become_deciles_among_the_areas_lowest_first():
    scores = pd.Series(np.arange(20.0)[::-1], index=[f"a{i}" for i in range(20)])
    deciles = maps.score_deciles(scores)
    assert deciles["a19"] == 1 and deciles["a0"] == 10 and (deciles.value_counts() == 2).all()


def test_the_image_rows_sit_beside_the_boundaries_fitted_on_the_same_photos():
    latent = pd.DataFrame(
        {
            "domain": ["income", "income", "income", "health", "health", "health"],
            "method": ["e4e", "restyle", "projector"] * 2,
            "classes": "ranks 20%",
            "n": [200, 200, 30, 180, 180, 30],
        }
    )
    images = pd.DataFrame({"domain": ["income", "health"], "method": "images (VGG16)", "classes": "ranks 20%", "n": [200, 180]})
    same = tables.same_photos(latent, images)
    assert same == ["e4e", "restyle"]  # the projector was fitted on other photos
    beside = tables.beside_table1(latent, images, same)
    assert list(beside["domain"]) == ["income"] * 3 + ["health"] * 3
    assert list(beside["method"]) == ["e4e", "restyle", "images (VGG16)"] * 2
    assert tables.same_photos(latent.assign(n=latent["n"] + 1), images) == []
