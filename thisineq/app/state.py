"""What every page shares: the chosen artifact set, cached loaders and the synthetic-data banner."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from thisineq.artifacts import ArtifactSet, available_sets
from thisineq.data.dataset import Dataset, load_dataset
from thisineq.invert import methods
from thisineq.latent.normals import BoundarySet

# Session-state keys, defined once.
ARTIFACT_SET = "artifact_set"
SEED = "generator_seed"
PSI = "generator_psi"
METHOD = "generator_method"
CONDITIONAL = "generator_conditional"
PRINCIPAL = "generator_principal"
START = "generator_start"
PHOTO = "generator_photo"


def visible_walks_toggle(normals, method: str, key: str, where=st) -> bool:
    """The "Visible walks" toggle of a page (in `where`: st, the sidebar or a column), disabled where the set has no
    boundaries on W's principal axes for `method`. True only when it is on and they exist."""
    available = normals.has_principal(method)
    on = where.toggle("Visible walks (principal axes)", key=key, disabled=not available, help=VISIBLE_WALKS_HELP)
    return bool(on) and available


VISIBLE_WALKS_HELP = (
    "boundaries fitted on the generator's main directions of variation (W's first principal axes): "
    "a walk changes the image more, and the boundary separates the areas less well (see Metrics)"
)


def slider_key(domain: str) -> str:
    return f"generator_slider_{domain}"


def use_explicit_navigation() -> None:
    """Make a first deep link (e.g. a shared /generator?seed=7) use streamlit_app.py's navigation.

    Until streamlit_app.py has run once in a server process, Streamlit serves URLs with its legacy
    handling of a folder named pages/ (an automatic file list as the menu); clearing that flag
    and rerunning hands the request to `st.navigation`. Every page calls this first.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


@st.cache_data(show_spinner=False)
def _sets() -> list[str]:
    return [str(s.root) for s in available_sets()]


def choose_artifact_set() -> ArtifactSet | None:
    """The sidebar choice of artifact set (kept across pages in session state)."""
    roots = _sets()
    if not roots:
        st.error("No artifact set found under `artifacts/`. Build the demo with `make demo`.")
        return None
    by_name = {Path(r).name: r for r in roots}
    wanted = st.query_params.get("set")  # a shared link may name the set
    if wanted in by_name and ARTIFACT_SET not in st.session_state:
        st.session_state[ARTIFACT_SET] = by_name[wanted]
    if st.session_state.get(ARTIFACT_SET) not in roots:
        st.session_state[ARTIFACT_SET] = roots[0]
    root = st.sidebar.selectbox("Artifact set", roots, key=ARTIFACT_SET, format_func=lambda r: Path(r).name)
    return ArtifactSet(Path(root))


@st.cache_data(show_spinner="Loading the dataset…")
def dataset_tables(dataset_root: str) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """(manifest, photos, lsoas) of a dataset, read once."""
    data = load_dataset(dataset_root)
    return data.manifest, data.photos, data.lsoas


@st.cache_resource(show_spinner=False)
def dataset(dataset_root: str) -> Dataset:
    """The dataset with its memory-mapped images (shared, never mutated)."""
    return load_dataset(dataset_root)


@st.cache_resource(show_spinner="Loading the map…")
def web_geojson(dataset_root: str) -> dict:
    """The dataset's web boundaries, shared by every session (never mutate it: `maps.coloured_geojson` copies).

    A resource, not cached data: cached data is unpickled on every call, 0.2 s for London's polygons.
    """
    return json.loads(dataset(dataset_root).web_boundaries.read_text(encoding="utf-8"))


@st.cache_resource(show_spinner="Loading the generator…")
def generator_model(path: str):
    """The generator in eval mode with gradients off (shared by every session: never mutate it)."""
    from thisineq.models.stylegan2 import load_generator

    return load_generator(path).requires_grad_(False)


@st.cache_resource(show_spinner=False)
def boundary_normals(path: str) -> BoundarySet:
    """The artifact set's boundaries (empty where none are built); shared by every session: never add to it."""
    return BoundarySet.load(path)


def photo(dataset_root: str, photo_id: str) -> np.ndarray:
    return dataset(dataset_root).image(photo_id)


@dataclass(frozen=True)
class PageData:
    """What a data page starts from: the chosen artifact set and its dataset's tables."""

    artifacts: ArtifactSet
    root: str  # the dataset folder, as the cache key of the loaders
    manifest: dict
    photos: pd.DataFrame
    lsoas: pd.DataFrame


