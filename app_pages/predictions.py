"""Predictions: deciles read from the photos themselves (Suel et al.), beside the latent boundaries' Table 1."""

import pydeck as pdk
import streamlit as st

from thisineq.app import charts, maps, state, tables, widgets
from thisineq.data.domains import domain

GROUPINGS = {"lsoa": "grouped by LSOA", "stratified": "stratified over locations"}
MEASURE_COLUMNS = {
    "grouping": st.column_config.TextColumn("folds"),
    "kendall_tau": st.column_config.NumberColumn("Kendall τ ↑", format="%.3f"),
    "ceiling_kendall_tau": st.column_config.NumberColumn(
        "τ ceiling",
        format="%.3f",
        help="the same model, linear, reading the synthetic city's true visual factors instead of the image: "
        "what no image model can beat",
    ),
    "pearson_r": st.column_config.NumberColumn("Pearson r ↑", format="%.3f"),
    "within_one": st.column_config.NumberColumn("within ±1 decile ↑", format="percent"),
    "extremes_1_as_10": st.column_config.NumberColumn("decile 1 read as 10", help="LSOAs of decile 1 predicted as 10"),
    "extremes_10_as_1": st.column_config.NumberColumn("decile 10 read as 1", help="LSOAs of decile 10 predicted as 1"),
    "n_lsoas": st.column_config.NumberColumn("LSOAs"),
}
RANKING_COLUMNS = {
    "question": st.column_config.TextColumn("which looks …?"),
    "ranker": st.column_config.TextColumn(
        "ranker",
        help="bradley-terry: strengths linear in the image features; siamese: two dense layers on them (Dubey et al.); "
        "pixels: a CNN trained end to end on the photos; ensemble: the average of bradley-terry and pixels",
    ),
    "ranker_prior": st.column_config.NumberColumn(
        "prior", format="%.0f", help="the Bradley–Terry ranker's prior precision, chosen by cross-validated likelihood"
    ),
    "votes_train": st.column_config.NumberColumn("training votes"),
    "votes_test": st.column_config.NumberColumn("held-out votes"),
    "ranker_accuracy": st.column_config.NumberColumn(
        "ranker ↑", format="%.3f", help="share of decisive held-out votes it gets right"
    ),
    "baseline_accuracy": st.column_config.NumberColumn("Bradley–Terry", format="%.3f", help="scores from the votes alone"),
    "ceiling_accuracy": st.column_config.NumberColumn(
        "ceiling", format="%.3f", help="the noise-free hidden scores: the most the crowd's noise allows"
    ),
    "hidden_spearman_held_out": st.column_config.NumberColumn("ρ with the hidden score", format="%.3f"),
    "votes_simulated": st.column_config.NumberColumn(
        "simulated votes", help="further votes the simulated crowd cast between the held-out photos"
    ),
    "ranker_accuracy_simulated": st.column_config.NumberColumn(
        "ranker on them ↑", format="%.3f", help="the ranker on those votes: the same check with far less noise"
    ),
    "ceiling_accuracy_simulated": st.column_config.NumberColumn("ceiling on them", format="%.3f"),
    "below_ceiling": st.column_config.TextColumn(
        "below the ceiling ↓", help="the ceiling's accuracy minus the ranker's [95% interval, votes resampled by LSOA]"
    ),
    "below_ceiling_simulated": st.column_config.TextColumn("below it on them ↓", help="the same on the simulated votes"),
}

RANKER_WORDS = {
    "bradley-terry": "A Bradley–Terry model whose strengths are linear in the image features learns",
    "siamese": "A Siamese ranker (two dense layers) on the image features learns",
    "pixels": "A small CNN trained end to end on the photos' pixels (a Siamese network, after Dubey et al.) learns",
    "ensemble": "The average of a Bradley–Terry model linear in the image features and a small CNN trained end to end "
    "on the photos' pixels (after Dubey et al.), each on unit spread, learns",
}


def ranker_kind(ranking) -> str:
    """The ranker named in ranking.csv (artifact sets from before the choice hold the Siamese one)."""
    return str(ranking["ranker"].iloc[0]) if "ranker" in ranking and len(ranking) else "siamese"


st.title("Predictions from photos")
page = state.open_dataset_page()
folder = page.artifacts.predict
measures = state.csv_table(str(folder / "measures.csv"))
lsoa = state.csv_table(str(folder / "lsoa.csv"))
if measures is None or lsoa is None:
    st.info("No decile predictions in this artifact set yet: `thisineq pipeline --only predict` builds them.")
    st.stop()
st.markdown(
    "A model that never sees the GAN reads each photo's deprivation decile from image features alone: an ImageNet "
    "backbone, a dense stack shared by the photos of a location, and one score per location turned into a distribution "
    "over the ten deciles (Suel et al. 2019). Every prediction here is out of fold: the photo's area was not in the "
    "folds the model learned from."
)

