"""Generator: an image from a seed, walked along the deprivation boundaries with sliders."""

import streamlit as st

from thisineq.app import generation, state
from thisineq.boundaries import conditional_normal
from thisineq.data.domains import domain
from thisineq.walk import Direction

st.title("Generator")
page = state.open_dataset_page()
if page is not None and not page.artifacts.generator.is_file():
    st.info("This artifact set has no generator yet: train one with `thisineq train gan` (see the README).")
elif page is not None:
    generator = state.generator_model(str(page.artifacts.generator))
    normals = state.boundary_normals(str(page.artifacts.root / "boundaries" / "normals.npz"))
    params = st.query_params
    st.session_state.setdefault(state.SEED, int(params.get("seed", 0)))
    st.session_state.setdefault(state.PSI, float(params.get("psi", 0.8)))
    methods = sorted({k.split("/")[0] for k in normals}) or ["—"]
    st.session_state.setdefault(state.METHOD, params.get("method", methods[0]) if params.get("method") in methods else methods[0])

    with st.sidebar:
        st.number_input("Seed", min_value=0, max_value=2**31 - 1, step=1, key=state.SEED)
        st.slider("Truncation ψ", 0.0, 1.0, step=0.05, key=state.PSI, help="towards the average image at 0")
        st.selectbox("Boundaries from inversion method", methods, key=state.METHOD, disabled=not normals)
        st.toggle("Conditional boundaries", key=state.CONDITIONAL, help="each domain's normal made orthogonal to the others'")

    directions = generation.directions_from(normals, st.session_state[state.METHOD]) if normals else {}
    if st.session_state.get(state.CONDITIONAL) and len(directions) > 1:
        directions = {
            d: Direction(d, conditional_normal(v.normal, [o.normal for k, o in directions.items() if k != d]), v.sigma)
            for d, v in directions.items()
        }
    if not directions:
        st.info("No deprivation boundaries in this artifact set yet: the sliders appear once `thisineq pipeline` has built them.")

    @st.fragment
    def walk() -> None:
        ws = generation.seed_ws(generator, st.session_state[state.SEED], st.session_state[state.PSI])
        moves = []
        for name, direction in directions.items():
            key = state.slider_key(name)
            st.session_state.setdefault(key, float(params.get(name, 0.0)))
            alpha = st.slider(f"{domain(name).label}: deprived ← → privileged", -3.0, 3.0, step=0.25, key=key, format="%+.2fσ")
            moves.append((direction, alpha))
        left, right = st.columns(2)
        left.image(generation.render_ws(generator, ws), caption="original", width="stretch")
        right.image(generation.render_ws(generator, ws, moves), caption="edited", width="stretch")
        st.query_params.update(
            {"seed": st.session_state[state.SEED], "psi": st.session_state[state.PSI], "method": st.session_state[state.METHOD],
             **{name: alpha for (direction, alpha), name in zip(moves, directions)}}
        )  # fmt: skip

    walk()
