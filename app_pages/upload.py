"""Your photo: upload → check → crop → invert → walk along the boundaries → download.

The photo stays in this browser session's memory: it is never written to disk, and no other
visitor can see it.
"""

import streamlit as st

from thisineq.app import state, upload, widgets
from thisineq.data.photos import MAX_UPLOAD_BYTES
from thisineq.invert import methods

st.title("Invert your photo")
page = state.open_generator_page()
models = state.models_for(page.artifacts)
normals = page.normals
size = models.generator.config.size
st.caption(
    f"Your photo is cropped to a square (you choose which) and resized to {size}×{size} px, the generator's size. It stays in this "
    "session's memory only — never written to disk, never shown to anyone else. The generator learned "
    + ("a synthetic city" if page.manifest.get("synthetic") else "the dataset's photos")
    + ": expect its version of your street."
)
uploaded = st.file_uploader(
    f"A street-level photo (JPEG, PNG, WebP, …; up to {MAX_UPLOAD_BYTES // 2**20} MB)",
    key=state.UPLOAD_FILE,
    # The app checks the type and size itself and says what is wrong in words; the browser's own refusal is a
    # chip with the reason on hover, invisible on a touch screen. This bound only keeps huge files off the server.
    max_upload_size=4 * MAX_UPLOAD_BYTES // 2**20,
)
if uploaded is None:
    st.session_state.pop(state.UPLOAD_CURRENT, None)
    st.stop()
current = upload.checked_upload(uploaded, size)
if current is None:
    st.stop()  # the reason is on screen
available = models.available()
if not available:
    st.warning(
        "No inversion method is available: train the encoders (`thisineq pipeline`) or convert the LPIPS weights (`make test` does)."
    )
    st.stop()

photo = upload.chosen_crop(current["upload"], size)
method = st.radio(
    "Inversion method",
    available,
    horizontal=True,
    key=state.UPLOAD_METHOD,
    format_func=widgets.method_label,
    help=widgets.methods_help(available),
)
ws = upload.inverted_ws(photo, method, models, st.container(), upload.recorded_prior(page.artifacts.inversion("projector")))
if ws is None:
    st.stop()  # an optimiser waits for its button or its job
record = state.json_record(str(page.artifacts.boundaries_record))
artifact_root = str(page.artifacts.root)
reader = state.image_reader(artifact_root)
support = state.support(artifact_root, methods.method(method).walks)
upload.walk_and_download(
    photo,
    method,
    ws,
    models,
    normals,
    (page.photos, page.inversions, record),
    reader,
    support,
    synthetic=bool(page.manifest.get("synthetic")),
)
