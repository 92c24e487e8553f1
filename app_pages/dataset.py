"""Dataset: what was ingested, what was not and why, the split, and the decile structure."""

import altair as alt
import streamlit as st

from thisineq.app import maps, state
from thisineq.data.domains import domain
from thisineq.data.imd import decile_correlations

st.title("Dataset")
page = state.open_dataset_page()
if page is not None:
    root, manifest, photos, lsoas = page.root, page.manifest, page.photos, page.lsoas
    counts = manifest["counts"]
    st.markdown(
        f"**{manifest['name']}** — {counts['photos_usable']:,} usable photos of {counts['photos_listed']:,} listed, "
        f"{counts['lsoas']:,} LSOAs ({counts['lsoas_with_photos']:,} with photos), images cached at "
        f"{manifest['image_size']}×{manifest['image_size']} px."
    )
    split = photos.groupby("split").agg(photos=("lsoa_code", "size"), lsoas=("lsoa_code", "nunique"))
    st.subheader("Split (grouped by LSOA)")
    st.dataframe(split)

    st.subheader("Problems")
    problems = state.dataset(root).problems()
    if problems.empty:
        st.success("Every listed photo was usable.")
    else:
        st.dataframe(problems, hide_index=True)

    st.subheader("Photos per decile")
    domain_key = st.selectbox("Domain", manifest["domains"], key="dataset_domain", format_func=lambda k: domain(k).label)
    counts_by_decile = photos[f"{domain_key}_decile"].value_counts().sort_index().rename_axis("decile").reset_index(name="photos")
    st.altair_chart(
        alt.Chart(counts_by_decile)
        .mark_bar()
        .encode(
            x=alt.X("decile:O", title="decile (1 = most deprived)"),
            y="photos:Q",
            tooltip=["decile", "photos"],
            color=alt.Color("decile:O", scale=alt.Scale(domain=list(range(1, 11)), range=maps.decile_hex()), legend=None),
        ),
        width="stretch",
    )

    st.subheader("How the domains' deciles correlate across LSOAs")
    corr = decile_correlations(lsoas, manifest["domains"]).round(2)
    long = corr.reset_index(names="a").melt(id_vars="a", var_name="b", value_name="r")
    st.altair_chart(
        alt.Chart(long)
        .mark_rect()
        .encode(
            x=alt.X("b:N", sort=list(corr.columns), title=None),
            y=alt.Y("a:N", sort=list(corr.index), title=None),
            color=alt.Color("r:Q", scale=alt.Scale(scheme="redblue", domain=[-1, 1])),
            tooltip=["a", "b", "r"],
        ),
        width="stretch",
    )

    sheet = page.artifacts.city / "contact_sheet.png"
    if sheet.is_file():
        st.subheader("Contact sheet")
        st.image(str(sheet), width="stretch")
