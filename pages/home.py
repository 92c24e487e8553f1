"""Overview: what the project is, and the chosen artifact set at a glance."""

import streamlit as st

from thisineq.app import state

st.title("This inequality does not exist")
page = state.open_dataset_page()
if page is not None:
    manifest = page.manifest
    st.markdown(
        "A StyleGAN2 trained on street-level photos of housing, each photo inverted into the GAN's latent "
        "space and linked to the English Indices of Deprivation 2019 deciles of its area. Linear boundaries "
        "in latent space separate photos of deprived from privileged areas; walking across them shows what "
        "the model associates with deprivation."
    )
    counts = manifest["counts"]
    left, middle, right = st.columns(3)
    left.metric("Photos", f"{counts['photos_usable']:,}", help=f"{counts['photos_listed']:,} listed")
    middle.metric("Areas (LSOAs)", f"{counts['lsoas']:,}", help=f"{counts['lsoas_with_photos']:,} with photos")
    right.metric("Problems reported", f"{sum(counts['problems'].values()):,}")
    st.caption(f"Dataset: `{page.artifacts.dataset}`")
    st.info("The GAN, the inversions and the boundaries are built in later stages; this app shows the data so far.")
