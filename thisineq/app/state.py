"""What every page shares: the chosen artifact set, cached loaders and the synthetic-data banner."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import streamlit as st

from thisineq.artifacts import ArtifactSet, available_sets
from thisineq.data.dataset import Dataset, load_dataset
from thisineq.invert import methods
from thisineq.latent.normals import BoundarySet

if TYPE_CHECKING:
    from thisineq.models.stylegan2 import Generator

# Session-state keys (widget keys included), defined once. Their values are internal: a shared link
# carries URL parameters, never these.
ARTIFACT_SET = "artifact_set"  # the sidebar's widget; Streamlit drops a widget's state when the page changes, so…
CHOSEN_SET = "chosen_artifact_set"  # …the chosen set's name is also kept here, where it survives navigation

SEED = "generator_seed"
PSI = "generator_psi"
METHOD = "generator_method"
WALK = "generator_walk"
FIT = "generator_fit"
START = "generator_start"
PHOTO = "generator_photo"
GENERATOR_SLIDERS = "generator_slider_"  # + domain
GENERATOR_DOWNLOAD = "generator_download_png"
GENERATOR_READ = "generator_read"  # re-score the images with the image-side models
GENERATOR_PROVENANCE = "generator_provenance"  # an exported PNG (or its JSON) whose view to open
GENERATOR_PROVENANCE_ERROR = "generator_provenance_error"
GENERATOR_SIDECAR = "generator_download_json"

DATASET_DOMAIN = "dataset_domain"

MAP_DOMAIN = "map_domain"
MAP_POINTS = "map_points"
MAP_OUTLINES = "map_outlines"
MAP_PHOTO = "map_photo"
MAP_SELECTION = "map_selection"  # the deck's click selection (a widget)
MAP_CLICKED = "map_clicked"  # the last click acted on: a click moves the photo and area once, not on every rerun
MAP_AREA = "map_area"  # the lsoa_code whose photos are listed (None: every photo)
MAP_PERCEPTION = "map_perception"  # the perception question shown beside the deciles ("": none)
MAP_PERCEPTION_DECK = "map_perception_deck"

PREDICT_DOMAIN = "predict_domain"
PREDICT_GROUPING = "predict_grouping"
PREDICT_CLASSES = "predict_classes"
PREDICT_TRUE_MAP = "predict_true_map"
PREDICT_MAP = "predict_map"

METRICS_SPLIT = "metrics_split"
METRICS_CLASSES = "metrics_classes"
METRICS_SCORE = "metrics_score"
METRICS_PROJECTION_METHOD = "metrics_projection_method"
METRICS_PROJECTION_DOMAIN = "metrics_projection_domain"
METRICS_KNOWN_SOURCE = "metrics_known_source"

WALKS_METHOD = "walks_method"
WALKS_WALK = "walks_walk"
WALKS_FIT = "walks_fit"
WALKS_DOMAINS = "walks_domains"
WALKS_PHOTOS = "walks_photos"
WALKS_SEEDS = "walks_seeds"
WALKS_PSI = "walks_psi"
WALKS_STEPS = "walks_steps"
WALKS_RANGE = "walks_range"
WALKS_LAYERS = "walks_layers"
WALKS_DOWNLOAD_PNG = "walks_download_png"
WALKS_DOWNLOAD_LATENTS = "walks_download_latents"
WALKS_READ = "walks_read"
WALKS_BANDS = "walks_bands"
WALKS_PUBLICATION = "walks_publication"  # + _pdf, _svg, _png
METRICS_PUBLICATION = "metrics_publication"

UPLOAD_FILE = "upload_file"
UPLOAD_CURRENT = "upload_current"  # {"digest", "name", "upload": UploadedPhoto} of the checked upload
UPLOAD_RESULTS = "upload_results"  # {"crop": digest, method: ws (num_ws, D)} for the current crop
UPLOAD_CROP_ZOOM = "upload_crop_zoom"
UPLOAD_CROP_X = "upload_crop_x"
UPLOAD_CROP_Y = "upload_crop_y"
UPLOAD_METHOD = "upload_method"
UPLOAD_STEPS = "upload_steps_"  # + method: each optimiser keeps its own
UPLOAD_OWNER = "upload_owner"  # this session's name on the server's job queue
UPLOAD_JOB = "upload_job"  # {"job", "method", "crop"} of this session's optimiser job
UPLOAD_START = "upload_start"
UPLOAD_STOP = "upload_stop"
UPLOAD_WALK = "upload_walk"
UPLOAD_FIT = "upload_fit"
UPLOAD_SLIDERS = "upload_slider_"  # + domain
UPLOAD_DOWNLOAD_PNG = "upload_download_png"
UPLOAD_DOWNLOAD_LATENT = "upload_download_latent"
UPLOAD_READ = "upload_read"

KIOSK_TOUCHED = "kiosk_touched"  # time.time() of the last touch
KIOSK_TICK = "kiosk_tick"  # drift ticks since then
KIOSK_SEED = "kiosk_seed"
KIOSK_NEXT = "kiosk_next"
KIOSK_SLIDERS = "kiosk_slider_"  # + domain


def slider_key(sliders: str, domain: str) -> str:
    """The key of one domain's slider in a group of sliders (GENERATOR_SLIDERS, UPLOAD_SLIDERS, KIOSK_SLIDERS)."""
    return sliders + domain


