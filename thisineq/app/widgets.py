"""Widget groups that several pages show: the walk sliders, the boundary toggles and the method and domain choices."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import streamlit as st

from thisineq.app import state
from thisineq.app.generation import parse_number, png_bytes, upscale
from thisineq.data.domains import domain
from thisineq.invert import methods
from thisineq.latent.labels import PAPER, definition_named, why_no_boundary
from thisineq.latent.normals import FIT_LABELS, WALKS, BoundarySet, Direction

# The walk sliders' range and step, in σ: the spread of the generator's W along a boundary.
REACH, STEP = 3.0, 0.25

FIT_HELP = (
    "how the boundaries were fitted: in W whitened by the generator's own statistics (walks the generator renders; "
    "the default), on standardised latents (the classic recipe: faint walks), on W's principal axes, or as the "
    "partial effect of the domain with the other six held fixed (see Metrics)"
)
WALK_HELP = (
    "as fitted; conditional: each direction made orthogonal to the others' (InterFaceGAN); "
    "independent: the set made mutually orthogonal, as the paper did"
)
WALK_LABELS = {"plain": "as fitted", "conditional": "conditional", "orthogonal": "independent of each other"}


def domain_sliders(
    directions: Mapping[str, Direction],
    sliders: str,
    *,
    initial: Mapping[str, object] | None = None,
    short_labels: bool = False,
    on_change: Callable[[], None] | None = None,
) -> list[tuple[Direction, float]]:
    """One slider per domain (−3σ … +3σ), keyed `state.slider_key(sliders, domain)`; the moves (direction, α) they set.

    `initial` gives a slider's first value by domain (a URL parameter: clamped, rounded to the step,
    0 where it is not a number). `short_labels` names the domain alone (the kiosk's large sliders; the
    page says once, visibly, which end is which — a help icon needs a hover a touch screen lacks).
    """
    moves = []
    for name, direction in directions.items():
        key = state.slider_key(sliders, name)
        if key not in st.session_state:
            value = parse_number((initial or {}).get(name), 0.0, -REACH, REACH)
            st.session_state[key] = round(value / STEP) * STEP
        label = domain(name).label if short_labels else f"{domain(name).label}: deprived ← → privileged"
        alpha = st.slider(
            label,
            -REACH,
            REACH,
            step=STEP,
            key=key,
            format="%+.2fσ",
            on_change=on_change,
        )
        moves.append((direction, alpha))
    return moves


def boundary_choice(normals: BoundarySet, method: str | None, fit_key: str, walk_key: str, where=st) -> tuple[str | None, str]:
    """The choice of boundaries a walk follows (in `where`: st, the sidebar or a column): (fit kind, walk kind).

    The fit kinds offered are those the set has for `method`; an earlier or linked choice it lacks
    falls back to the set's default (whitened where fitted).
    """
    fits = normals.fits(method) if method is not None else []
    if st.session_state.get(fit_key) not in fits:
        st.session_state[fit_key] = normals.default_fit(method) if fits else None
    if st.session_state.get(walk_key) not in WALKS:
        st.session_state[walk_key] = "plain"
    fit = where.selectbox("Boundaries fitted in", fits, key=fit_key, format_func=FIT_LABELS.get, disabled=not fits, help=FIT_HELP)
    walk = where.selectbox("Walk", list(WALKS), key=walk_key, format_func=WALK_LABELS.get, help=WALK_HELP)
    return fit, walk


def missing_boundaries(
    normals: BoundarySet, method: str | None, fit: str | None, photos, inverted: Mapping, record: dict | None
) -> dict[str, str]:
    """Domains other methods walk but `method` cannot, each with why in words and what would fix it.

    `photos`: the set's photo table; `inverted`: method → its Inversions; `record`: boundaries.json
    (which class definition the walked boundaries use).
    """
    if method is None or not fit:
        return {}
    everywhere = {d for m in normals.methods() for d in normals.directions(m, fit=fit)}
    missing = sorted(everywhere - set(normals.directions(method, fit=fit)))
    owner = methods.method(method).walks  # whose latents the boundaries were fitted on
    definition = definition_named(((record or {}).get("table1_classes") or [""])[0]) or PAPER
    reasons = {}
    for name in missing:
        why = None
        if owner in inverted:
            latents_of = photos.loc[[p for p in inverted[owner].photo_id if p in photos.index]]
            why = why_no_boundary(latents_of, name, definition)
        reasons[name] = (
            f"no {domain(name).label} boundary for the {method_label(owner)}: "
            + (why or "the pipeline fitted none on its latents")
            + f". Inverting more photos with the {method_label(owner)} (`thisineq pipeline`) would give it one."
        )
    return reasons


def method_label(name: str) -> str:
    """How the app names an inversion method (the registry's label)."""
    return methods.method(name).label


def methods_help(names: list[str] | tuple[str, ...]) -> str:
    """One line per method saying what it does, for a method choice's help."""
    return "  \n".join(f"{method_label(m)}: {methods.method(m).summary}" for m in names)


def method_selectbox(label: str, options: list[str], *, key: str, where=st, **kwargs) -> str | None:
    """A choice of inversion method, named by the registry's labels."""
    return where.selectbox(label, options, key=key, format_func=method_label, **kwargs)


def domain_selectbox(domains: list[str], *, key: str, where=st, **kwargs) -> str:
    """A choice of deprivation domain, named in words."""
    return where.selectbox("Domain", domains, key=key, format_func=lambda k: domain(k).label, **kwargs)


def download_png(
    pixels,
    file_name: str,
    *,
    key: str,
    label: str = "Download the edited image (PNG)",
    where=st,
    provenance: dict | None = None,
) -> None:
    """A download button for a uint8 image (H, W, 3), enlarged crisply, carrying its provenance where given; the PNG is
    made only when it is clicked."""
    from thisineq.provenance import png_bytes as png_with_provenance

    def made() -> bytes:
        return png_with_provenance(upscale(pixels), provenance) if provenance else png_bytes(upscale(pixels))

    where.download_button(label, made, file_name=file_name, mime="image/png", on_click="ignore", key=key)


def publication_downloads(make_figure, stem: str, provenance: dict, *, key: str, where=st) -> None:
    """Three download buttons — vector PDF, SVG and a 300-dpi PNG — for a figure made only when one is clicked.

    `make_figure`: () → matplotlib Figure. Each file carries `provenance` (the PNG as its own chunk, the vector files
    in their metadata).
    """
    import io

    from PIL import Image

    from thisineq import provenance as records
    from thisineq.latent.figures import PUBLICATION_DPI, PUBLICATION_FORMATS, publication_bytes

    described = records.sidecar_bytes(provenance).decode("utf-8")

    def made(fmt: str):
        def data() -> bytes:
            rendered = publication_bytes(make_figure(), fmt, described)
            return records.png_bytes(Image.open(io.BytesIO(rendered)), provenance) if fmt == "png" else rendered

        return data

    labels = {"pdf": "PDF (vector)", "svg": "SVG (vector)", "png": f"PNG ({PUBLICATION_DPI} dpi)"}
    for column, (fmt, mime) in zip(where.columns(len(PUBLICATION_FORMATS)), PUBLICATION_FORMATS.items(), strict=True):
        column.download_button(
            labels[fmt], made(fmt), file_name=f"{stem}.{fmt}", mime=mime, on_click="ignore", key=f"{key}_{fmt}"
        )
