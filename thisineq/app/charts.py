"""The dashboard's charts as pure functions: a table in, an Altair chart out (no Streamlit, testable alone)."""

from __future__ import annotations

import altair as alt
import pandas as pd

from thisineq.app.maps import decile_hex
from thisineq.data.domains import domain
from thisineq.latent.figures import DECILE_TITLE

# The stability columns of visibility.csv, where the pipeline wrote them, and how the charts name them.
STABILITY = {"split_half_cosine": "split halves (LSOA-disjoint)", "bootstrap_cosine": "bootstrap resamples"}
# Table 1's scores and the comparison's measures in words.
SCORE_LABELS = {"precision": "Precision", "recall": "Recall", "f1": "F1", "accuracy": "Accuracy", "roc_auc": "ROC-AUC"}
MEASURE_LABELS = {"lpips": "LPIPS (lower: closer to the photo)", "seconds_per_photo": "seconds per photo (batch 1)"}


def domain_labels(table: pd.DataFrame) -> pd.DataFrame:
    """A copy whose `domain` column names each domain in words."""
    return table.assign(domain=table["domain"].map(lambda k: domain(k).label))


def decile_counts(photos: pd.DataFrame, domain_key: str) -> pd.DataFrame:
    """Photos per decile of one domain: columns decile, photos (deciles without photos left out)."""
    return photos[f"{domain_key}_decile"].value_counts().sort_index().rename_axis("decile").reset_index(name="photos")


def decile_bars(counts: pd.DataFrame) -> alt.Chart:
    """One bar per decile (columns decile, photos), coloured as on the map."""
    colours = alt.Scale(domain=list(range(1, 11)), range=decile_hex())
    return (
        alt.Chart(counts)
        .mark_bar()
        .encode(
            x=alt.X("decile:O", title=DECILE_TITLE),
            y="photos:Q",
            tooltip=["decile", "photos"],
            color=alt.Color("decile:O", scale=colours, legend=None),
        )
    )


def correlation_heatmap(correlations: pd.DataFrame) -> alt.Chart:
    """A square table of correlations (rows and columns the same names) as coloured cells, −1 red … +1 blue."""
    long = correlations.reset_index(names="a").melt(id_vars="a", var_name="b", value_name="r")
    return (
        alt.Chart(long)
        .mark_rect()
        .encode(
            x=alt.X("b:N", sort=list(correlations.columns), title=None),
            y=alt.Y("a:N", sort=list(correlations.index), title=None),
            color=alt.Color("r:Q", scale=alt.Scale(scheme="redblue", domain=[-1, 1])),
            tooltip=["a", "b", "r"],
        )
    )


def score_bars(table1: pd.DataFrame, score: str) -> alt.LayerChart:
    """One Table 1 score per domain and method (bars on 0–1) with its 95% interval (`{score}_low`, `{score}_high`)."""
    shown = domain_labels(table1.dropna(subset=[score]))
    base = alt.Chart(shown).encode(
        x=alt.X("domain:N", title=None), xOffset="method:N", color=alt.Color("method:N", title="inversion")
    )
    title = f"{SCORE_LABELS.get(score, score)} (out of fold, 95% interval)"
    bars = base.mark_bar().encode(
        y=alt.Y(f"{score}:Q", scale=alt.Scale(domain=[0, 1]), title=title),
        tooltip=["method", "domain", alt.Tooltip(f"{score}:Q", title=SCORE_LABELS.get(score, score), format=".3f")],
    )
    # The interval's own axis title would read "f1_low, f1_high" beside the bars' title: it shares theirs.
    intervals = base.mark_errorbar().encode(y=alt.Y(f"{score}_low:Q", title=title), y2=f"{score}_high:Q")
    return bars + intervals


def visibility_scatter(visibility: pd.DataFrame) -> alt.Chart:
    """Each boundary's separation (F1) against how much a +3σ walk changes the image, by fit and method."""
    return (
        alt.Chart(domain_labels(visibility))
        .mark_point(filled=True, size=90)
        .encode(
            x=alt.X("change:Q", title="pixel change at +3σ", axis=alt.Axis(format="%")),
            y=alt.Y("f1:Q", title="F1 by LSOA", scale=alt.Scale(zero=False)),
            color=alt.Color("fit:N", title="boundary"),
            shape=alt.Shape("method:N", title="inversion"),
            tooltip=["method", "domain", "fit", alt.Tooltip("f1:Q", format=".3f"), alt.Tooltip("change:Q", format=".1%")],
        )
    )


def cosine_heatmap(matrix: pd.DataFrame, title: str) -> alt.LayerChart:
    """A cosines table (first column the row names, then one column per domain) as coloured cells with their values."""
    long = matrix.rename(columns={matrix.columns[0]: "a"}).melt(id_vars="a", var_name="b", value_name="cosine")
    cells = (
        alt.Chart(long, title=title)
        .mark_rect()
        .encode(
            x=alt.X("b:N", title=None),
            y=alt.Y("a:N", title=None),
            color=alt.Color("cosine:Q", scale=alt.Scale(domain=[-1, 1], scheme="redblue")),
            tooltip=["a", "b", alt.Tooltip("cosine:Q", format=".2f")],
        )
    )
    values = cells.mark_text(fontSize=12).encode(text=alt.Text("cosine:Q", format=".2f"), color=alt.value("black"))
    return cells + values