def open_dataset_page() -> PageData | None:
    """The sidebar choice of artifact set, its tables (cached) and the synthetic banner; None if no set exists."""
    use_explicit_navigation()
    artifacts = choose_artifact_set()
    if artifacts is None:
        return None
    root = str(artifacts.dataset)
    manifest, photos, lsoas = dataset_tables(root)
    synthetic_banner(manifest)
    return PageData(artifacts, root, manifest, photos, lsoas)


def open_generator_page() -> PageData | None:
    """`open_dataset_page` for pages that need the generator: None, after saying why, where the set has none."""
    page = open_dataset_page()
    if page is not None and not page.artifacts.generator.is_file():
        st.info("This artifact set has no generator yet: train one with `thisineq train gan` (see the README).")
        return None
    return page


def synthetic_banner(manifest: dict) -> None:
    """A visible notice on every page whose data or images are synthetic (and the pages' shared style)."""
    from thisineq.app.generation import CRISP_CSS

    st.html(CRISP_CSS)
    if manifest.get("synthetic"):
        st.warning(
            f"**Synthetic data.** *{manifest.get('name', 'This dataset')}* is a procedurally generated city: "
            "no photo shows a real place, and its link between deprivation and appearance is invented for validation.",
            icon=":material/science:",
        )


# --- results of the pipeline: inversions, tables, models ------------------------------------------


@st.cache_resource(show_spinner=False)
def inversion_sets(artifact_root: str) -> dict:
    """Every finished inversion folder of an artifact set, by method (read once, shared: never mutate)."""
    from thisineq.invert.batch import load_inversions

    artifacts = ArtifactSet(Path(artifact_root))
    return {
        m: load_inversions(artifacts.inversion(m)) for m in methods.NAMES if (artifacts.inversion(m) / "inversion.json").is_file()
    }


@st.cache_data(show_spinner=False)
def csv_table(path: str) -> pd.DataFrame | None:
    """A result table, or None where the pipeline has not written it yet."""
    return pd.read_csv(path) if Path(path).is_file() else None


@st.cache_data(show_spinner=False)
def json_record(path: str) -> dict | None:
    return json.loads(Path(path).read_text(encoding="utf-8")) if Path(path).is_file() else None


@st.cache_resource(show_spinner="Loading the inversion models…")
def inversion_models(generator_path: str, e4e_path: str | None, restyle_path: str | None, lpips_net: str | None):
    """Generator, encoders and perceptual distance for inverting uploads (shared by every session)."""
    from thisineq.invert.api import InversionModels

    models = InversionModels.load(generator_path, e4e=e4e_path, restyle=restyle_path, lpips_net=lpips_net)
    for encoder in models.encoders.values():
        encoder.eval().requires_grad_(False)
    return models


def models_for(artifacts: ArtifactSet):
    """The inversion models an artifact set offers (encoders where trained; the projector where LPIPS weights exist)."""
    from thisineq.metrics import lpips

    e4e, restyle = artifacts.encoder("e4e"), artifacts.encoder("restyle")
    net = "alex" if lpips.weights_path("alex").is_file() else None
    return inversion_models(
        str(artifacts.generator), str(e4e) if e4e.is_file() else None, str(restyle) if restyle.is_file() else None, net
    )


def photo_ws(artifact_root: str, method: str, photo_id: str) -> np.ndarray | None:
    """One photo's inverted ws (num_ws, D) by one method, or None where that method did not invert it."""
    inversions = inversion_sets(artifact_root).get(method)
    if inversions is None:
        return None
    hits = np.flatnonzero(inversions.photo_id == photo_id)
    return inversions.ws[hits[0]] if len(hits) else None


def methods_of_photo(artifact_root: str, photo_id: str) -> list[str]:
    return [m for m, inv in inversion_sets(artifact_root).items() if (inv.photo_id == photo_id).any()]


def page_link(container, page: str, label: str, icon: str, query_params: dict) -> None:
    """A link to another page with its state in the URL; a plain link where the page runs outside the app's navigation (tests)."""
    from urllib.parse import urlencode

    from streamlit.errors import StreamlitPageNotFoundError

    try:
        container.page_link(page, label=label, icon=icon, query_params=query_params)
    except StreamlitPageNotFoundError:
        container.markdown(f"[{label}](./{Path(page).stem}?{urlencode(query_params)})")
