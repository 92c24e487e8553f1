"""The steps of the "Your photo" page: check an upload, crop it, invert it (an optimiser as a queued job), walk and download.

The photo and its latents live in this browser session's state only: nothing is written to disk.
An optimiser runs on the server's job queue (`thisineq.app.jobs`), off the page's script thread:
the page polls its progress, so it stays responsive and its Stop button works.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path

import numpy as np
import streamlit as st
from PIL import Image, ImageDraw

from thisineq import provenance
from thisineq.app import generation, readings, state, widgets
from thisineq.app import support as support_ui
from thisineq.app.jobs import Job, JobQueue, JobStopped, apply_thread_budget
from thisineq.data.photos import PhotoReadError
from thisineq.data.photos.upload import Crop, UploadedPhoto, crop_box, crop_square, read_upload
from thisineq.images import to_uint8
from thisineq.invert import methods
from thisineq.invert.api import InversionModels, invert_image
from thisineq.latent.normals import BoundarySet
from thisineq.latent.ood import Support
from thisineq.predict.reader import ImageReader

OPTIMISATION_STEPS = (100, 250, 500, 1000)
PREVIEW_SIDE = 480  # the long side of the framed preview, in pixels
POLL_SECONDS = 0.5


@st.cache_resource(show_spinner=False)
def job_queue() -> JobQueue:
    """The server's one queue of heavy jobs (shared by every session), under the server's thread budget."""
    return JobQueue(apply_thread_budget())


def session_owner() -> str:
    """This browser session's name on the job queue."""
    return st.session_state.setdefault(state.UPLOAD_OWNER, uuid.uuid4().hex)


def checked_upload(uploaded, size: int) -> dict | None:
    """The checked upload, {"digest", "name", "upload": UploadedPhoto} (decoded once per file); None with the reason shown.

    Every refusal and warning is shown next to the uploader, in words.
    """
    data = uploaded.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    current = st.session_state.get(state.UPLOAD_CURRENT)
    if current is None or current["digest"] != digest:
        st.session_state.pop(state.UPLOAD_CURRENT, None)
        st.session_state[state.UPLOAD_RESULTS] = {}
        abandon_job()  # its photo is gone
        try:
            photo = read_upload(data, uploaded.name, size)
        except PhotoReadError as error:
            st.error(f"**{uploaded.name}** cannot be used: {error.reason}.", icon=":material/broken_image:")
            return None
        current = st.session_state[state.UPLOAD_CURRENT] = {"digest": digest, "name": uploaded.name, "upload": photo}
    for note in current["upload"].notes:
        st.warning(note, icon=":material/warning:")
    return current


def chosen_crop(upload: UploadedPhoto, size: int) -> np.ndarray:
    """The crop controls beside the whole photo with the crop framed; returns the crop at the generator's size."""
    image = upload.image
    height, width = image.shape[:2]
    left, right = st.columns([3, 2])
    with right:
        st.markdown("**Crop** — the generator sees a square")
        zoom = st.slider("Zoom", 1.0, 4.0, 1.0, 0.1, key=state.UPLOAD_CROP_ZOOM, help="1: the largest square that fits")
        x = st.slider(
            "Left ↔ right", 0, 100, 50, 1, key=state.UPLOAD_CROP_X, format="%d%%", disabled=width == height and zoom == 1
        )
        y = st.slider(
            "Top ↕ bottom", 0, 100, 50, 1, key=state.UPLOAD_CROP_Y, format="%d%%", disabled=width == height and zoom == 1
        )
    crop = Crop(zoom, x / 100, y / 100)
    left.image(framed(image, crop), caption=f"{upload.name} ({upload.original_size[0]}×{upload.original_size[1]} px)")
    return crop_square(image, crop, size)


def framed(image: np.ndarray, crop: Crop) -> Image.Image:
    """The whole photo, shrunk to the preview's size, with the crop drawn on it and the rest dimmed."""
    preview = Image.fromarray(image)
    longest = max(preview.size)
    if longest < PREVIEW_SIDE // 2:  # a small photo enlarged by whole pixels, so the crop can be seen and placed
        factor = PREVIEW_SIDE // longest
        preview = preview.resize((preview.width * factor, preview.height * factor), Image.Resampling.NEAREST)
    preview.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
    scale = preview.width / image.shape[1]
    left, top, side = (round(v * scale) for v in crop_box(image.shape[1], image.shape[0], crop))
    dim = Image.new("RGBA", preview.size, (0, 0, 0, 120))
    ImageDraw.Draw(dim).rectangle(
        (left, top, left + side - 1, top + side - 1), fill=(0, 0, 0, 0), outline=(255, 255, 255, 255), width=2
    )
    return Image.alpha_composite(preview.convert("RGBA"), dim).convert("RGB")