def comparison_bars(comparison: pd.DataFrame) -> alt.Chart:
    """Each method's LPIPS and seconds per photo as bars, one row of bars per measure on its own scale."""
    long = comparison.melt(id_vars="method", value_vars=list(MEASURE_LABELS), var_name="measure")
    long = long.assign(measure=long["measure"].map(MEASURE_LABELS))
    return (
        alt.Chart(long)
        .mark_bar()
        .encode(
            x=alt.X("value:Q", title=None),
            y=alt.Y("method:N", title=None),
            color=alt.Color("method:N", title="inversion"),
            row=alt.Row("measure:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left")),
            tooltip=["method", "measure", alt.Tooltip("value:Q", format=".3g")],
        )
        .resolve_scale(x="independent")
    )


def decile_scatter(points: pd.DataFrame, title: str, x_title: str, y_title: str, *, legend: bool = True) -> alt.Chart:
    """Latents in 2-D (columns photo_id, decile, x, y) coloured by decile as on the map: one panel of Fig. 3."""
    colours = alt.Scale(domain=list(range(1, 11)), range=decile_hex())
    return (
        alt.Chart(points[["photo_id", "decile", "x", "y"]], title=title)
        .mark_circle(size=25, opacity=0.8)
        .encode(
            x=alt.X("x:Q", title=x_title, scale=alt.Scale(zero=False)),
            y=alt.Y("y:Q", title=y_title, scale=alt.Scale(zero=False)),
            color=alt.Color("decile:O", scale=colours, title=DECILE_TITLE, legend=alt.Legend() if legend else None),
            tooltip=[alt.Tooltip("photo_id:N", title="photo"), "decile:O"],
        )
    )


def stability_points(visibility: pd.DataFrame) -> alt.Chart:
    """Each boundary's stability cosines (the `STABILITY` columns present) on −1 … 1: near 1, other photos give the same normal."""
    measures = [c for c in STABILITY if c in visibility]
    long = domain_labels(visibility).melt(id_vars=["method", "domain", "fit"], value_vars=measures, var_name="measure")
    long = long.assign(boundary=long["method"] + " · " + long["domain"], measure=long["measure"].map(STABILITY))
    return (
        alt.Chart(long.dropna(subset=["value"]))
        .mark_point(filled=True, size=80)
        .encode(
            x=alt.X("value:Q", title="cosine between normals", scale=alt.Scale(domain=[-1, 1])),
            y=alt.Y("boundary:N", title=None),
            color=alt.Color("fit:N", title="boundary"),
            shape=alt.Shape("measure:N", title=None),
            tooltip=["method", "domain", "fit", "measure", alt.Tooltip("value:Q", format=".3f")],
        )
    )


def prediction_scatter(lsoa: pd.DataFrame, title: str) -> alt.LayerChart:
    """Each LSOA's mean predicted decile against its true one (columns lsoa_code, true, predicted), with the diagonal."""
    colours = alt.Scale(domain=list(range(1, 11)), range=decile_hex())
    axis = alt.Scale(domain=[0.5, 10.5])
    points = (
        alt.Chart(lsoa[["lsoa_code", "true", "predicted"]], title=title)
        .transform_calculate(jittered="datum.true + (random() - 0.5) * 0.5")  # areas of one decile spread out, not stacked
        .mark_circle(size=30, opacity=0.7)
        .encode(
            x=alt.X("jittered:Q", title="true decile (jittered)", scale=axis),
            y=alt.Y("predicted:Q", title="predicted decile (mean of the area's photos)", scale=axis),
            color=alt.Color("true:O", scale=colours, title=DECILE_TITLE),
            tooltip=[
                alt.Tooltip("lsoa_code:N", title="LSOA"),
                alt.Tooltip("true:O", title="true decile"),
                alt.Tooltip("predicted:Q", title="predicted", format=".2f"),
            ],
        )
    )
    diagonal = (
        alt.Chart(pd.DataFrame({"x": [1, 10], "y": [1, 10]})).mark_line(color="grey", strokeDash=[4, 4]).encode(x="x", y="y")
    )
    return points + diagonal


def walk_readings(readings: pd.DataFrame, title: str) -> alt.Chart:
    """What the image models read along walks (columns step, reading, value, and image where several are walked)."""
    colour = alt.Color("image:N", title="image") if "image" in readings else alt.value("#4c78a8")
    return (
        alt.Chart(readings, title=title)
        .mark_line(point=True)
        .encode(
            x=alt.X("step:Q", title="walk step (σ of W along the normal)"),
            y=alt.Y("value:Q", title=None, scale=alt.Scale(zero=False)),
            color=colour,
            facet=alt.Facet("reading:N", columns=3, title=None),
            tooltip=["reading", alt.Tooltip("step:Q", format="+.1f"), alt.Tooltip("value:Q", format=".2f")],
        )
        .resolve_scale(y="independent")
        .properties(width=220, height=160)
    )