def generator_from_url(params, method_options: list[str], photos_inverted: bool) -> None:
    """The generator page's first values from a shared link; later visits in the session keep what the visitor set."""
    from thisineq.app.generation import parse_number

    wanted = params.get("method")
    st.session_state.setdefault(START, "photo" if params.get("photo") and photos_inverted else "seed")
    st.session_state.setdefault(SEED, parse_number(params.get("seed"), 0, 0, 2**31 - 1, whole=True))
    st.session_state.setdefault(PSI, parse_number(params.get("psi"), 0.8, 0.0, 1.0))
    st.session_state.setdefault(METHOD, wanted if wanted in method_options else next(iter(method_options), None))
    st.session_state.setdefault(FIT, params.get("fit"))  # checked against the set's fits by `widgets.boundary_choice`
    st.session_state.setdefault(WALK, params.get("walk"))


def open_provenance_file() -> None:
    """The uploader's callback: open the view an exported image records (its URL parameters, the page's choices forgotten)."""
    from thisineq.provenance import ProvenanceError, read_provenance

    uploaded = st.session_state.get(GENERATOR_PROVENANCE)
    st.session_state[GENERATOR_PROVENANCE_ERROR] = None
    if uploaded is None:
        return
    try:
        view = read_provenance(uploaded.getvalue(), name=uploaded.name)["view"]
    except ProvenanceError as error:
        st.session_state[GENERATOR_PROVENANCE_ERROR] = str(error)
        return
    for key in [
        START,
        SEED,
        PSI,
        METHOD,
        FIT,
        WALK,
        PHOTO,
        *(k for k in st.session_state if str(k).startswith(GENERATOR_SLIDERS)),
    ]:
        st.session_state.pop(key, None)
    st.query_params.from_dict({key: str(value) for key, value in view.items()})


@st.cache_data(show_spinner=False)
def file_sha256(path: str, modified: float) -> str:
    """A file's sha256, cached until it changes (`modified`: its mtime)."""
    from thisineq.io import sha256_file

    return sha256_file(path)


def file_hashes(files: dict[str, Path]) -> dict[str, str]:
    """sha256 by role of the files that exist (generator, encoder, boundaries, inversion) for a provenance record."""
    return {role: file_sha256(str(path), path.stat().st_mtime) for role, path in files.items() if path.is_file()}


