"""Kiosk: a full-screen generator for an exhibition stand — large touch sliders, no sidebar, and a slow
drift through images and walks whenever nobody has touched it for a while."""

import time
from pathlib import Path

import streamlit as st

from thisineq.app import generation, state
from thisineq.artifacts import ArtifactSet, demo_set
from thisineq.data.domains import domain

IDLE_SECONDS = 20.0  # untouched this long, the kiosk starts drifting
TICK_SECONDS = 1.0
TOUCHED, TICK, SEED = "kiosk_touched", "kiosk_tick", "kiosk_seed"

st.markdown(
    """
<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], header, [data-testid="stToolbar"] {display: none !important;}
.block-container {padding-top: 1rem; max-width: 1400px;}
[data-testid="stSlider"] div[style*="translate(-50%, -50%)"] {width: 2.2rem; height: 2.2rem;}
[data-testid="stSlider"] label p {font-size: 1.4rem;}
[data-testid="stSlider"] > div > div {padding: 0.6rem 0;}
.stButton button {font-size: 1.3rem; padding: 0.8rem 1.6rem;}
img[src^="data:image/png"] {image-rendering: pixelated;}
</style>
""",
    unsafe_allow_html=True,
)
state.use_explicit_navigation()
chosen = st.session_state.get(state.ARTIFACT_SET)  # the set picked on another page, else the demo
artifacts = ArtifactSet(Path(chosen)) if chosen else demo_set()
if not artifacts.generator.is_file():
    st.info(f"No generator in the {artifacts.name} artifact set: the kiosk needs one (see the README).")
else:
    manifest, _, _ = state.dataset_tables(str(artifacts.dataset))
    generator = state.generator_model(str(artifacts.generator))
    normals = state.boundary_normals(str(artifacts.normals))
    methods = normals.methods()
    method = "e4e" if "e4e" in methods else next(iter(methods), None)
    # An exhibition stand shows the walks one can see: the boundaries on W's principal axes where the set has them.
    directions = normals.directions(method, principal=normals.has_principal(method)) if method else {}
    st.session_state.setdefault(TOUCHED, time.time())
    st.session_state.setdefault(TICK, 0)
    st.session_state.setdefault(SEED, 0)

    def touched() -> None:
        """A visitor took over: keep the image the drift had reached, and restart the drift from there later."""
        moved_on, _ = generation.drift(st.session_state[TICK], list(directions))
        st.session_state[SEED] += moved_on
        st.session_state[TICK] = 0
        st.session_state[TOUCHED] = time.time()

    def next_image() -> None:
        touched()
        st.session_state[SEED] += 1
        for name in directions:
            st.session_state[state.slider_key(name) + "_kiosk"] = 0.0

    @st.fragment(run_every=TICK_SECONDS)
    def stand() -> None:
        idle = time.time() - st.session_state[TOUCHED] > IDLE_SECONDS
        seed = st.session_state[SEED]
        if idle:  # drift: move the sliders before they are drawn
            st.session_state[TICK] += 1
            moved_on, values = generation.drift(st.session_state[TICK], list(directions))
            seed = st.session_state[SEED] + moved_on
            for name, value in values.items():
                st.session_state[state.slider_key(name) + "_kiosk"] = value
        picture, controls = st.columns([3, 2], vertical_alignment="center")
        with controls:
            st.markdown("### What does this model associate with deprivation?")
            if manifest.get("synthetic"):
                st.caption("Synthetic data: a generated city, not a real place.")
            moves = []
            for name, direction in directions.items():
                key = state.slider_key(name) + "_kiosk"
                st.session_state.setdefault(key, 0.0)
                alpha = st.slider(
                    f"{domain(name).label}",
                    -3.0,
                    3.0,
                    step=0.25,
                    key=key,
                    format="%+.2fσ",
                    on_change=touched,
                    help="left: deprived · right: privileged",
                )
                moves.append((direction, alpha))
            st.button("New image", on_click=next_image, icon=":material/casino:", key="kiosk_next")
            st.caption("left: deprived · right: privileged" + (" · drifting — touch a slider to take over" if idle else ""))
        ws = generation.seed_ws(generator, seed, 0.8)
        picture.image(generation.png_data_url(generation.synthesise(generator, ws, moves)), width="stretch")

    stand()