domains = list(dict.fromkeys(measures["domain"]))
left, right = st.columns(2)
domain_key = widgets.domain_selectbox(domains, key=state.PREDICT_DOMAIN, where=left)
grouping = right.radio(
    "Folds",
    [g for g in GROUPINGS if g in set(measures["grouping"])],
    horizontal=True,
    key=state.PREDICT_GROUPING,
    format_func=GROUPINGS.get,
    help="grouped by LSOA: no area on both sides (stricter); stratified: locations split in balance over the deciles",
)
label = domain(domain_key).label
shown = lsoa[(lsoa["domain"] == domain_key) & (lsoa["grouping"] == grouping)].set_index("lsoa_code")

geojson = state.web_geojson(page.root)
view = pdk.ViewState(**maps.initial_view(page.photos, geojson))
outlined = len(shown) <= maps.OUTLINE_LIMIT
maps_shown = (
    ("True deciles", shown["true"], state.PREDICT_TRUE_MAP),
    ("Predicted from photos", shown["predicted_decile"], state.PREDICT_MAP),
)
for column, (title, deciles, key) in zip(st.columns(2), maps_shown, strict=True):
    column.markdown(f"**{title}** — {label}")
    deck = maps.CompactDeck(
        layers=[maps.choropleth_layer(maps.coloured_geojson(geojson, deciles), outlined=outlined)],
        initial_view_state=view,
        tooltip=maps.decile_tooltip(label),
    )
    column.pydeck_chart(deck, height=380, key=key)
st.markdown(maps.legend_markdown(bool(page.manifest.get("synthetic"))), unsafe_allow_html=True)
st.caption("Grey areas have no photo. A predicted decile is the rounded mean of the expected deciles of the area's photos.")

st.subheader("How well the photos tell the deciles apart")
left, right = st.columns([3, 2])
rows = measures[measures["domain"] == domain_key].drop(columns="domain").assign(grouping=lambda t: t["grouping"].map(GROUPINGS))
left.dataframe(rows, hide_index=True, width="stretch", column_config=MEASURE_COLUMNS)
left.caption(
    "Per LSOA, as Suel et al. report: Kendall τ and Pearson r of the mean prediction with the true decile, the share of "
    "areas within one decile, and the extremes confused."
)
right.altair_chart(charts.prediction_scatter(shown.reset_index(), f"{label}: areas, predicted against true"), width="stretch")

st.subheader("Beside Table 1: the same photos, judged the same way")
beside = state.csv_table(str(folder / "table1.csv"))
table1 = state.csv_table(str(page.artifacts.boundaries / "table1.csv"))
if beside is None:
    st.info("No Table 1 rows for the image side: `thisineq pipeline --only predict` writes them.")
else:
    definitions = list(dict.fromkeys(beside["classes"]))
    classes = st.radio("Classes", definitions, horizontal=True, key=state.PREDICT_CLASSES) if len(definitions) > 1 else None
    images = beside[beside["classes"] == classes] if classes else beside
    latent = table1[(table1["split"] == "by LSOA")] if table1 is not None else beside.iloc[:0]
    same = tables.same_photos(latent, images)
    st.dataframe(tables.table1_display(tables.beside_table1(latent, images, same)), hide_index=True, width="stretch")
    st.caption(
        "Rows of the latent SVMs (Table 1, folds by LSOA) and of the image predictor on the very photos each boundary was "
        "fitted on: the same balanced labelled subset, a decision score (the expected decile minus 5.5), and intervals "
        "that resample LSOAs. The image predictor's folds are its own five LSOA-grouped folds. "
        + (
            f"Boundaries fitted on these photos: {', '.join(same)}; the others' (fitted on other photos) are left out."
            if same
            else "No boundary of this set was fitted on these photos."
        )
    )

st.subheader("Perception from crowd votes (Place Pulse)")
ranking = state.csv_table(str(page.artifacts.perception / "ranking.csv"))
correlations = state.csv_table(str(page.artifacts.perception / "correlations.csv"))
if ranking is None or correlations is None:
    st.info(
        "No perception scores in this artifact set: `thisineq pipeline --only crowd perception` builds them from crowd votes."
    )
else:
    left, right = st.columns([3, 2])
    left.dataframe(tables.ranking_display(ranking), hide_index=True, width="stretch", column_config=RANKING_COLUMNS)
    left.caption(
        f"{RANKER_WORDS.get(ranker_kind(ranking), 'A ranker learns')} each question from pairwise votes; it is judged on votes "
        "between photos it never saw, beside Bradley–Terry scores from the votes alone"
        + (" and the ceiling the simulated crowd's own noise allows." if "ceiling_accuracy" in ranking else ".")
        + (" The votes are a simulated crowd's (synthetic)." if page.manifest.get("synthetic") else "")
    )
    matrix = correlations.assign(domain=correlations["domain"].map(lambda k: domain(k).label)).pivot(
        index="question", columns="domain", values="spearman"
    )
    right.altair_chart(charts.correlation_heatmap(matrix), width="stretch")
    right.caption("Spearman ρ between each area's mean perception score and its decile (10 = least deprived).")
