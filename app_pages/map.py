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
perception = state.csv_table(str(page.artifacts.perception / "perception_lsoa.csv"))
ranking = state.csv_table(str(page.artifacts.perception / "ranking.csv"))
questions = [str(q) for q in ranking["question"]] if perception is not None and ranking is not None else []
question = st.sidebar.selectbox(
    "Perception layer",
    ["", *questions],
    key=state.MAP_PERCEPTION,
    format_func=lambda q: f"which looks {q}?" if q else "none",
    disabled=not questions,
    help="the crowd-trained ranker's score of each area's photos, beside the deciles"
    if questions
    else "no perception scores in this artifact set: `thisineq pipeline --only crowd perception` builds them",
)
geojson = state.web_geojson(root)
view = pdk.ViewState(**maps.initial_view(photos, geojson))
layers = [maps.choropleth_layer(maps.coloured_geojson(geojson, lsoas[f"{domain_key}_decile"]), outlined=outlined)]
if show_photos:
    layers.append(maps.photo_layer(maps.photo_points(photos, domain_key)))
deck = maps.CompactDeck(layers=layers, initial_view_state=view, tooltip=maps.decile_tooltip(domain(domain_key).label))
where = st.columns(2) if question else [st]
event = where[0].pydeck_chart(deck, height=560, on_select="rerun", selection_mode="single-object", key=state.MAP_SELECTION)
if question:
    scores = perception.set_index("lsoa_code")[question]
    perceived = maps.CompactDeck(
        layers=[maps.choropleth_layer(maps.coloured_geojson(geojson, maps.score_deciles(scores)), outlined=outlined)],
        initial_view_state=view,
        tooltip=maps.decile_tooltip(f"'{question}' perception"),
    )
    where[1].pydeck_chart(perceived, height=560, key=state.MAP_PERCEPTION_DECK)
    rho = perception[question].corr(perception[f"{domain_key}_decile"], method="spearman")
    where[1].caption(
        f"Which looks {question}? The areas' mean perception score as deciles among the areas (1: looks least {question}). "
        f"Spearman ρ with the {domain(domain_key).label.lower()} decile over {len(perception):,} areas: {rho:.2f}. "
        + ("The votes are a simulated crowd's (synthetic)." if manifest.get("synthetic") else "")
    )
st.markdown(maps.legend_markdown(bool(manifest.get("synthetic"))), unsafe_allow_html=True)
st.caption("Click an area to list its photos, or a photo to open it below.")

click = maps.clicked(event)
if click is not None and click != st.session_state.get(state.MAP_CLICKED):  # a new click, acted on once
    st.session_state[state.MAP_CLICKED] = click
    kind, picked = click
    if kind == "photo" and picked in photos.index:
        st.session_state[state.MAP_PHOTO] = picked
        st.session_state[state.MAP_AREA] = photos.at[picked, "lsoa_code"]
    elif kind == "area":
        st.session_state[state.MAP_AREA] = picked

area = st.session_state.get(state.MAP_AREA)
in_area = photos[photos["lsoa_code"] == area] if area is not None else photos
if area is not None:
    name = lsoas.at[area, "lsoa_name"] if area in lsoas.index else area
    st.subheader(f"{name} ({area})")
    if in_area.empty:
        st.info("No photo was taken in this area.")
    else:
        listed = in_area[["split", f"{domain_key}_decile"]].rename(
            columns={f"{domain_key}_decile": f"{domain(domain_key).label} decile"}
        )
        st.dataframe(listed, height=min(35 * (len(listed) + 1) + 3, 250))
    if st.button("Every photo again", key=state.MAP_AREA + "_clear", help="list the photos of every area, not just this one"):
        st.session_state[state.MAP_AREA] = None
        st.rerun()
    if in_area.empty:
        in_area = photos

st.subheader("A photo")
inverted = {method: set(inv.photo_id) for method, inv in state.inversion_sets(artifact_root).items()}
choices = list(in_area.index)
state.keep_choice(state.MAP_PHOTO, choices, maps.default_photo(in_area, inverted))


def photo_label(photo_id: str) -> str:
    row = photos.loc[photo_id]
    return f"{photo_id} — {row['lsoa_name']}, {domain(domain_key).label.lower()} decile {row[f'{domain_key}_decile']}, {row['split']}"


photo_id = st.selectbox("Photo (type to search)", choices, key=state.MAP_PHOTO, format_func=photo_label)
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