def keep_choice(key: str, choices: list[str], wanted: str | None) -> None:
    """Keep a selectbox's value among its choices: else the wanted one (from a URL) where offered, else the first."""
    if st.session_state.get(key) not in choices:
        st.session_state[key] = wanted if wanted in choices else next(iter(choices), None)


def resolve_set(names: list[str], wanted: str | None, remembered: str | None) -> tuple[str, str | None]:
    """The artifact set to show, and what was wrong with the URL's `set` where it named none of `names`.

    The URL wins (a shared link, a reload, the sidebar's own change); then the set this session chose
    on an earlier page; then the first (the demo). `names` must not be empty.
    """
    if wanted in names:
        return wanted, None
    chosen = remembered if remembered in names else names[0]
    if not wanted:
        return chosen, None
    return chosen, f"There is no artifact set called “{wanted}” here. The sets found are: {', '.join(names)}."


def _sets_by_name() -> dict[str, ArtifactSet]:
    """Every artifact set, listed afresh on each run (a few directory reads) so sets built while the app runs appear."""
    sets = {s.name: s for s in available_sets()}
    if not sets:
        st.error("No artifact set found under `artifacts/`. Build the demo with `make demo`.")
        st.stop()
    return sets


def _remember_set(name: str) -> None:
    st.session_state[CHOSEN_SET] = name
    if st.query_params.get("set") != name:
        st.query_params["set"] = name  # the URL names the set: a reload or a shared link shows the same one


def choose_artifact_set() -> ArtifactSet:
    """The sidebar's artifact set, kept across pages and in the URL (`?set=`); the page stops where there is none."""
    sets = _sets_by_name()
    chosen, problem = resolve_set(list(sets), st.query_params.get("set"), st.session_state.get(CHOSEN_SET))
    st.session_state[ARTIFACT_SET] = chosen  # set before the widget is drawn: it shows the set kept across pages
    st.sidebar.selectbox(
        "Artifact set",
        list(sets),
        key=ARTIFACT_SET,
        on_change=lambda: _remember_set(st.session_state[ARTIFACT_SET]),
        help="Sets are the folders under `artifacts/`; one built while the app runs appears here on the next click.",
    )
    if problem:
        st.error(problem + " Choose one in the sidebar.", icon=":material/error:")
        st.stop()
    _remember_set(chosen)
    return sets[chosen]


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


def open_dataset_page() -> PageData:
    """The sidebar choice of artifact set, its tables (cached) and the synthetic banner; the page stops where no set exists."""
    page = page_for(choose_artifact_set())
    synthetic_banner(page.manifest, page.lsoas.index)
    return page


@dataclass(frozen=True)
class ModelPage(PageData):
    """What a model page starts from: a data page's set and tables, and the set's generator, boundaries and inversions."""

    generator: Generator  # shared by every session: never mutate it
    normals: BoundarySet
    inversions: dict  # method → Inversions, the finished inversion folders


def open_generator_page() -> ModelPage:
    """`open_dataset_page` for pages that need the generator: the page stops, after saying why, where the set has none."""
    page = open_dataset_page()
    if not page.artifacts.generator.is_file():
        st.info("This artifact set has no generator yet: train one with `thisineq train gan` (see the README).")
        st.stop()
    return with_models(page)


def with_models(page: PageData) -> ModelPage:
    """A data page with its set's generator, boundaries and inversions (all loaded once per server)."""
    artifacts = page.artifacts
    models = (
        generator_model(str(artifacts.generator)),
        boundary_normals(str(artifacts.normals)),
        inversion_sets(str(artifacts.root)),
    )
    return ModelPage(*(getattr(page, f.name) for f in fields(PageData)), *models)


