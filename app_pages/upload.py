"""Your photo: upload → check → preview of the crop → invert → walk along the boundaries → download.

The photo stays in this browser session's memory: it is never written to disk, and no other
visitor can see it.
"""

import hashlib

import numpy as np
import streamlit as st
import torch

from thisineq.app import generation, state
from thisineq.data.domains import domain
from thisineq.data.photos import MAX_UPLOAD_BYTES, PhotoReadError, load_photo_bytes
from thisineq.invert.api import invert_image

UPLOAD = "upload_current"  # {"digest", "name", "photo"} of the checked upload
RESULTS = "upload_results"  # {method: ws (num_ws, D)} for the current upload
PROJECTOR_STEPS = (100, 250, 500, 1000)


def check(uploaded, size: int) -> dict | None:
    """The upload decoded to a square RGB crop (once per file), or None with the reason shown."""
    data = uploaded.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    current = st.session_state.get(UPLOAD)
    if current is not None and current["digest"] == digest:
        return current
    st.session_state.pop(UPLOAD, None)
    st.session_state[RESULTS] = {}
    try:
        photo = load_photo_bytes(data, size, name=uploaded.name)
    except PhotoReadError as error:
        st.error(f"**{uploaded.name}** cannot be used: {error.reason}.", icon=":material/broken_image:")
        return None
    st.session_state[UPLOAD] = {"digest": digest, "name": uploaded.name, "photo": photo}
    return st.session_state[UPLOAD]


st.title("Invert your photo")
page = state.open_generator_page()
if page is not None:
    models = state.models_for(page.artifacts)
    normals = state.boundary_normals(str(page.artifacts.normals))
    size = models.generator.config.size
    st.caption(
        f"Your photo is centre-cropped to a square and resized to {size}×{size} px, the generator's size. It stays in this "
        "session's memory only — never written to disk, never shown to anyone else. The generator learned "
        + ("a synthetic city" if page.manifest.get("synthetic") else "the dataset's photos")
        + ": expect its version of your street."
    )
    uploaded = st.file_uploader(
        "A street-level photo (JPEG, PNG or WebP)",
        type=["jpg", "jpeg", "png", "webp"],
        key="upload_file",
        max_upload_size=MAX_UPLOAD_BYTES // 2**20,
    )
    current = check(uploaded, size) if uploaded is not None else None
    if uploaded is None:
        st.session_state.pop(UPLOAD, None)
    if current is not None:
        available = models.available()
        if not available:
            st.warning(
                "No inversion method is available: train the encoders (`thisineq pipeline`) or convert the LPIPS weights (`make test` does)."
            )
        else:
            left, right = st.columns([1, 2])
            left.image(generation.upscale(current["photo"]), caption=f"the crop of {current['name']}", width="stretch")
            method = right.radio(
                "Inversion method",
                available,
                horizontal=True,
                key="upload_method",
                help="e4e and ReStyle: instant; the projector optimises for a while; the hybrid refines e4e briefly",
            )
            results = st.session_state.setdefault(RESULTS, {})
            if method in ("e4e", "restyle") and method not in results:
                results[method] = invert_image(current["photo"], method, models).ws[0].numpy()
            elif method in ("projector", "hybrid") and method not in results:
                steps = right.select_slider(
                    "Optimisation steps",
                    PROJECTOR_STEPS,
                    value=PROJECTOR_STEPS[2] if method == "projector" else 100,
                    key="upload_steps",
                )
                if right.button(f"Invert with the {method}", type="primary", key="upload_start"):
                    bar = right.progress(0.0, text="starting…")
                    right.button("Stop", key="upload_stop", help="stops the optimisation (its partial result is discarded)")

                    def report(step: int, total: int, loss) -> bool:
                        bar.progress(step / total, text=f"step {step} of {total} · loss {float(loss.mean()):.3f}")
                        return True

                    budget = {"projector_steps": steps} if method == "projector" else {"hybrid_steps": steps}
                    results[method] = invert_image(current["photo"], method, models, progress=report, **budget).ws[0].numpy()
                    bar.empty()
                else:
                    right.info("Press the button to start; a Stop button appears while it runs.")
            if method in results:
                ws = torch.from_numpy(np.asarray(results[method], np.float32))[None]
                conditional = st.toggle("Conditional boundaries", key="upload_conditional")
                principal = state.visible_walks_toggle(normals, method, "upload_principal")
                directions = normals.directions(method, conditional=conditional, principal=principal)
                moves = []
                for name, direction in directions.items():
                    alpha = st.slider(
                        f"{domain(name).label}: deprived ← → privileged",
                        -3.0,
                        3.0,
                        0.0,
                        0.25,
                        key=f"upload_slider_{name}",
                        format="%+.2fσ",
                    )
                    moves.append((direction, alpha))
                if not directions:
                    st.info("No boundaries in this artifact set yet: only the inversion is shown.")
                columns = st.columns(3)
                columns[0].image(generation.png_data_url(current["photo"]), caption="your photo", width="stretch")
                columns[1].image(
                    generation.png_data_url(generation.synthesise(models.generator, ws)),
                    caption=f"inversion ({method})",
                    width="stretch",
                )
                edited = generation.synthesise(models.generator, ws, moves)
                columns[2].image(generation.png_data_url(edited), caption="edited", width="stretch")
                left, right = st.columns(2)
                left.download_button(
                    "Download the edited image (PNG)",
                    lambda: generation.png_bytes(generation.upscale(edited)),
                    file_name="my-street-edited.png",
                    mime="image/png",
                    on_click="ignore",
                )
                right.download_button(
                    "Download the latent (.npy)",
                    generation.npy_bytes(results[method]),
                    file_name=f"my-street-{method}.npy",
                    mime="application/octet-stream",
                    help="ws (num_ws, style_dim), float32",
                )
