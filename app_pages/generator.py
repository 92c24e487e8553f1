"""Generator: an image from a seed or a real photo's inversion, walked along the deprivation boundaries with sliders."""

import streamlit as st

from thisineq import provenance
from thisineq.app import exports, generation, readings, state, widgets
from thisineq.app import support as support_ui
from thisineq.images import to_uint8
from thisineq.invert import methods

st.title("Generator")
page = state.open_generator_page()
artifact_root = str(page.artifacts.root)
generator, normals, inverted = page.generator, page.normals, page.inversions
params = st.query_params
walked = normals.methods() or [m for m in inverted if methods.method(m).bounded]
state.generator_from_url(params, walked, bool(inverted))

with st.sidebar:
    st.radio(
        "Start from",
        ["seed", "photo"],
        key=state.START,
        horizontal=True,
        disabled=not inverted,
        format_func={"seed": "a random seed", "photo": "a real photo"}.get,
    )
    method = widgets.method_selectbox(
        "Inversion method",
        walked,
        key=state.METHOD,
        disabled=not walked,
        help="whose latents the boundaries were fitted on (and, from a photo, how it was inverted)",
    )
    if st.session_state[state.START] == "seed":
        st.number_input("Seed", min_value=0, max_value=2**31 - 1, step=1, key=state.SEED)
        st.slider("Truncation ψ", 0.0, 1.0, step=0.05, key=state.PSI, help="towards the average image at 0")
    else:
        photo_ids = [str(p) for p in inverted[method].photo_id] if method in inverted else []
        state.keep_choice(state.PHOTO, photo_ids, params.get("photo"))
        st.selectbox("Photo (type to search)", photo_ids, key=state.PHOTO, help="the photos that the chosen method inverted")
    fit, walk_kind = widgets.boundary_choice(normals, method, state.FIT, state.WALK)
    st.file_uploader(
        "Open an exported image's view",
        type=["png", "json"],
        key=state.GENERATOR_PROVENANCE,
        on_change=state.open_provenance_file,
        help="a PNG downloaded here (or its provenance JSON): the page draws the same image again",
    )
    if st.session_state.get(state.GENERATOR_PROVENANCE_ERROR):
        st.error(st.session_state[state.GENERATOR_PROVENANCE_ERROR])

directions = normals.directions(method, fit=fit, walk=walk_kind) if fit else {}
if not directions:
    st.info("No deprivation boundaries in this artifact set yet: the sliders appear once `thisineq pipeline` has built them.")
record = state.json_record(str(page.artifacts.boundaries_record))
for reason in widgets.missing_boundaries(normals, method, fit, page.photos, inverted, record).values():
    st.caption(reason[0].upper() + reason[1:])

photo_id = st.session_state.get(state.PHOTO) if st.session_state[state.START] == "photo" else None
found = state.photo_ws(artifact_root, method, photo_id) if photo_id else None
if found is None:
    photo_id = None
    ws = generation.seed_ws(generator, st.session_state[state.SEED], st.session_state[state.PSI])
else:
    ws = generation.ws_tensor(found)
original_pixels = generation.synthesise(generator, ws)
original = generation.png_data_url(original_pixels)
reader = state.image_reader(artifact_root)
with st.sidebar:
    reading = st.toggle(
        "Read with the image models",
        value=reader is not None,
        key=state.GENERATOR_READ,
        disabled=reader is None,
        help="re-score every image with the decile predictor and perception ranker, which never saw the latent space"
        if reader is not None
        else "no image-side models in this artifact set: `thisineq pipeline --only predict crowd perception` builds them",
    )
before = readings.read_pixels(reader, [original_pixels]).iloc[0] if reading and reader is not None else None


@st.fragment
def walk() -> None:
    """The sliders and the images they change: rerun alone when a slider moves."""
    moves = widgets.domain_sliders(directions, state.GENERATOR_SLIDERS, initial=params)
    columns = st.columns(3 if photo_id else 2)
    if photo_id:
        real = state.photo(page.root, photo_id)
        columns[0].image(generation.png_data_url(real), caption=f"real photo {photo_id}", width="stretch")
    columns[-2].image(original, caption="inversion" if photo_id else "original", width="stretch")
    rendered = generation.render(generator, ws, moves)
    edited = to_uint8(rendered[0])
    columns[-1].image(generation.png_data_url(edited), caption="edited", width="stretch")
    support = state.support(artifact_root, methods.method(method).walks if method else None)
    band = None
    if support is not None:
        band, reason = support_ui.band_of(support, ws, moves, image=rendered)
        support_ui.show_band(columns[-1], band, reason)
    if before is not None:
        columns[-2].caption(readings.readings_line(reader, before))
        columns[-1].caption(readings.readings_line(reader, readings.read_pixels(reader, [edited]).iloc[0], before))
    source = {"photo": photo_id} if photo_id else {"seed": st.session_state[state.SEED], "psi": st.session_state[state.PSI]}
    if page.artifacts.name != "demo":
        source["set"] = page.artifacts.name
    if method:
        source["method"] = method
    boundaries = {"fit": fit, "walk": walk_kind} if fit else {}
    view = source | boundaries | generation.walk_params(moves)
    made = provenance.record(
        image="edited photo" if photo_id else "generated image",
        artifact_set=page.artifacts.name,
        files=state.file_hashes(exports.generator_files(page.artifacts, method, from_photo=bool(photo_id))),
        view=view,
        band=band,
        synthetic=bool(page.manifest.get("synthetic")),
    )
    left, right = st.columns(2)
    widgets.download_png(edited, "thisineq-edit.png", key=state.GENERATOR_DOWNLOAD, where=left, provenance=made)
    right.download_button(
        "Its provenance (JSON)",
        provenance.sidecar_bytes(made),
        file_name="thisineq-edit.json",
        mime="application/json",
        key=state.GENERATOR_SIDECAR,
        help="how the image was made; the PNG carries the same record inside it (`thisineq provenance FILE` prints it)",
    )
    st.query_params.from_dict(view)


walk()
