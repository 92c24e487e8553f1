"""Walk-matrix builder: images (seeds or inverted photos) × domains × steps, as a labelled grid to download."""

import numpy as np
import streamlit as st
import torch

from thisineq.app import generation, state
from thisineq.data.domains import domain
from thisineq.latent.walk import walk_grid


def parse_seeds(text: str) -> list[int]:
    """'1, 2 7' → [1, 2, 7]; anything that is not a whole number is reported, not guessed."""
    seeds = []
    for token in text.replace(",", " ").split():
        if not token.isdigit():
            raise ValueError(f"{token!r} is not a seed (a whole number ≥ 0)")
        seeds.append(int(token))
    return seeds


st.title("Walk matrix")
page = state.open_generator_page()
if page is not None:
    artifact_root = str(page.artifacts.root)
    generator = state.generator_model(str(page.artifacts.generator))
    normals = state.boundary_normals(str(page.artifacts.normals))
    inverted = state.inversion_sets(artifact_root)
    methods = normals.methods()
    if not methods:
        st.info("No deprivation boundaries yet: `thisineq pipeline` builds them.")
    else:
        left, right = st.columns(2)
        method = left.selectbox("Inversion method (boundaries and photo codes)", methods, key="walks_method")
        conditional = left.toggle("Conditional boundaries", key="walks_conditional")
        principal = state.visible_walks_toggle(normals, method, "walks_principal", left)
        directions = normals.directions(method, conditional=conditional, principal=principal)
        chosen = left.multiselect(
            "Domains (rows)",
            list(directions),
            default=list(directions),
            key="walks_domains",
            format_func=lambda k: domain(k).label,
        )
        photo_ids = [str(p) for p in inverted[method].photo_id] if method in inverted else []
        photos = right.multiselect("Inverted photos", photo_ids, default=photo_ids[:2], key="walks_photos", max_selections=8)
        seed_text = right.text_input("Seeds (comma-separated)", "0", key="walks_seeds")
        psi = right.slider("Truncation ψ for seeds", 0.0, 1.0, 0.8, 0.05, key="walks_psi")
        n_steps = st.slider("Steps (columns)", 3, 11, 7, step=2, key="walks_steps")
        reach = st.slider("Range (± σ)", 0.5, 4.0, 3.0, 0.5, key="walks_range")
        num_ws = generator.num_ws
        first, last = st.slider(
            "Layers edited",
            1,
            num_ws,
            (1, num_ws),
            key="walks_layers",
            help=f"which of the generator's {num_ws} style inputs each step moves: the first set layout and shape, the last colour and texture",
        )
        layers = None if (first, last) == (1, num_ws) else (first - 1, last)
        try:
            seeds = parse_seeds(seed_text)
        except ValueError as error:
            st.error(f"Seeds: {error}.")
            seeds = []
        sources = {
            f"photo {p}": torch.from_numpy(np.asarray(state.photo_ws(artifact_root, method, p), np.float32)) for p in photos
        }
        for seed in seeds[:8]:
            sources[f"seed {seed}"] = generation.seed_ws(generator, seed, psi)[0]
        if len(seeds) > 8:
            st.warning(f"{len(seeds)} seeds given: the first 8 are walked.")
        if not sources or not chosen:
            st.info("Pick at least one photo or seed, and one domain.")
        else:
            steps = [float(s) for s in np.linspace(-reach, reach, n_steps)]
            grid, latents = walk_grid(generator, sources, [directions[d] for d in chosen], steps, layers)
            where = "every layer" if layers is None else f"layers {first}–{last} of {num_ws}"
            fit = "boundaries on W's principal axes" if principal else "full-space boundaries"
            st.image(
                grid,
                caption=f"rows: source · domain (deprived ← → privileged); columns: steps in σ, the spread of the generator's W along the boundary; {where} moved; {fit}",
            )
            left, right = st.columns(2)
            left.download_button(
                "Download the grid (PNG)", generation.png_bytes(grid), file_name="walk-matrix.png", mime="image/png"
            )
            right.download_button(
                "Download the latents (.npy)",
                generation.npy_bytes(latents),
                file_name="walk-matrix-latents.npy",
                mime="application/octet-stream",
                help=f"float32 array (sources, domains, steps, num_ws, style_dim) = {latents.shape}",
            )