def default_steps(method: str) -> int:
    """An optimiser's default steps: fewer where it refines an encoder's code than where it starts from the average."""
    return OPTIMISATION_STEPS[0] if methods.method(method).encoder else OPTIMISATION_STEPS[2]


def step_budget(method: str, steps: int, w_prior: float = 0.0) -> dict[str, float]:
    """`invert_image`'s keywords for an optimiser: the hybrid's refinement steps, or the projector's own run and prior."""
    return {"hybrid_steps": steps} if methods.method(method).encoder else {"projector_steps": steps, "w_prior": w_prior}


def recorded_prior(inversion_folder) -> float:
    """The prior on w the set's projector inverted its photos with (0 where none is recorded, StyleGAN2-ADA's
    projector), so that an upload's code is made as the codes its boundaries and bands were fitted on."""
    try:
        record = json.loads((Path(inversion_folder) / "inversion.json").read_text(encoding="utf-8"))
        return float(record.get("settings", {}).get("w_prior", 0.0))
    except (OSError, ValueError, AttributeError, TypeError):  # none, or not a record thisineq wrote: ADA's projector
        return 0.0


def steps_key(method: str) -> str:
    """Each optimiser keeps its own step count (the hybrid's 100 never becomes the projector's)."""
    return state.UPLOAD_STEPS + method


def inverted_ws(photo: np.ndarray, method: str, models: InversionModels, where, w_prior: float = 0.0) -> np.ndarray | None:
    """The crop's ws (num_ws, D) by `method`, kept in the session: an encoder runs at once, an optimiser as a queued
    job when the visitor presses its button (progress and a Stop button in `where`); None until it has finished."""
    results = st.session_state.setdefault(state.UPLOAD_RESULTS, {})
    digest = hashlib.sha256(photo.tobytes()).hexdigest()  # a new crop is a new photo
    if results.get("crop") != digest:
        results.clear()
        results["crop"] = digest
        abandon_job()  # an inversion of the old crop is of no use any more
    if method in results:
        return results[method]
    if methods.method(method).optimises:
        ws = optimised_ws(photo, digest, method, models, where, w_prior)
    else:
        ws = invert_image(photo, method, models).ws[0].numpy()
    if ws is not None:
        results[method] = ws
    return ws


def optimised_ws(
    photo: np.ndarray, crop: str, method: str, models: InversionModels, where, w_prior: float = 0.0
) -> np.ndarray | None:
    """An optimiser's ws once its job has finished; until then the button, the queue's state or the job's progress."""
    queue, owner = job_queue(), session_owner()
    running = st.session_state.get(state.UPLOAD_JOB)
    if running is not None and running["method"] == method and running["crop"] == crop:
        return follow_job(queue, running, where)
    label = widgets.method_label(method)
    steps = where.select_slider("Optimisation steps", OPTIMISATION_STEPS, value=default_steps(method), key=steps_key(method))
    mine = queue.active(owner)
    if mine is not None:
        where.info(f"Your {mine.label} is still running: wait for it, or go back to it and stop it, before starting another.")
        return None
    others = queue.busy_with_others(owner)
    if others:
        where.info(
            f"The server is busy with {others} inversion{'s' if others > 1 else ''} for other visitors: "
            "yours will wait its turn (one runs at a time, so each runs at full speed)."
        )
    if not where.button(f"Invert with the {label}", type="primary", key=state.UPLOAD_START):
        where.caption("An optimiser runs for a while: press the button to start it. You can stop it at any time.")
        return None

    def work(report):
        def progress(step, total, loss) -> bool:
            return report(step, total)

        return invert_image(photo, method, models, progress=progress, **step_budget(method, steps, w_prior)).ws[0].numpy()

    job = queue.submit(owner, f"{label} inversion ({steps} steps)", work)
    st.session_state[state.UPLOAD_JOB] = {"job": job, "method": method, "crop": crop}
    return follow_job(queue, st.session_state[state.UPLOAD_JOB], where)


def abandon_job() -> None:
    """Stop this session's optimiser job, if any, and forget it (its photo or crop changed)."""
    running = st.session_state.pop(state.UPLOAD_JOB, None)
    if running is not None:
        job_queue().stop(running["job"])
        job_queue().forget(running["job"])


