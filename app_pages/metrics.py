"""Metrics: Table 1 with confidence intervals, boundary visibility and stability, the latent space (Fig. 3), boundary
similarities, inversion quality, the known-answer benchmark."""

import streamlit as st

from thisineq import provenance
from thisineq.app import charts, exports, latent_views, state, tables, widgets
from thisineq.invert import methods
from thisineq.latent import figures
from thisineq.latent.normals import FIT_LABELS

CLASSES_HELP = (
    "ranks 20%: areas in the bottom and top fifth of the domain's ranks among the areas photographed (the paper's); "
    "deciles: IoD2019 deciles 1–3 against 8–10"
)
COMPARISON_COLUMNS = {
    "lpips": st.column_config.NumberColumn("LPIPS ↓", format="%.3f"),
    "psnr": st.column_config.NumberColumn("PSNR dB ↑", format="%.2f"),
    "ssim": st.column_config.NumberColumn("SSIM ↑", format="%.3f"),
    "mse": st.column_config.NumberColumn("MSE ↓", format="%.4f"),
    "seconds_per_photo": st.column_config.NumberColumn("s / photo ↓", format="%.3f"),
    "photos_per_second": st.column_config.NumberColumn(
        "photos / s (batch 32) ↑", format="%.0f", help="encoders only: 32 photos inverted at once on this machine"
    ),
    "latent_error": st.column_config.NumberColumn("latent error ↓", format="%.3f"),
    "code_atypicality": st.column_config.NumberColumn(
        "code atypicality (1 = typical) ↓",
        format="%.2f",
        help="median over the held-out photos' codes of the squared Mahalanobis distance per dimension in the generator's W",
    ),
    "sample_lpips": st.column_config.NumberColumn("sample LPIPS ↓", format="%.3f"),
    "edit_atypicality": st.column_config.NumberColumn("edit atypicality (1 = typical)", format="%.2f"),
    "edit_realism": st.column_config.NumberColumn("edit realism (D logit ↑)", format="%.2f"),
    "lec": st.column_config.NumberColumn("LEC ↓", format="%.3f"),
    "lec_relative": st.column_config.NumberColumn("LEC / edit ↓", format="%.2f"),
}
TABLE1_COLUMNS = {
    "n": st.column_config.NumberColumn("n", help="labelled photos, balanced between the two classes"),
    **{score: st.column_config.TextColumn(f"{label} [95% CI]") for score, label in charts.SCORE_LABELS.items()},
}
VISIBILITY_COLUMNS = {
    "f1": st.column_config.TextColumn("F1 by LSOA [95% CI]"),
    "roc_auc": st.column_config.NumberColumn("ROC-AUC", format="%.3f"),
    "sigma_w": st.column_config.NumberColumn(
        "σ in W", format="%.2f", help="the spread of the generator's W along the normal: one slider step"
    ),
    "change": st.column_config.NumberColumn(
        "pixel change at +3σ", format="percent", help="mean absolute change of 16 random images, as a share of the pixel range"
    ),
    "split_half_cosine": st.column_config.NumberColumn(
        "split-half cosine", format="%.3f", help="cosine between the normals fitted on two LSOA-disjoint halves of the photos"
    ),
    "bootstrap_cosine": st.column_config.NumberColumn(
        "bootstrap cosine", format="%.3f", help="cosine between normals fitted on bootstrap resamples of the photos"
    ),
}


def result_table(title: str, path: str, missing: str):
    """A section's header and its table, or None after saying what is missing and what builds it."""
    st.header(title)
    table = state.csv_table(path)
    if table is None:
        st.info(missing)
    return table


