"""Metrics: Table 1 with confidence intervals, the latent space in 2-D, boundary similarities, inversion quality, known answer."""

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from thisineq.app import state
from thisineq.data.domains import domain
from thisineq.latent.boundaries import decile_labels
from thisineq.latent.walk import projection_table

SCORES = ("precision", "recall", "f1", "accuracy", "roc_auc")


@st.cache_data(show_spinner="Projecting the latents…")
def projection(artifact_root: str, method: str, domain_key: str, kind: str, _photos: pd.DataFrame) -> pd.DataFrame:
    inversions = state.inversion_sets(artifact_root)[method]
    labels = decile_labels(_photos.loc[inversions.photo_id, f"{domain_key}_decile"]).dropna()
    keep = np.flatnonzero(pd.Index(inversions.photo_id).isin(labels.index))
    table = projection_table(inversions.w[keep], labels.loc[inversions.photo_id[keep]], kind)
    return table.assign(label=table["label"].map({0: "deprived (deciles 1–3)", 1: "privileged (8–10)"}))


def with_interval(table: pd.DataFrame, score: str) -> pd.Series:
    return table.apply(
        lambda r: f"{r[score]:.2f} [{r[f'{score}_low']:.2f}–{r[f'{score}_high']:.2f}]" if pd.notna(r.get(score)) else "—", axis=1
    )


