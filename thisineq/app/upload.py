"""The steps of the "Your photo" page: check an upload, invert it (an optimiser only on request), walk and download it.

The photo and its latents live in this browser session's state only: nothing is written to disk.
"""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st

from thisineq.app import generation, state, widgets
from thisineq.data.photos import PhotoReadError, load_photo_bytes
from thisineq.invert import methods
from thisineq.invert.api import InversionModels, invert_image
from thisineq.latent.normals import BoundarySet

OPTIMISATION_STEPS = (100, 250, 500, 1000)


def checked_upload(uploaded, size: int) -> dict | None:
    """The upload decoded to a square RGB crop, {"digest", "name", "photo"} (decoded once per file); None with the reason shown."""
    data = uploaded.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    current = st.session_state.get(state.UPLOAD_CURRENT)
    if current is not None and current["digest"] == digest:
        return current
    st.session_state.pop(state.UPLOAD_CURRENT, None)
    st.session_state[state.UPLOAD_RESULTS] = {}
    try:
        photo = load_photo_bytes(data, size, name=uploaded.name)
    except PhotoReadError as error:
        st.error(f"**{uploaded.name}** cannot be used: {error.reason}.", icon=":material/broken_image:")
        return None
    st.session_state[state.UPLOAD_CURRENT] = {"digest": digest, "name": uploaded.name, "photo": photo}
    return st.session_state[state.UPLOAD_CURRENT]


def default_steps(method: str) -> int:
    """An optimiser's default steps: fewer where it refines an encoder's code than where it starts from the average."""
    return OPTIMISATION_STEPS[0] if methods.method(method).encoder else OPTIMISATION_STEPS[2]


def step_budget(method: str, steps: int) -> dict[str, int]:
    """`invert_image`'s keyword for an optimiser's steps: the hybrid's refinement or the projector's own run."""
    return {"hybrid_steps": steps} if methods.method(method).encoder else {"projector_steps": steps}


def inverted_ws(photo: np.ndarray, method: str, models: InversionModels, where) -> np.ndarray | None:
    """The photo's ws (num_ws, D) by `method`, kept in the session: an encoder runs at once, an optimiser when the
    visitor presses its button (in `where`, with a progress bar and a Stop button); None until then."""
    results = st.session_state.setdefault(state.UPLOAD_RESULTS, {})
    if method in results:
        return results[method]
    if methods.method(method).optimises:
        ws = optimised_ws(photo, method, models, where)
    else:
        ws = invert_image(photo, method, models).ws[0].numpy()
    if ws is not None:
        results[method] = ws
    return ws


def optimised_ws(photo: np.ndarray, method: str, models: InversionModels, where) -> np.ndarray | None:
    """An optimiser's ws once its button is pressed (progress shown; Stop reruns the page and discards it); else None."""
    steps = where.select_slider("Optimisation steps", OPTIMISATION_STEPS, value=default_steps(method), key=state.UPLOAD_STEPS)
    if not where.button(f"Invert with the {widgets.method_label(method)}", type="primary", key=state.UPLOAD_START):
        where.info("Press the button to start; a Stop button appears while it runs.")
        return None
    bar = where.progress(0.0, text="starting…")
    where.button("Stop", key=state.UPLOAD_STOP, help="stops the optimisation (its partial result is discarded)")

    def report(step: int, total: int, loss) -> bool:
        bar.progress(step / total, text=f"step {step} of {total} · loss {float(loss.mean()):.3f}")
        return True

    ws = invert_image(photo, method, models, progress=report, **step_budget(method, steps)).ws[0].numpy()
    bar.empty()
    return ws


def walk_and_download(photo: np.ndarray, method: str, ws: np.ndarray, models: InversionModels, normals: BoundarySet) -> None:
    """The boundary toggles and sliders, the photo beside its inversion and the edit, and the two downloads."""
    fit, walk = widgets.boundary_choice(normals, method, state.UPLOAD_FIT, state.UPLOAD_WALK)
    directions = normals.directions(method, fit=fit, walk=walk) if fit else {}
    moves = widgets.domain_sliders(directions, state.UPLOAD_SLIDERS)
    if not directions:
        st.info("No boundaries in this artifact set yet: only the inversion is shown.")
    latent = generation.ws_tensor(ws)
    edited = generation.synthesise(models.generator, latent, moves)
    columns = st.columns(3)
    columns[0].image(generation.png_data_url(photo), caption="your photo", width="stretch")
    reconstruction = generation.synthesise(models.generator, latent)
    columns[1].image(
        generation.png_data_url(reconstruction), caption=f"inversion ({widgets.method_label(method)})", width="stretch"
    )
    columns[2].image(generation.png_data_url(edited), caption="edited", width="stretch")
    left, right = st.columns(2)
    widgets.download_png(edited, "my-street-edited.png", where=left)
    right.download_button(
        "Download the latent (.npy)",
        generation.npy_bytes(ws),
        file_name=f"my-street-{method}.npy",
        mime="application/octet-stream",
        help="ws (num_ws, style_dim), float32",
    )
