"""Kiosk: a full-screen generator for an exhibition stand — large touch sliders, no sidebar, and a slow
drift through images and walks whenever nobody has touched it for a while."""

import time

import streamlit as st

from thisineq.app import generation, state, widgets
from thisineq.app import support as support_ui
from thisineq.images import to_uint8
from thisineq.invert import methods

IDLE_SECONDS = 20.0  # untouched this long, the kiosk starts drifting
TICK_SECONDS = 1.0
PSI = 0.8  # the stand's truncation: typical images
KIOSK_CSS = """
<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], header, [data-testid="stToolbar"] {display: none !important;}
[data-testid="stMainBlockContainer"] {padding-top: 1rem; padding-bottom: 1rem; max-width: 1400px;}
[data-testid="stSlider"] div[style*="translate(-50%, -50%)"] {width: 2.2rem; height: 2.2rem;}
[data-testid="stSlider"] label p {font-size: 1.4rem;}
[data-testid="stSlider"] > div > div {padding: 0.6rem 0;}
.stButton button {font-size: 1.3rem; padding: 0.8rem 1.6rem;}
img[src^="data:image/png"] {image-rendering: pixelated;}
[data-testid="stMain"] [data-testid="stImage"] img {max-height: calc(100vh - 2.5rem); object-fit: contain;}
</style>
"""

st.markdown(KIOSK_CSS, unsafe_allow_html=True)
page = state.open_kiosk_page()
generator, normals = page.generator, page.normals
method = next((m for m in methods.NAMES if m in normals.methods()), None)  # the registry's first: e4e where fitted
# An exhibition stand shows the set's default boundaries (whitened W where fitted: walks one can see).
directions = normals.directions(method, fit=None) if method else {}
support = state.support(str(page.artifacts.root), methods.method(method).walks if method else None)
st.session_state.setdefault(state.KIOSK_TOUCHED, time.time())
st.session_state.setdefault(state.KIOSK_TICK, 0)
st.session_state.setdefault(state.KIOSK_SEED, 0)


def set_sliders(values: dict[str, float]) -> None:
    for name, value in values.items():
        st.session_state[state.slider_key(state.KIOSK_SLIDERS, name)] = value


def touched() -> None:
    """A visitor took over: keep the image the drift had reached, and restart the drift from there later."""
    moved_on, _ = generation.drift(st.session_state[state.KIOSK_TICK], list(directions))
    st.session_state[state.KIOSK_SEED] += moved_on
    st.session_state[state.KIOSK_TICK] = 0
    st.session_state[state.KIOSK_TOUCHED] = time.time()


def next_image() -> None:
    touched()
    st.session_state[state.KIOSK_SEED] += 1
    set_sliders(dict.fromkeys(directions, 0.0))


@st.fragment(run_every=TICK_SECONDS)
def stand() -> None:
    """The image and its sliders, redrawn every tick; untouched for a while, it drifts."""
    idle = time.time() - st.session_state[state.KIOSK_TOUCHED] > IDLE_SECONDS
    seed = st.session_state[state.KIOSK_SEED]
    if idle:  # drift: move the sliders before they are drawn, never into an edit the data does not support
        st.session_state[state.KIOSK_TICK] += 1
        moved_on, values = generation.drift(st.session_state[state.KIOSK_TICK], list(directions))
        seed += moved_on
        if support is not None:
            seed = support_ui.supported_seed(support, generator, seed, PSI)
            values = support_ui.supported_values(
                support, generation.seed_ws(generator, seed, PSI), directions, values, generator=generator
            )
        set_sliders(values)
    picture, controls = st.columns([3, 2], vertical_alignment="center")
    with controls:
        st.markdown("### What does this model associate with deprivation?")
        if page.manifest.get("synthetic"):
            st.caption("Synthetic data: a generated city, not a real place.")
        moves = widgets.domain_sliders(directions, state.KIOSK_SLIDERS, short_labels=True, on_change=touched)
        st.button("New image", on_click=next_image, icon=":material/casino:", key=state.KIOSK_NEXT)
        st.caption("left: deprived · right: privileged" + (" · drifting — touch a slider to take over" if idle else ""))
    if support is not None:
        seed = support_ui.supported_seed(support, generator, seed, PSI)
    ws = generation.seed_ws(generator, seed, PSI)
    rendered = generation.render(generator, ws, moves)
    picture.image(generation.png_data_url(to_uint8(rendered[0])), width="stretch")
    if support is not None:  # beside the sliders: under the picture it would push the stand past one screen
        band, reason = support_ui.band_of(support, ws, moves, image=rendered)
        support_ui.show_band(controls, band, reason)


stand()
