"""Generator: an image from a seed or a real photo's inversion, walked along the deprivation boundaries with sliders."""

import numpy as np
import streamlit as st
import torch

from thisineq.app import generation, state
from thisineq.data.domains import domain

st.title("Generator")
page = state.open_generator_page()
if page is not None:
    artifact_root = str(page.artifacts.root)
    generator = state.generator_model(str(page.artifacts.generator))
    normals = state.boundary_normals(str(page.artifacts.normals))
    inverted = state.inversion_sets(artifact_root)
    params = st.query_params
    methods = normals.methods() or [m for m in inverted if m != "hybrid"] or ["—"]
    st.session_state.setdefault(state.START, "photo" if params.get("photo") and inverted else "seed")
    st.session_state.setdefault(state.SEED, generation.parse_number(params.get("seed"), 0, 0, 2**31 - 1, whole=True))
    st.session_state.setdefault(state.PSI, generation.parse_number(params.get("psi"), 0.8, 0.0, 1.0))
    st.session_state.setdefault(state.METHOD, params.get("method") if params.get("method") in methods else methods[0])
    st.session_state.setdefault(state.CONDITIONAL, params.get("conditional") == "1")
    st.session_state.setdefault(state.PRINCIPAL, params.get("principal") == "1")

    with st.sidebar:
        st.radio(
            "Start from",
            ["seed", "photo"],
            key=state.START,
            horizontal=True,
            disabled=not inverted,
            format_func={"seed": "a random seed", "photo": "a real photo"}.get,
        )
        st.selectbox(
            "Inversion method",
            methods,
            key=state.METHOD,
            disabled=methods == ["—"],
            help="whose latents the boundaries were fitted on (and, from a photo, how it was inverted)",
        )
        method = st.session_state[state.METHOD]
        if st.session_state[state.START] == "seed":
            st.number_input("Seed", min_value=0, max_value=2**31 - 1, step=1, key=state.SEED)
            st.slider("Truncation ψ", 0.0, 1.0, step=0.05, key=state.PSI, help="towards the average image at 0")
        else:
            choices = [str(p) for p in inverted[method].photo_id] if method in inverted else []
            if st.session_state.get(state.PHOTO) not in choices:
                wanted = params.get("photo")
                st.session_state[state.PHOTO] = wanted if wanted in choices else (choices[0] if choices else None)
            st.selectbox("Photo (type to search)", choices, key=state.PHOTO, help=f"the photos that {method} inverted")
        st.toggle("Conditional boundaries", key=state.CONDITIONAL, help="each domain's normal made orthogonal to the others'")
        principal = state.visible_walks_toggle(normals, method, state.PRINCIPAL)

    directions = normals.directions(method, conditional=st.session_state[state.CONDITIONAL], principal=principal)
    if not directions:
        st.info("No deprivation boundaries in this artifact set yet: the sliders appear once `thisineq pipeline` has built them.")

    photo_id, ws = None, None
    if st.session_state[state.START] == "photo" and st.session_state.get(state.PHOTO):
        photo_id = st.session_state[state.PHOTO]
        found = state.photo_ws(artifact_root, method, photo_id)
        ws = torch.from_numpy(np.asarray(found, np.float32))[None] if found is not None else None
    if ws is None:
        photo_id = None
        ws = generation.seed_ws(generator, st.session_state[state.SEED], st.session_state[state.PSI])

    original = generation.png_data_url(generation.synthesise(generator, ws))

    @st.fragment
    def walk() -> None:
        moves = []
        for name, direction in directions.items():
            key = state.slider_key(name)
            if key not in st.session_state:
                st.session_state[key] = (
                    round(generation.parse_number(params.get(name), 0.0, -3.0, 3.0) * 4) / 4
                )  # the slider's step
            alpha = st.slider(f"{domain(name).label}: deprived ← → privileged", -3.0, 3.0, step=0.25, key=key, format="%+.2fσ")
            moves.append((direction, alpha))
        columns = st.columns(3 if photo_id else 2)
        if photo_id:
            columns[0].image(
                generation.png_data_url(state.photo(page.root, photo_id)), caption=f"real photo {photo_id}", width="stretch"
            )
        columns[-2].image(original, caption="inversion" if photo_id else "original", width="stretch")
        edited = generation.synthesise(generator, ws, moves)
        columns[-1].image(generation.png_data_url(edited), caption="edited", width="stretch")
        st.download_button(
            "Download the edited image (PNG)",
            lambda: generation.png_bytes(generation.upscale(edited)),
            file_name="thisineq-edit.png",
            mime="image/png",
            on_click="ignore",
        )
        source = {"photo": photo_id} if photo_id else {"seed": st.session_state[state.SEED], "psi": st.session_state[state.PSI]}
        if page.artifacts.name != "demo":
            source["set"] = page.artifacts.name
        st.query_params.from_dict(
            {
                **source,
                "method": method,
                "conditional": int(st.session_state[state.CONDITIONAL]),
                "principal": int(principal),
                **{name: alpha for (direction, alpha), name in zip(moves, directions, strict=True)},
            }
        )

    walk()
