"""Overview: what the project is, and the chosen artifact set at a glance."""

import streamlit as st

from thisineq.app import state, tables, widgets
from thisineq.headline import check_headline
from thisineq.invert import methods

st.title("This inequality does not exist")
page = state.open_dataset_page()
artifacts, counts = page.artifacts, page.manifest["counts"]
st.markdown(
    "A StyleGAN2 trained on street-level photos of housing, each photo inverted into the GAN's latent "
    "space and linked to the English Indices of Deprivation 2019 deciles of its area. Linear boundaries "
    "in latent space separate photos of deprived from privileged areas; walking across them shows what "
    "the model associates with deprivation."
)
left, middle, right = st.columns(3)
left.metric("Photos", f"{counts['photos_usable']:,}", help=f"{counts['photos_listed']:,} listed")
middle.metric("Areas (LSOAs)", f"{counts['lsoas']:,}", help=f"{counts['lsoas_with_photos']:,} with photos")
right.metric("Problems reported", f"{sum(counts['problems'].values()):,}")
st.caption(f"Dataset: `{artifacts.dataset}`")
built = {
    "Generator": artifacts.generator.is_file(),
    f"Encoders ({', '.join(map(widgets.method_label, methods.ENCODERS))})": all(
        artifacts.encoder(kind).is_file() for kind in methods.ENCODERS
    ),
    "Inversions": any((artifacts.inversion(m) / "inversion.json").is_file() for m in methods.NAMES),
    "Boundaries (Table 1)": artifacts.normals.is_file(),
    "Known-answer benchmark": (artifacts.known_answer / "table.csv").is_file(),
}
# Marks in words and Material icons (a font Streamlit serves itself): emoji marks looked identical without an emoji font.
marks = {
    True: ":green[:material/check_circle:] {} — built",
    False: ":gray[:material/radio_button_unchecked:] {} — *not built yet*",
}
st.markdown("**What this artifact set holds**  \n" + "  \n".join(marks[ok].format(name) for name, ok in built.items()))
st.markdown(
    "Start with the **Generator** (a seed or a real photo, walked with sliders), the **Map** (deciles, photos and their "
    "inversions), **Metrics** (Table 1 and the comparisons), the **Walk matrix**, or invert **Your photo**."
)
headline = state.json_record(str(artifacts.headline))
problems = check_headline(headline) if headline else []
if problems:
    st.warning(
        f"`{artifacts.headline}` does not follow the headline format, so its figures are not shown: "
        + "; ".join(problems[:3])
        + ("…" if len(problems) > 3 else "")
        + ". Rebuild it with `thisineq pipeline --only headline`."
    )
elif headline:
    st.subheader("Headline figures")
    st.dataframe(
        tables.headline_display(headline),
        hide_index=True,
        width="stretch",
        column_config={
            "value": st.column_config.NumberColumn("value", format="%.3g"),
            "interval": "95% interval",
            "verdict": "against the target",
        },
    )
    st.caption(
        "Read from this set's own results by the pipeline's last step (`headline.json`): the GAN's quality where no "
        "discriminator looks, inversion quality, Table 1, walk visibility, the known-answer benchmark, the image side and "
        "the pipeline's time. The verdict judges the value; the 95% interval, where the source has one, resamples the "
        "photos by LSOA and says how far another draw could move it."
    )
