"""Dataset: what was ingested, what was not and why, the split, and the decile structure."""

import streamlit as st

from thisineq.app import charts, state, widgets
from thisineq.data.imd import decile_correlations

st.title("Dataset")
page = state.open_dataset_page()
manifest, photos = page.manifest, page.photos
counts = manifest["counts"]
st.markdown(
    f"**{manifest['name']}** — {counts['photos_usable']:,} usable photos of {counts['photos_listed']:,} listed, "
    f"{counts['lsoas']:,} LSOAs ({counts['lsoas_with_photos']:,} with photos), images cached at "
    f"{manifest['image_size']}×{manifest['image_size']} px."
)
st.subheader("Split (grouped by LSOA)")
st.dataframe(photos.groupby("split").agg(photos=("lsoa_code", "size"), lsoas=("lsoa_code", "nunique")))

st.subheader("Problems")
problems = state.dataset(page.root).problems()
if problems.empty:
    st.success("Every listed photo was usable.")
else:
    st.dataframe(problems, hide_index=True)

st.subheader("Photos per decile")
domain_key = widgets.domain_selectbox(manifest["domains"], key=state.DATASET_DOMAIN)
st.altair_chart(charts.decile_bars(charts.decile_counts(photos, domain_key)), width="stretch")

st.subheader("How the domains' deciles correlate across LSOAs")
st.altair_chart(charts.correlation_heatmap(decile_correlations(page.lsoas, manifest["domains"]).round(2)), width="stretch")

sheet = page.artifacts.city / "contact_sheet.png"
if sheet.is_file():
    st.subheader("Contact sheet")
    st.image(str(sheet), width="stretch")