def follow_job(queue: JobQueue, running: dict, where) -> np.ndarray | None:
    """A running job's result once it is done (the page reruns then); meanwhile its progress, polled."""
    job: Job = running["job"]
    if not job.done:
        with where:
            _progress(queue, job)
        return None
    st.session_state.pop(state.UPLOAD_JOB, None)
    queue.forget(job)
    try:
        return job.result()
    except JobStopped:
        where.info("Stopped: the partial result was discarded.")
        return None


@st.fragment(run_every=POLL_SECONDS)
def _progress(queue: JobQueue, job: Job) -> None:
    """The job's place in the queue or its progress, every POLL_SECONDS; the whole page reruns when it is done."""
    if job.done:
        st.rerun(scope="app")
    ahead = queue.ahead_of(job)
    if ahead:
        st.info(f"Waiting: {ahead} inversion{'s' if ahead > 1 else ''} for other visitors run first.")
    elif job.total:
        left = job.seconds_left()
        when = f" · about {left:.0f} s left" if left is not None else ""
        st.progress(job.step / job.total, text=f"{job.label}: step {job.step} of {job.total}{when}")
    else:
        st.progress(0.0, text=f"{job.label}: starting…")
    if st.button("Stop", key=state.UPLOAD_STOP, help="stops the optimisation; its partial result is discarded"):
        queue.stop(job)


def walk_and_download(
    photo: np.ndarray,
    method: str,
    ws: np.ndarray,
    models: InversionModels,
    normals: BoundarySet,
    missing_context: tuple,
    reader: ImageReader | None = None,
    support: Support | None = None,
    synthetic: bool = False,
) -> None:
    """The boundary toggles and sliders, the crop beside its inversion and the edit, and the two downloads.

    `missing_context`: (photos, inversions, boundaries record), for saying why a domain has no boundary.
    `reader`: the set's image-side models; under each image, what they read in it.
    `support`: the method's out-of-distribution bands; beside the edit, its band and why.
    `synthetic`: whether the set's model learned synthetic data (the exported image's provenance says so).
    """
    fit, walk = widgets.boundary_choice(normals, method, state.UPLOAD_FIT, state.UPLOAD_WALK)
    directions = normals.directions(method, fit=fit, walk=walk) if fit else {}
    moves = widgets.domain_sliders(directions, state.UPLOAD_SLIDERS)
    if not directions:
        st.info("No boundaries in this artifact set yet: only the inversion is shown.")
    for reason in widgets.missing_boundaries(normals, method, fit, *missing_context).values():
        st.caption(reason[0].upper() + reason[1:])
    latent = generation.ws_tensor(ws)
    rendered = generation.render(models.generator, latent, moves)
    edited = to_uint8(rendered[0])
    columns = st.columns(3)
    columns[0].image(generation.png_data_url(photo), caption="your crop", width="stretch")
    reconstruction = generation.synthesise(models.generator, latent)
    columns[1].image(
        generation.png_data_url(reconstruction), caption=f"inversion ({widgets.method_label(method)})", width="stretch"
    )
    columns[2].image(generation.png_data_url(edited), caption="edited", width="stretch")
    band = None
    if support is not None:
        band, reason = support_ui.band_of(support, latent, moves, image=rendered)
        support_ui.show_band(columns[2], band, reason)
    if reader is not None and st.toggle(
        "Read with the image models",
        value=True,
        key=state.UPLOAD_READ,
        help="the decile predictor and perception ranker, which never saw the latent space, read each image",
    ):
        yours, inverted, walked = (row for _, row in readings.read_pixels(reader, [photo, reconstruction, edited]).iterrows())
        columns[0].caption(readings.readings_line(reader, yours))
        columns[1].caption(readings.readings_line(reader, inverted))
        columns[2].caption(readings.readings_line(reader, walked, inverted))
    left, right = st.columns(2)
    made = provenance.record(
        image="edited upload",
        artifact_set=str(st.session_state.get(state.CHOSEN_SET, "")),
        files={"uploaded crop": hashlib.sha256(np.ascontiguousarray(photo).tobytes()).hexdigest()},
        view={"method": method, "fit": fit, "walk": walk} | generation.walk_params(moves),
        band=band,
        synthetic=synthetic,
    )
    widgets.download_png(edited, "my-street-edited.png", key=state.UPLOAD_DOWNLOAD_PNG, where=left, provenance=made)
    right.download_button(
        "Download the latent (.npy)",
        generation.npy_bytes(ws),
        file_name=f"my-street-{method}.npy",
        mime="application/octet-stream",
        help="ws (num_ws, style_dim), float32",
        key=state.UPLOAD_DOWNLOAD_LATENT,
    )
