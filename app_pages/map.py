"""Map: LSOA deciles of a chosen domain as a choropleth, the photos as points, one photo up close."""

import pydeck as pdk
import streamlit as st

from thisineq.app import generation, maps, state, widgets
from thisineq.data.domains import domain
from thisineq.invert import methods

st.title("Map")
page = state.open_dataset_page()
root, manifest, photos, lsoas = page.root, page.manifest, page.photos, page.lsoas
artifact_root = str(page.artifacts.root)
domain_key = widgets.domain_selectbox(manifest["domains"], key=state.MAP_DOMAIN, index=manifest["domains"].index("income"))
show_photos = st.toggle("Show photo locations", value=True, key=state.MAP_POINTS)
outlined = st.toggle(
    "Outline each area",
    value=len(lsoas) <= maps.OUTLINE_LIMIT,
    key=state.MAP_OUTLINES,
    help="thin borders between LSOAs; on a machine without a graphics card they make a city-wide map several times slower to draw",
)
geojson = state.web_geojson(root)
layers = [maps.choropleth_layer(maps.coloured_geojson(geojson, lsoas[f"{domain_key}_decile"]), outlined=outlined)]
if show_photos:
    layers.append(maps.photo_layer(maps.photo_points(photos, domain_key)))
deck = maps.CompactDeck(
    layers=layers,
    initial_view_state=pdk.ViewState(**maps.initial_view(photos, geojson)),
    tooltip=maps.decile_tooltip(domain(domain_key).label),
)
st.pydeck_chart(deck, height=560)
st.markdown(maps.legend_markdown(), unsafe_allow_html=True)

st.subheader("A photo")
photo_id = st.selectbox("Photo (type to search)", photos.index, key=state.MAP_PHOTO)
row = photos.loc[photo_id]
left, right = st.columns([1, 2])
left.image(state.photo(root, photo_id), caption=f"{photo_id} — {row['image']}", width=256)
right.markdown(f"Photo `{photo_id}` in **{row['lsoa_name']}** (`{row['lsoa_code']}`), {row['lad_name']}; split: {row['split']}")
deciles = row[[f"{k}_decile" for k in manifest["domains"]]]
right.dataframe(deciles.rename(lambda c: domain(c.removesuffix("_decile")).label).to_frame("decile"))

inversions = state.inversions_of_photo(artifact_root, photo_id)
if not state.inversion_sets(artifact_root):
    right.caption("Inversions of this photo appear here once `thisineq pipeline` has inverted the photos.")
    st.stop()
if not inversions:
    right.caption("No method inverted this photo (the projector and the hybrid run on the held-out photos only).")
    st.stop()
generator = state.generator_model(str(page.artifacts.generator))
st.markdown("**Its inversions** — each method's reconstruction by the generator, with its errors against the photo")
columns = st.columns(len(inversions) + 1)
columns[0].image(generation.png_data_url(state.photo(root, photo_id)), caption="real photo", width="stretch")
for column, (method, inversion) in zip(columns[1:], inversions.items(), strict=True):
    reconstruction = generation.synthesise(generator, generation.ws_tensor(inversion.ws))
    column.image(generation.png_data_url(reconstruction), caption=widgets.method_label(method), width="stretch")
    errors = inversion.errors
    column.caption(f"LPIPS {errors['lpips']:.3f} · PSNR {errors['psnr']:.1f} dB · SSIM {errors['ssim']:.2f}")
    if methods.method(method).bounded:  # the generator page walks the codes of the methods with their own boundaries
        state.page_link(column, "app_pages/generator.py", "Walk it", ":material/tune:", {"photo": photo_id, "method": method})