def open_kiosk_page() -> ModelPage:
    """The set in the URL or chosen on another page, else the demo, without sidebar or banner; stops where it has no generator."""
    sets = _sets_by_name()
    chosen, problem = resolve_set(list(sets), st.query_params.get("set"), st.session_state.get(CHOSEN_SET))
    if problem:
        st.error(problem)
        st.stop()
    _remember_set(chosen)
    artifacts = sets[chosen]
    if not artifacts.generator.is_file():
        st.info(
            f"No generator in the {artifacts.name} artifact set: the kiosk needs one. "
            "Train it with `thisineq train gan` (see the README)."
        )
        st.stop()
    return with_models(page_for(artifacts))


def page_for(artifacts: ArtifactSet) -> PageData:
    """An artifact set and its dataset's tables (cached)."""
    root = str(artifacts.dataset)
    manifest, photos, lsoas = dataset_tables(root)
    return PageData(artifacts, root, manifest, photos, lsoas)


def synthetic_banner(manifest: dict, lsoa_codes: pd.Index) -> None:
    """A visible notice on every page whose data or images are synthetic (and the pages' shared style)."""
    from thisineq.app.generation import CRISP_CSS

    st.html(CRISP_CSS)
    if manifest.get("synthetic"):
        st.warning(synthetic_notice(manifest.get("name", "This dataset"), lsoa_codes), icon=":material/science:")


