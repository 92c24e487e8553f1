"""Map: LSOA deciles of a chosen domain as a choropleth, the photos as points, one photo up close."""

import numpy as np
import pydeck as pdk
import streamlit as st
import torch

from thisineq.app import generation, maps, state
from thisineq.data.domains import domain

st.title("Map")
page = state.open_dataset_page()
if page is not None:
    root, manifest, photos, lsoas = page.root, page.manifest, page.photos, page.lsoas
    key = st.selectbox(
        "Domain",
        manifest["domains"],
        index=manifest["domains"].index("income"),
        format_func=lambda k: domain(k).label,
        key="map_domain",
    )
    show_photos = st.toggle("Show photo locations", value=True)
    outlined = st.toggle(
        "Outline each area",
        value=len(lsoas) <= maps.OUTLINE_LIMIT,
        key="map_outlines",
        help="thin borders between LSOAs; on a machine without a graphics card they make a city-wide map several times slower to draw",
    )
    geojson = state.web_geojson(root)
    boundaries = maps.coloured_geojson(geojson, lsoas[f"{key}_decile"])
    layers = [
        pdk.Layer(
            "GeoJsonLayer",
            boundaries,
            pickable=True,
            stroked=outlined,
            filled=True,
            get_fill_color="properties.fill",
            get_line_color=[255, 255, 255, 90],
            line_width_min_pixels=0.5,
        )
    ]
    if show_photos:
        points = photos.reset_index()[["photo_id", "lat", "lon", "lsoa_name", "lsoa_code"]].assign(
            decile=photos[f"{key}_decile"].to_numpy()
        )
        points = points.dropna(subset=["lat", "lon"])
        layers.append(
            pdk.Layer(
                "ScatterplotLayer",
                points,
                get_position=["lon", "lat"],
                get_radius=30,
                radius_min_pixels=2,
                get_fill_color=[20, 20, 20, 200],
                pickable=True,
                id="photos",
            )
        )
    tooltip = {"html": "<b>{lsoa_name}</b> {lsoa_code}<br/>" + f"{domain(key).label} decile: " + "{decile}"}
    st.pydeck_chart(
        maps.CompactDeck(
            layers=layers, initial_view_state=pdk.ViewState(**maps.initial_view(photos, geojson)), map_style=None, tooltip=tooltip
        ),
        height=560,
    )
    st.markdown(maps.legend_markdown(), unsafe_allow_html=True)

    st.subheader("A photo")
    photo_id = st.selectbox("Photo (type to search)", photos.index, key="map_photo")
    row = photos.loc[photo_id]
    left, right = st.columns([1, 2])
    left.image(state.photo(root, photo_id), caption=f"{photo_id} — {row['image']}", width=256)
    right.markdown(
        f"Photo `{photo_id}` in **{row['lsoa_name']}** (`{row['lsoa_code']}`), {row['lad_name']}; split: {row['split']}"
    )
    right.dataframe(
        row[[f"{k}_decile" for k in manifest["domains"]]]
        .rename(lambda c: domain(c.removesuffix("_decile")).label)
        .to_frame("decile"),
    )
    inverted = state.inversion_sets(str(page.artifacts.root))
    methods = [m for m, inv in inverted.items() if (inv.photo_id == photo_id).any()]
    if not inverted:
        right.caption("Inversions of this photo appear here once `thisineq pipeline` has inverted the photos.")
    elif not methods:
        right.caption("No method inverted this photo (the projector and the hybrid run on the held-out photos only).")
    else:
        generator = state.generator_model(str(page.artifacts.generator))
        st.markdown("**Its inversions** — each method's reconstruction by the generator, with its errors against the photo")
        columns = st.columns(len(methods) + 1)
        columns[0].image(generation.png_data_url(state.photo(root, photo_id)), caption="real photo", width="stretch")
        for column, method in zip(columns[1:], methods, strict=True):
            ws = torch.from_numpy(np.asarray(state.photo_ws(str(page.artifacts.root), method, photo_id), np.float32))[None]
            errors = inverted[method].errors.loc[photo_id]
            column.image(generation.png_data_url(generation.synthesise(generator, ws)), caption=method, width="stretch")
            column.caption(f"LPIPS {errors['lpips']:.3f} · PSNR {errors['psnr']:.1f} dB · SSIM {errors['ssim']:.2f}")
            if method != "hybrid":  # the generator walks the paper's three methods' codes
                state.page_link(
                    column, "app_pages/generator.py", "Walk it", ":material/tune:", {"photo": photo_id, "method": method}
                )