def table1_section(artifacts) -> None:
    table1 = result_table(
        "Table 1: how well a linear boundary separates deprived from privileged areas",
        str(artifacts.boundaries / "table1.csv"),
        "No boundaries yet: `thisineq pipeline` builds them.",
    )
    if table1 is None:
        return
    split = st.radio(
        "Cross-validation folds",
        ["by LSOA", "by photo"],
        horizontal=True,
        key=state.METRICS_SPLIT,
        help="by LSOA: photos of one area never on both sides (stricter); by photo: as the paper likely did",
    )
    definitions = list(dict.fromkeys(table1["classes"])) if "classes" in table1 else []
    classes = (
        st.radio("Classes", definitions, horizontal=True, key=state.METRICS_CLASSES, help=CLASSES_HELP)
        if len(definitions) > 1
        else None
    )
    shown = table1[(table1["split"] == split) & ((table1["classes"] == classes) if classes else True)]
    st.dataframe(tables.table1_display(shown), hide_index=True, width="stretch", column_config=TABLE1_COLUMNS)
    st.caption(
        "Out-of-fold scores of 5-fold cross-validation with 95% intervals from a bootstrap that resamples LSOAs (each area's "
        "photos together), and the C the inner cross-validation chose. The paper reports precision, recall and F1 of 0.72–0.82."
    )
    record = state.json_record(str(artifacts.boundaries_record))
    if record:
        fitted = " · ".join(f"{m}: {entry['photos']:,} inverted photos" for m, entry in record["fitted_on"].items())
        st.caption(f"Fitted on — {fitted}; n is the balanced count of labelled photos ({record['labels']}).")
    score = st.selectbox("Chart", tables.SCORES, index=2, key=state.METRICS_SCORE, format_func=charts.SCORE_LABELS.get)
    st.altair_chart(charts.score_bars(shown, score), width="stretch")


def visibility_section(artifacts) -> None:
    visibility = result_table(
        "How visible the walks are",
        str(artifacts.visibility),
        "No visibility figures in this artifact set: `thisineq pipeline` writes them with the boundaries.",
    )
    if visibility is None:
        return
    st.dataframe(tables.visibility_display(visibility), hide_index=True, width="stretch", column_config=VISIBILITY_COLUMNS)
    st.altair_chart(charts.visibility_scatter(visibility), width="stretch")
    st.caption(
        "Fitted on standardised latents, a boundary separates the areas well but a walk along it hardly changes the image: the "
        "encoders keep what tells the areas apart in directions the generator hardly renders. Fitted in W whitened by the "
        "generator's own statistics (the default), it separates as well and its walks show; on W's first principal axes it "
        "separates less well. 'Boundaries fitted in' on the Generator, Walk-matrix and Your-photo pages switches between them."
    )
    if tables.has_stability(visibility):
        st.altair_chart(charts.stability_points(visibility), width="stretch")
        st.caption(
            "Stability: near 1, a boundary fitted on other photos points the same way; near 0, its normal is mostly noise."
        )


def fig3_section(page: state.PageData) -> None:
    st.header("Latent space (Fig. 3)")
    artifact_root = str(page.artifacts.root)
    normals = state.boundary_normals(str(page.artifacts.normals))
    bounded = [m for m in state.inversion_sets(artifact_root) if methods.method(m).bounded and normals.default_fit(m)]
    if not bounded:
        st.info("No inversions with boundaries yet: `thisineq pipeline` builds them.")
        return
    left, right = st.columns(2)
    state.keep_choice(state.METRICS_PROJECTION_METHOD, bounded, None)
    method = widgets.method_selectbox("Inversion", bounded, key=state.METRICS_PROJECTION_METHOD, where=left)
    domains = list(latent_views.fitted_normals(normals, method))
    state.keep_choice(state.METRICS_PROJECTION_DOMAIN, domains, None)
    domain_key = widgets.domain_selectbox(domains, key=state.METRICS_PROJECTION_DOMAIN, where=right)
    points = latent_views.fig3_points(artifact_root, method, domain_key, page.photos)
    if points is None or (points["view"] == "supervised").sum() < 4:
        st.info("Too few inverted photos with a decile of this domain to plot.")
        return
    views = list(figures.VIEWS.values())
    for column, view in zip(st.columns(len(views)), views, strict=True):
        shown = points[points["view"] == view.name]
        title = figures.view_title(points, view.name)
        chart = charts.decile_scatter(shown, title, view.x_title, view.y_title, legend=view is views[-1])
        column.altair_chart(chart, width="stretch")
    made = provenance.record(
        image="Fig. 3",
        artifact_set=page.artifacts.name,
        files=state.file_hashes(exports.generator_files(page.artifacts, method, from_photo=True)),
        view={"method": method, "domain": domain_key},
        band=None,
        synthetic=bool(page.manifest.get("synthetic")),
    )
    widgets.publication_downloads(
        lambda: figures.fig3_figure(
            points,
            figures.fig3_title(method, domain_key, int((points["view"] == "supervised").sum())),
            "synthetic city: no real place" if page.manifest.get("synthetic") else None,
        ),
        f"fig3-{method}-{domain_key}",
        made,
        key=state.METRICS_PUBLICATION,
    )
    fitted = ((state.json_record(str(page.artifacts.boundaries_record)) or {}).get("fitted_on") or {}).get(method, {})
    on = f" (its boundary was fitted on {fitted['photos']:,} inverted photos)" if "photos" in fitted else ""
    drawn = (state.json_record(str(page.artifacts.figures / "figures.json")) or {}).get("space")
    space = f"in {drawn}, as the pipeline drew the figure" if drawn else "in the latents' own coordinates"
    st.caption(
        f"This set's inverted photos{on}, coloured by their decile of the domain, {space}. Supervised: x is the projection "
        f"on the normal of the boundary fitted in {FIT_LABELS[normals.default_fit(method)]}, y the direction orthogonal to "
        "it that best predicts the decile (ridge regression). PCA and t-SNE see no labels. "
        "`thisineq.latent.figures.write_fig3` draws the same figure for the paper."
    )