def synthetic_notice(name: str, lsoa_codes: pd.Index) -> str:
    """The banner's words: a wholly synthetic city, or synthetic photos on real areas and deciles."""
    from thisineq.data.domains import SYNTHETIC_LSOA_PREFIX

    if pd.Index(lsoa_codes).astype(str).str.startswith(SYNTHETIC_LSOA_PREFIX).all():
        return (
            f"**Synthetic data.** *{name}* is a procedurally generated city: no photo shows a real place, and its link "
            "between deprivation and appearance is invented for validation."
        )
    return (
        f"**Synthetic photos.** In *{name}* the areas and their deprivation deciles are real (IoD2019), but every photo "
        "is procedurally generated: none shows a real place, and the link between deprivation and appearance is invented "
        "for validation."
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


@st.cache_resource(show_spinner=False)
def _support_model(artifact_root: str, method: str):
    from thisineq.latent.ood import SupportModel

    return SupportModel.load(ArtifactSet(Path(artifact_root)).boundaries / f"ood_{method}.npz")


def support(artifact_root: str, method: str | None):
    """The out-of-distribution bands of a method's edits (`thisineq pipeline --only support`), with the set's kept
    discriminator where the bands read images; None where the bands are not built."""
    from thisineq.latent.ood import Support

    if not method or not (ArtifactSet(Path(artifact_root)).boundaries / f"ood_{method}.npz").is_file():
        return None
    model = _support_model(artifact_root, method)
    return Support(model, discriminator(artifact_root) if model.reads_realism else None)


def discriminator(artifact_root: str):
    """The set's kept discriminator (None where none is kept). A damaged file is named on the page, and the bands read
    the codes alone."""
    from thisineq.errors import ThisIneqError

    path = ArtifactSet(Path(artifact_root)).discriminator
    if not path.is_file():
        return None
    try:
        return _discriminator(artifact_root, path.stat().st_mtime)
    except ThisIneqError as error:
        st.warning(
            f"The set's discriminator cannot be read, so the bands read the codes alone: {error}", icon=":material/warning:"
        )
        return None


@st.cache_resource(show_spinner="Loading the discriminator…")
def _discriminator(artifact_root: str, modified: float):  # `modified`: a file replaced while the app runs is read again
    from thisineq.models.importers import load_saved_discriminator

    return load_saved_discriminator(ArtifactSet(Path(artifact_root)).discriminator)


@st.cache_resource(show_spinner="Loading the image models…")
def image_reader(artifact_root: str):
    """The set's decile predictor and perception ranker with their feature networks (None where it has neither)."""
    from thisineq.predict.reader import load_image_reader

    return load_image_reader(ArtifactSet(Path(artifact_root)))


def csv_table(path: str) -> pd.DataFrame | None:
    """A result table, or None where the pipeline has not written it yet, or (said on the page) it cannot be read."""
    try:
        return _csv_table(path)
    except ValueError as error:  # pandas' parser and empty-file errors, and undecodable bytes, are ValueErrors
        st.warning(f"`{path}` cannot be read as a table and is left out ({error}). Rebuild it with `thisineq pipeline`.")
        return None


def json_record(path: str) -> dict | None:
    """A result record, or None where the pipeline has not written it yet, or (said on the page) it cannot be read."""
    try:
        record = _json_record(path)
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        st.warning(f"`{path}` is not readable JSON and is left out ({error}). Rebuild it with `thisineq pipeline`.")
        return None
    if record is not None and not isinstance(record, dict):
        st.warning(f"`{path}` holds a JSON {type(record).__name__}, not a record, and is left out.")
        return None
    return record


@st.cache_data(show_spinner=False)
def _csv_table(path: str) -> pd.DataFrame | None:
    return pd.read_csv(path) if Path(path).is_file() else None


@st.cache_data(show_spinner=False)
def _json_record(path: str) -> dict | list | None:
    return json.loads(Path(path).read_text(encoding="utf-8")) if Path(path).is_file() else None


@st.cache_resource(show_spinner="Loading the inversion models…")
def inversion_models(generator_path: str, encoder_paths: tuple[tuple[str, str], ...], lpips_net: str | None):
    """Generator, encoders ((kind, path) pairs) and perceptual distance for inverting uploads (shared by every session)."""
    from thisineq.invert.api import InversionModels

    models = InversionModels.load(generator_path, **dict(encoder_paths), lpips_net=lpips_net)
    for encoder in models.encoders.values():
        encoder.eval().requires_grad_(False)
    return models


def models_for(artifacts: ArtifactSet):
    """The inversion models an artifact set offers (encoders where trained; the projector where LPIPS weights exist)."""
    from thisineq.metrics import lpips

    encoders = tuple((kind, str(artifacts.encoder(kind))) for kind in methods.ENCODERS if artifacts.encoder(kind).is_file())
    net = "alex" if lpips.weights_path("alex").is_file() else None
    return inversion_models(str(artifacts.generator), encoders, net)


def photo_ws(artifact_root: str, method: str, photo_id: str) -> np.ndarray | None:
    """One photo's inverted ws (num_ws, D) by one method, or None where that method did not invert it."""
    inversions = inversion_sets(artifact_root).get(method)
    if inversions is None:
        return None
    hits = np.flatnonzero(inversions.photo_id == photo_id)
    return inversions.ws[hits[0]] if len(hits) else None


@dataclass(frozen=True)
class PhotoInversion:
    """One method's inversion of one photo."""

    ws: np.ndarray  # (num_ws, D)
    errors: pd.Series  # lpips, psnr, ssim of its reconstruction against the photo


def inversions_of_photo(artifact_root: str, photo_id: str) -> dict[str, PhotoInversion]:
    """Every method's inversion of a photo, in the registry's order; empty where none inverted it."""
    found = {}
    for method, inversions in inversion_sets(artifact_root).items():
        hits = np.flatnonzero(inversions.photo_id == photo_id)
        if len(hits):
            found[method] = PhotoInversion(inversions.ws[hits[0]], inversions.errors.loc[photo_id])
    return found


def page_link(container, page: str, label: str, icon: str, query_params: dict) -> None:
    """A link to another page with its state in the URL; a plain link where the page runs outside the app's navigation (tests)."""
    from urllib.parse import urlencode

    from streamlit.errors import StreamlitPageNotFoundError

    if st.session_state.get(CHOSEN_SET):
        query_params = {"set": st.session_state[CHOSEN_SET], **query_params}
    try:
        container.page_link(page, label=label, icon=icon, query_params=query_params)
    except StreamlitPageNotFoundError:
        container.markdown(f"[{label}](./{Path(page).stem}?{urlencode(query_params)})")
