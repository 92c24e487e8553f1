"""Walk-matrix builder: images (seeds or inverted photos) × domains × steps, as a labelled grid to download."""

import numpy as np
import streamlit as st

from thisineq import provenance
from thisineq.app import charts, exports, generation, readings, state, widgets
from thisineq.app import support as support_ui
from thisineq.data.domains import domain
from thisineq.invert import methods
from thisineq.latent import figures
from thisineq.latent.normals import FIT_LABELS
from thisineq.latent.walk import walk_grid, walk_tiles

MAX_PHOTOS, MAX_SEEDS = 8, 8  # per grid: more rows would not be readable

st.title("Walk matrix")
page = state.open_generator_page()
artifact_root = str(page.artifacts.root)
generator, normals, inverted = page.generator, page.normals, page.inversions
if not normals.methods():
    st.info("No deprivation boundaries yet: `thisineq pipeline` builds them.")
    st.stop()

left, right = st.columns(2)
method = widgets.method_selectbox(
    "Inversion method (boundaries and photo codes)", normals.methods(), key=state.WALKS_METHOD, where=left
)
fit, walk_kind = widgets.boundary_choice(normals, method, state.WALKS_FIT, state.WALKS_WALK, left)
directions = normals.directions(method, fit=fit, walk=walk_kind) if fit else {}
chosen = left.multiselect(
    "Domains (rows)", list(directions), default=list(directions), key=state.WALKS_DOMAINS, format_func=lambda k: domain(k).label
)
photo_ids = [str(p) for p in inverted[method].photo_id] if method in inverted else []
photos = right.multiselect("Inverted photos", photo_ids, default=photo_ids[:2], key=state.WALKS_PHOTOS, max_selections=MAX_PHOTOS)
seed_text = right.text_input("Seeds (comma-separated)", "0", key=state.WALKS_SEEDS)
psi = right.slider("Truncation ψ for seeds", 0.0, 1.0, 0.8, 0.05, key=state.WALKS_PSI)
n_steps = st.slider("Steps (columns)", 3, 11, 7, step=2, key=state.WALKS_STEPS)
reach = st.slider("Range (± σ)", 0.5, 4.0, 3.0, 0.5, key=state.WALKS_RANGE)
num_ws = generator.num_ws
first, last = st.slider(
    "Layers edited",
    1,
    num_ws,
    (1, num_ws),
    key=state.WALKS_LAYERS,
    help=f"which of the generator's {num_ws} style inputs each step moves: the first set layout and shape, the last colour and texture",
)
layers = None if (first, last) == (1, num_ws) else (first - 1, last)
try:
    seeds = generation.parse_seeds(seed_text)
except ValueError as error:
    st.error(f"Seeds: {error}.")
    seeds = []
if len(seeds) > MAX_SEEDS:
    st.warning(f"{len(seeds)} seeds given: the first {MAX_SEEDS} are walked.")
sources = {f"photo {p}": generation.ws_tensor(state.photo_ws(artifact_root, method, p))[0] for p in photos}
sources |= {f"seed {seed}": generation.seed_ws(generator, seed, psi)[0] for seed in seeds[:MAX_SEEDS]}
if not sources or not chosen:
    st.info("Pick at least one photo or seed, and one domain.")
    st.stop()

steps = [float(s) for s in np.linspace(-reach, reach, n_steps)]
grid, latents = walk_grid(generator, sources, [directions[d] for d in chosen], steps, layers)
where = "every layer" if layers is None else f"layers {first}–{last} of {num_ws}"
fitted = f"boundaries fitted in {FIT_LABELS[fit]}, walked {widgets.WALK_LABELS[walk_kind]}"
st.image(
    grid,
    caption=f"rows: source · domain (deprived ← → privileged); columns: steps in σ, the spread of the generator's W along the direction walked; {where} moved; {fitted}",
)
support = state.support(artifact_root, methods.method(method).walks if method else None)
if support is not None:
    marks = support_ui.grid_marks(support, latents, list(sources), chosen, steps, generator)
    st.dataframe(marks, width="stretch", key=state.WALKS_BANDS)
    unsupported = int((marks == support_ui.BAND_MARKS["unsupported"]).to_numpy().sum())
    st.caption(
        f"Support of each cell: ✓ typical, ! unusual, ✗ unsupported ({unsupported} of {marks.size} cells) — how far its code "
        "lies from both the generator's W and the inverted photos' codes, calibrated on held-out photos."
    )
reader = state.image_reader(artifact_root)
if (
    reader is not None
    and reader.domains
    and st.toggle(
        "Read the walks with the image models",
        value=True,
        key=state.WALKS_READ,
        help="the decile predictor, which never saw the latent space, reads every image of the grid",
    )
):
    grid_readings = readings.read_latent_grid(reader, generator, latents, list(sources), chosen, steps)
    curves = readings.own_domain_curves(grid_readings)
    st.altair_chart(charts.walk_readings(curves, "What the decile predictor reads along each walk"), width="stretch")
    st.caption(
        "Each walked domain's own predicted decile (the expected decile of the image, 1 most deprived) at every step. "
        "A walk towards privilege should raise it; `scripts/bench_walk_readings.py` counts how often it does over many photos."
    )
made = provenance.record(
    image="walk matrix",
    artifact_set=page.artifacts.name,
    files=state.file_hashes(exports.generator_files(page.artifacts, method, from_photo=bool(photos))),
    view={
        "method": method,
        "fit": fit,
        "walk": walk_kind,
        "domains": ",".join(chosen),
        "photos": ",".join(photos),
        "seeds": ",".join(str(s) for s in seeds[:MAX_SEEDS]),
        "psi": psi,
        "steps": ",".join(f"{s:g}" for s in steps),
        "layers": f"{first}-{last}",
    },
    band=None,
    synthetic=bool(page.manifest.get("synthetic")),
)
left, right = st.columns(2)
left.download_button(
    "Download the grid (PNG)",
    provenance.png_bytes(grid, made),
    file_name="walk-matrix.png",
    mime="image/png",
    key=state.WALKS_DOWNLOAD_PNG,
)
right.download_button(
    "Download the latents (.npy)",
    generation.npy_bytes(latents),
    file_name="walk-matrix-latents.npy",
    mime="application/octet-stream",
    help=f"float32 array (sources, domains, steps, num_ws, style_dim) = {latents.shape}",
    key=state.WALKS_DOWNLOAD_LATENTS,
)
st.markdown("**For a paper** — labelled axes, each image pixel for pixel, the provenance inside the file")
rows = [f"{s} · {domain(d).label}" if len(sources) > 1 else domain(d).label for s in sources for d in chosen]
widgets.publication_downloads(
    lambda: figures.walk_matrix_figure(
        walk_tiles(generator, latents),
        rows,
        steps,
        f"What the model associates with deprivation — {widgets.method_label(method)} boundaries",
        "synthetic city: no real place" if page.manifest.get("synthetic") else None,
    ),
    "walk-matrix",
    made,
    key=state.WALKS_PUBLICATION,
)