def cosines_section(artifacts) -> None:
    st.header("How similar the boundaries are")
    matrices = {m: state.csv_table(str(artifacts.boundaries / f"cosines_{m}.csv")) for m in methods.BOUNDED}
    matrices = {m: t for m, t in matrices.items() if t is not None}
    if not matrices:
        st.info("No boundaries yet.")
        return
    for column, (method, matrix) in zip(st.columns(len(matrices)), matrices.items(), strict=True):
        column.altair_chart(charts.cosine_heatmap(matrix, widgets.method_label(method)), width="stretch")
    st.caption("Cosine similarity between the domains' boundary normals: near 1, walking one domain also walks the other.")


def comparison_section(artifacts) -> None:
    comparison = result_table(
        "Inversion quality: the methods compared",
        str(artifacts.comparison),
        "No comparison yet: `thisineq pipeline` writes it after the inversions and boundaries.",
    )
    if comparison is None:
        return
    st.dataframe(comparison, hide_index=True, width="stretch", column_config=COMPARISON_COLUMNS)
    reference = (state.json_record(str(artifacts.comparison.with_suffix(".json"))) or {}).get("reference", {})
    if reference:
        readings = "; ".join(f"{k.replace('_', ' ')} = {v:.2f}" for k, v in reference.items())
        st.caption(f"For reading the editability columns: {readings}")
    st.caption(
        "Reconstruction on photos held out from encoder training; latent error on GAN samples (0 exact, 1 no better than the "
        "average latent); LEC: edit, regenerate, invert again, undo the edit — the distance left to the original code."
    )
    st.altair_chart(charts.comparison_bars(comparison))


def known_answer_section(artifacts) -> None:
    known = result_table(
        "Known-answer benchmark: do walks move what the synthetic city ties to each domain?",
        str(artifacts.known_answer / "table.csv"),
        "No known-answer benchmark in this artifact set (it needs the synthetic city's ground truth).",
    )
    if known is None:
        return
    options = tables.sources(known)
    source = st.radio("Walked from", options, horizontal=True, key=state.METRICS_KNOWN_SOURCE) if options else None
    summary = state.json_record(str(artifacts.known_answer / "summary.json"))
    table_column, summary_column = st.columns([3, 1]) if summary else (st.container(), None)
    table_column.dataframe(tables.rows_of_source(known, source), hide_index=True, width="stretch")
    if summary_column is not None:
        summary_column.markdown("**Summary**")
        summary_column.json(summary)
    notes = tables.column_notes(known, tables.KNOWN_ANSWER_NOTES)
    st.caption(f"{notes + '. ' if notes else ''}Measured by an oracle network trained on the city's ground truth.")
    validation = state.json_record(str(artifacts.known_answer / "oracle_validation.json"))
    if validation:
        with st.expander("The oracle checked on GAN images (R² per factor, per oracle seed)"):
            st.json(validation, expanded=2)


st.title("Metrics")
page = state.open_dataset_page()
table1_section(page.artifacts)
visibility_section(page.artifacts)
fig3_section(page)
cosines_section(page.artifacts)
comparison_section(page.artifacts)
known_answer_section(page.artifacts)