st.title("Metrics")
page = state.open_dataset_page()
if page is not None:
    artifacts = page.artifacts
    artifact_root = str(artifacts.root)

    st.header("Table 1: how well a linear boundary separates deprived from privileged areas")
    table1 = state.csv_table(str(artifacts.boundaries / "table1.csv"))
    if table1 is None:
        st.info("No boundaries yet: `thisineq pipeline` builds them.")
    else:
        split = st.radio(
            "Cross-validation folds",
            ["by LSOA", "by photo"],
            horizontal=True,
            key="metrics_split",
            help="by LSOA: photos of one area never on both sides (stricter); by photo: as the paper likely did",
        )
        shown = table1[table1["split"] == split]
        display = shown[["domain", "method", "n"]].assign(domain=shown["domain"].map(lambda k: domain(k).label))
        for score in SCORES:
            if score in shown:
                display[score] = with_interval(shown, score)
        st.dataframe(display, hide_index=True, width="stretch")
        st.caption(
            "Mean over 5 cross-validation folds with 95% bootstrap intervals. The paper reports precision, recall and F1 of 0.72–0.82."
        )
        record = state.json_record(str(artifacts.boundaries_record))
        if record:
            fitted = " · ".join(f"{m}: {entry['photos']:,} inverted photos" for m, entry in record["fitted_on"].items())
            st.caption(f"Fitted on — {fitted}; n is the balanced count of labelled photos ({record['labels']}).")
        score = st.selectbox("Chart", SCORES, index=2, key="metrics_score", format_func=lambda s: s.replace("_", "-").upper())
        chart_data = shown.dropna(subset=[score]).assign(domain=lambda t: t["domain"].map(lambda k: domain(k).label))
        base = alt.Chart(chart_data).encode(
            x=alt.X("domain:N", title=None), xOffset="method:N", color=alt.Color("method:N", title="inversion")
        )
        bars = base.mark_bar().encode(y=alt.Y(f"{score}:Q", scale=alt.Scale(domain=[0, 1]), title=score))
        errors = base.mark_errorbar().encode(y=f"{score}_low:Q", y2=f"{score}_high:Q")
        st.altair_chart(bars + errors, width="stretch")

    st.header("How visible the walks are")
    visibility = state.csv_table(str(artifacts.visibility))
    if visibility is None:
        st.info("No visibility figures in this artifact set: `thisineq pipeline` writes them with the boundaries.")
    else:
        shown = visibility.assign(domain=visibility["domain"].map(lambda k: domain(k).label), f1=with_interval(visibility, "f1"))
        st.dataframe(
            shown[["method", "domain", "fit", "n", "f1", "roc_auc", "sigma_w", "change"]],
            hide_index=True,
            width="stretch",
            column_config={
                "f1": st.column_config.TextColumn("F1 by LSOA [95% CI]"),
                "roc_auc": st.column_config.NumberColumn("ROC-AUC", format="%.3f"),
                "sigma_w": st.column_config.NumberColumn(
                    "σ in W", format="%.2f", help="the spread of the generator's W along the normal: one slider step"
                ),
                "change": st.column_config.NumberColumn(
                    "pixel change at +3σ",
                    format="percent",
                    help="mean absolute change of 16 random images, as a share of the pixel range",
                ),
            },
        )
        chart = (
            alt.Chart(visibility.assign(domain=visibility["domain"].map(lambda k: domain(k).label)))
            .mark_point(filled=True, size=90)
            .encode(
                x=alt.X("change:Q", title="pixel change at +3σ", axis=alt.Axis(format="%")),
                y=alt.Y("f1:Q", title="F1 by LSOA", scale=alt.Scale(zero=False)),
                color=alt.Color("fit:N", title="boundary"),
                shape=alt.Shape("method:N", title="inversion"),
                tooltip=["method", "domain", "fit", alt.Tooltip("f1:Q", format=".3f"), alt.Tooltip("change:Q", format=".1%")],
            )
        )
        st.altair_chart(chart, width="stretch")
        st.caption(
            "A boundary fitted in the full latent space separates the areas best, but moving along it changes the image little: the "
            "encoders keep what tells the areas apart in directions the generator hardly renders. Fitted on W's first principal axes, "
            "a boundary separates less well and its walks show more ('Visible walks' on the Generator and Walk-matrix pages)."
        )

    st.header("The latent space in two dimensions")
    inverted = state.inversion_sets(artifact_root)
    bounded = [m for m in inverted if m != "hybrid"]
    if not bounded:
        st.info("No inversions yet.")
    else:
        left, middle, right = st.columns(3)
        method = left.selectbox("Inversion", bounded, key="metrics_projection_method")
        domain_key = middle.selectbox(
            "Domain", page.manifest["domains"], key="metrics_projection_domain", format_func=lambda k: domain(k).label
        )
        kind = right.radio("Projection", ["pca", "tsne"], horizontal=True, key="metrics_projection_kind", format_func=str.upper)
        points = projection(artifact_root, method, domain_key, kind, page.photos)
        if len(points) < 4:
            st.info("Too few photos at the two ends of this domain's deciles to plot.")
        else:
            scatter = (
                alt.Chart(points.reset_index())
                .mark_circle(size=40, opacity=0.7)
                .encode(
                    x=alt.X("x:Q", title=None),
                    y=alt.Y("y:Q", title=None),
                    color=alt.Color("label:N", title=None, scale=alt.Scale(range=["#d73027", "#4575b4"])),
                    tooltip=["photo_id:N", "label:N"],
                )
            )
            st.altair_chart(scatter, width="stretch")

    st.header("How similar the boundaries are")
    cosine_files = {m: artifacts.boundaries / f"cosines_{m}.csv" for m in ("e4e", "restyle", "projector")}
    matrices = {m: state.csv_table(str(p)) for m, p in cosine_files.items()}
    matrices = {m: t for m, t in matrices.items() if t is not None}
    if not matrices:
        st.info("No boundaries yet.")
    else:
        columns = st.columns(len(matrices))
        for column, (method, matrix) in zip(columns, matrices.items(), strict=True):
            long = matrix.rename(columns={matrix.columns[0]: "a"}).melt(id_vars="a", var_name="b", value_name="cosine")
            heat = (
                alt.Chart(long, title=method)
                .mark_rect()
                .encode(
                    x=alt.X("b:N", title=None),
                    y=alt.Y("a:N", title=None),
                    color=alt.Color("cosine:Q", scale=alt.Scale(domain=[-1, 1], scheme="redblue")),
                    tooltip=["a", "b", alt.Tooltip("cosine:Q", format=".2f")],
                )
            )
            text = heat.mark_text(fontSize=12).encode(text=alt.Text("cosine:Q", format=".2f"), color=alt.value("black"))
            column.altair_chart(heat + text, width="stretch")
        st.caption("Cosine similarity between the domains' boundary normals: near 1, walking one domain also walks the other.")

    st.header("Inversion quality: the methods compared")
    comparison = state.csv_table(str(artifacts.comparison))
    if comparison is None:
        st.info("No comparison yet: `thisineq pipeline` writes it after the inversions and boundaries.")
    else:
        st.dataframe(
            comparison,
            hide_index=True,
            width="stretch",
            column_config={
                "lpips": st.column_config.NumberColumn("LPIPS ↓", format="%.3f"),
                "psnr": st.column_config.NumberColumn("PSNR dB ↑", format="%.2f"),
                "ssim": st.column_config.NumberColumn("SSIM ↑", format="%.3f"),
                "mse": st.column_config.NumberColumn("MSE ↓", format="%.4f"),
                "seconds_per_photo": st.column_config.NumberColumn("s / photo ↓", format="%.3f"),
                "latent_error": st.column_config.NumberColumn("latent error ↓", format="%.3f"),
                "sample_lpips": st.column_config.NumberColumn("sample LPIPS ↓", format="%.3f"),
                "edit_atypicality": st.column_config.NumberColumn("edit atypicality (1 = typical)", format="%.2f"),
                "edit_realism": st.column_config.NumberColumn("edit realism (D logit ↑)", format="%.2f"),
                "lec": st.column_config.NumberColumn("LEC ↓", format="%.3f"),
                "lec_relative": st.column_config.NumberColumn("LEC / edit ↓", format="%.2f"),
            },
        )
        record = state.json_record(str(artifacts.comparison.with_suffix(".json"))) or {}
        reference = record.get("reference", {})
        if reference:
            st.caption(
                "For reading the editability columns: "
                + "; ".join(f"{k.replace('_', ' ')} = {v:.2f}" for k, v in reference.items())
            )
        st.caption(
            "Reconstruction on photos held out from encoder training; latent error on GAN samples (0 exact, 1 no better than the "
            "average latent); LEC: edit, regenerate, invert again, undo the edit — the distance left to the original code."
        )
        long = comparison.melt(id_vars="method", value_vars=["lpips", "seconds_per_photo"], var_name="measure")
        chart = (
            alt.Chart(long)
            .mark_bar()
            .encode(
                x=alt.X("value:Q", title=None),
                y=alt.Y("method:N", title=None),
                color="method:N",
                row=alt.Row("measure:N", title=None),
            )
            .resolve_scale(x="independent")
        )
        st.altair_chart(chart)

    st.header("Known answer: do walks move what the synthetic city ties to each domain?")
    known = state.csv_table(str(artifacts.known_answer / "table.csv"))
    r2 = state.json_record(str(artifacts.known_answer / "oracle_r2.json"))
    if known is None:
        st.info("No known-answer benchmark in this artifact set (it needs the synthetic city's ground truth).")
    else:
        st.dataframe(known, hide_index=True, width="stretch")
        st.caption(
            "own_rho: median Spearman ρ of the domain's own factors over the walk (target ≥ 0.9); leakage: movement of factors tied "
            "only to other domains (target ≤ 0.2); nuisance: movement of nuisance factors. Measured by an oracle network."
        )
        if r2:
            st.markdown("**Oracle held-out R² per factor**")
            st.dataframe(pd.Series(r2, name="R²").to_frame().T, hide_index=True)
