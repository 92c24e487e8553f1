"""The pages over the pipeline's results — generator from a photo, map inversions, metrics, walk matrix,
upload, kiosk — run headless on the committed demo artifacts, and their widgets change what they say."""

from __future__ import annotations

import base64
import io
import re
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from thisineq.app import generation
from thisineq.app.jobs import JobStopped
from thisineq.artifacts import demo_set
from thisineq.invert.batch import load_inversions

ROOT = Path(__file__).resolve().parents[1]


def app(page: str, **params) -> AppTest:
    at = AppTest.from_file(str(ROOT / page), default_timeout=120)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def image_urls(at: AppTest) -> list[str]:
    return [element.proto.imgs[0].url for element in at.get("image")]


def pixels(url: str) -> np.ndarray:
    """The image behind an inline PNG URL."""
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))), np.float64)


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def e4e_photo() -> str:
    return str(load_inversions(demo_set().inversion("e4e")).photo_id[0])


def test_generator_starts_from_a_photos_inversion_and_walks_it(e4e_photo):
    at = app("app_pages/generator.py", photo=e4e_photo, method="e4e")
    assert at.radio(key="generator_start").value == "photo"
    assert at.selectbox(key="generator_photo").value == e4e_photo
    real, inversion, edited = image_urls(at)
    assert inversion == edited  # every slider at 0
    at.slider(key="generator_slider_income").set_value(2.5).run()
    assert not at.exception
    assert image_urls(at)[2] != edited and image_urls(at)[1] == inversion
    assert at.query_params["photo"] in (e4e_photo, [e4e_photo]) and at.query_params["income"] in ("2.5", ["2.5"])
    moved = image_urls(at)[2]
    at.selectbox(key="generator_walk").set_value("conditional").run()
    assert image_urls(at)[2] != moved  # the conditional normal is another direction


def test_whitened_boundaries_are_the_default_and_walk_further_than_standardised_ones(e4e_photo):
    at = app("app_pages/generator.py", photo=e4e_photo, method="e4e", income="3")
    _, inversion, whitened = (pixels(url) for url in image_urls(at))
    fit = at.selectbox(key="generator_fit")
    assert fit.value == "whitened" and {"whitened W", "standardised latents", "W's principal axes", "partial effect"} <= set(
        fit.options
    )
    fit.set_value("standardised").run()
    assert not at.exception and at.query_params["fit"] in ("standardised", ["standardised"])
    faint = pixels(image_urls(at)[2])
    assert np.abs(whitened - inversion).mean() > 2 * np.abs(faint - inversion).mean()
    reopened = app(
        "app_pages/generator.py", photo=e4e_photo, method="e4e", income="3", fit="standardised"
    )  # a shared link keeps the choice
    assert reopened.selectbox(key="generator_fit").value == "standardised" and image_urls(reopened)[2] == image_urls(at)[2]
    unknown = app("app_pages/generator.py", photo=e4e_photo, method="e4e", fit="sideways", walk="backwards")
    assert not unknown.exception and unknown.selectbox(key="generator_fit").value == "whitened"  # a bad link falls back


def test_map_shows_a_photos_inversions_with_their_errors(e4e_photo):
    at = app("app_pages/map.py")
    at.selectbox(key="map_photo").select(e4e_photo).run()
    assert not at.exception
    captions = " ".join(c.value for c in at.caption)
    assert "LPIPS" in captions and "PSNR" in captions
    assert len(at.get("image")) >= 3  # the photo, the photo again beside its inversions, at least one inversion


@pytest.mark.slow
def test_metrics_page_shows_table1_and_switches_folds():
    at = app("app_pages/metrics.py")
    table = at.dataframe[0].value
    assert {"domain", "method", "f1"} <= set(table.columns) and set(table["method"]) == {"e4e", "restyle", "projector"}
    assert table["f1"].str.match(r"^\d\.\d\d \[\d\.\d\d–\d\.\d\d\]$|^—$").all()
    at.radio(key="metrics_split").set_value("by photo").run()
    assert not at.exception
    tables = [frame.value for frame in at.dataframe]
    visibility = next(t for t in tables if "change" in t.columns)
    assert {"whitened W", "standardised latents", "W's principal axes", "partial effect"} == set(visibility["fit"])
    by_fit = visibility.groupby("fit")["change"].median()
    assert by_fit["whitened W"] > 2 * by_fit["standardised latents"]  # the point of the whitened boundaries
    assert "split_half_cosine" in visibility.columns
    comparison = next(t for t in tables if "lpips" in t.columns)
    assert list(comparison["method"]) == ["e4e", "restyle", "projector", "hybrid"]
    at.selectbox(key="metrics_projection_method").set_value("restyle").run()
    assert not at.exception


@pytest.mark.slow
def test_walk_matrix_builder_sizes_the_grid_and_refuses_bad_seeds():
    at = app("app_pages/walks.py")
    assert len(at.get("image")) == 1
    first = image_urls(at)[0]
    at.slider(key="walks_steps").set_value(5).run()
    assert image_urls(at)[0] != first
    assert "(3, 3, 5," in " ".join(b.proto.help for b in at.get("download_button"))  # 2 photos + 1 seed, 3 domains, 5 steps
    at.text_input(key="walks_seeds").set_value("3, x").run()
    assert not at.exception and any("'x' is not a seed" in e.value for e in at.error)


def test_walk_matrix_switches_fits_and_walks():
    at = app("app_pages/walks.py")
    whitened = image_urls(at)[0]
    assert "boundaries fitted in whitened W, walked as fitted" in at.get("image")[0].proto.imgs[0].caption
    at.selectbox(key="walks_fit").set_value("principal").run()
    assert not at.exception and image_urls(at)[0] != whitened
    assert "boundaries fitted in W's principal axes" in at.get("image")[0].proto.imgs[0].caption
    at.selectbox(key="walks_walk").set_value("orthogonal").run()
    assert not at.exception and "walked independent of each other" in at.get("image")[0].proto.imgs[0].caption


def test_walk_matrix_moves_only_the_chosen_layers():
    at = app("app_pages/walks.py")
    every = image_urls(at)[0]
    assert "every layer moved" in at.get("image")[0].proto.imgs[0].caption
    last = at.slider(key="walks_layers").value[1]
    at.slider(key="walks_layers").set_value((last, last)).run()  # the finest layer alone
    assert not at.exception and image_urls(at)[0] != every
    assert f"layers {last}–{last} of {last} moved" in at.get("image")[0].proto.imgs[0].caption


def test_upload_inverts_a_good_photo_and_names_what_is_wrong_with_bad_ones():
    at = app("app_pages/upload.py")
    street = np.random.default_rng(0).integers(0, 256, (90, 120, 3), dtype=np.uint8)
    at.file_uploader(key="upload_file").set_value(("street.png", png(street), "image/png")).run()
    assert not at.exception and not at.error and not upload_notes(at)
    assert len(at.get("image")) == 4  # the photo with its crop framed, then the crop, its inversion, the edit
    assert len(at.get("download_button")) == 2
    before = image_urls(at)[3]
    at.slider(key="upload_slider_income").set_value(-2.0).run()
    assert image_urls(at)[3] != before
    moved = image_urls(at)[3]
    at.selectbox(key="upload_fit").set_value("principal").run()
    assert not at.exception and image_urls(at)[3] != moved  # walked along the principal-axes boundary instead
    crop, inversion = image_urls(at)[1], image_urls(at)[2]
    at.slider(key="upload_crop_x").set_value(0).run()  # the left square of the photo instead of the middle one
    assert not at.exception and image_urls(at)[1] != crop and image_urls(at)[2] != inversion
    for name, data, reason in [
        ("empty.png", b"", "empty"),
        ("notes.png", b"<html>not an image</html>", "web page"),
        ("cut.png", png(street)[:200], "incomplete|damaged"),
        ("dot.png", png(np.zeros((1, 1, 3), np.uint8)), "only 1×1 pixels"),
        ("sliver.png", png(np.zeros((40, 400, 3), np.uint8)), "a strip"),
    ]:
        at.file_uploader(key="upload_file").set_value((name, data, "image/png")).run()
        assert not at.exception, name
        assert at.error and name in at.error[0].value, name
        assert re.search(reason, at.error[0].value), (name, at.error[0].value)
        assert not at.get("download_button"), name
    small = np.full((40, 48, 3), 100, np.uint8)
    at.file_uploader(key="upload_file").set_value(("small.png", png(small), "image/png")).run()
    assert not at.exception and not at.error and at.get("download_button")
    assert len(upload_notes(at)) == 1 and "enlarged" in upload_notes(at)[0]


def upload_notes(at) -> list[str]:
    """The upload's warnings (the synthetic-data banner is a warning too, with its own icon)."""
    return [w.value for w in at.warning if w.icon == ":material/warning:"]


def run_until_inverted(at, seconds: float = 180.0):
    """Rerun the page (as its progress fragment does in a browser) until the optimiser's result is on it."""
    deadline = time.monotonic() + seconds
    while not at.get("download_button"):
        assert not at.exception and time.monotonic() < deadline
        time.sleep(0.3)
        at.run()
    return at


@pytest.mark.slow
def test_upload_optimisers_run_as_queued_jobs_on_request_each_with_its_own_steps():
    at = app("app_pages/upload.py")
    street = np.full((64, 64, 3), 120, np.uint8)
    at.file_uploader(key="upload_file").set_value(("grey.png", png(street), "image/png")).run()
    at.radio(key="upload_method").set_value("hybrid").run()
    assert at.select_slider(key="upload_steps_hybrid").value == 100
    at.select_slider(key="upload_steps_hybrid").set_value(250).run()
    at.radio(key="upload_method").set_value("projector").run()
    assert not at.get("download_button")  # nothing until asked
    assert at.select_slider(key="upload_steps_projector").value == 500  # its own default, not the hybrid's 250
    at.select_slider(key="upload_steps_projector").set_value(100).run()
    at.radio(key="upload_method").set_value("hybrid").run()
    assert at.select_slider(key="upload_steps_hybrid").value == 250  # kept while the projector was shown
    at.radio(key="upload_method").set_value("projector").run()
    assert at.select_slider(key="upload_steps_projector").value == 100
    at.button(key="upload_start").click().run()
    assert not at.exception
    run_until_inverted(at)
    assert len(at.get("download_button")) == 2


def test_kiosk_runs_without_a_sidebar_and_drifts_through_every_domain():
    at = app("app_pages/kiosk.py")
    assert len(at.slider) == 3 and len(at.get("image")) == 1
    domains = ["income", "health", "education"]
    ticks = [generation.drift(t, domains, period=8) for t in range(3 * 8 + 1)]
    assert [image for image, _ in ticks[:24]] == [0] * 24 and ticks[24][0] == 1
    income = [values["income"] for _, values in ticks[:8]]
    assert max(income) == 2.5 and min(income) == -2.5 and all(v["health"] == 0 for _, v in ticks[:8])
    assert max(values["health"] for _, values in ticks[8:16]) == 2.5
    assert all(abs(v / 0.25 - round(v / 0.25)) < 1e-9 for _, values in ticks for v in values.values())


@pytest.mark.slow
def test_a_new_photo_stops_the_old_ones_optimiser():
    at = app("app_pages/upload.py")
    at.file_uploader(key="upload_file").set_value(("grey.png", png(np.full((64, 64, 3), 120, np.uint8)), "image/png")).run()
    at.radio(key="upload_method").set_value("projector").run()
    at.select_slider(key="upload_steps_projector").set_value(1000).run()
    at.button(key="upload_start").click().run()
    job = at.session_state["upload_job"]["job"]
    other = png(np.full((64, 64, 3), 30, np.uint8))
    at.file_uploader(key="upload_file").set_value(("dark.png", other, "image/png")).run()
    assert not at.exception and "upload_job" not in at.session_state
    assert job.stop.is_set()
    with pytest.raises(JobStopped):  # it ends at its next step, its partial result discarded
        job.future.result(timeout=120)


def readings_lines(at: AppTest) -> list[str]:
    return [c.value for c in at.caption if c.value.startswith("predicted deciles:")]


def test_the_generator_reads_its_images_with_the_image_models(e4e_photo):
    at = app("app_pages/generator.py", photo=e4e_photo, method="e4e")
    before, edited = readings_lines(at)
    assert "income" in before and "looks (percentile of the photos): " in before
    assert "(+0.0)" in edited or "(-0.0)" in edited  # every slider at 0: the edit reads as the inversion
    at.slider(key="generator_slider_income").set_value(3.0).run()
    assert not at.exception
    moved = readings_lines(at)
    assert moved[0] == before and moved[1] != edited  # the walked image reads differently, the inversion as before
    at.toggle(key="generator_read").set_value(False).run()
    assert not at.exception and not readings_lines(at)


def test_the_walk_matrix_draws_what_the_predictor_reads_along_each_walk():
    at = app("app_pages/walks.py")
    charts = at.get("vega_lite_chart")
    assert len(charts) == 1 and '"field": "reading"' in charts[0].proto.spec and '"field": "image"' in charts[0].proto.spec
    at.toggle(key="walks_read").set_value(False).run()
    assert not at.exception and not at.get("vega_lite_chart")


def test_the_predictions_page_maps_true_and_predicted_deciles_beside_table1():
    at = app("app_pages/predictions.py")
    assert len(at.get("deck_gl_json_chart")) == 2
    measures, beside, ranking = (frame.value for frame in at.dataframe)
    assert set(ranking["question"]) == {"wealthier", "safer", "livelier"} and ranking["ranker_accuracy"].between(0.5, 1).all()
    assert ranking["below_ceiling"].str.match(r"^-?\d\.\d{3} \[-?\d\.\d{3} to -?\d\.\d{3}\]$").all()  # the gap and its interval
    assert set(measures["grouping"]) == {"grouped by LSOA", "stratified over locations"}
    assert measures["kendall_tau"].between(-1, 1).all()
    assert set(beside["method"]) == {
        "e4e",
        "restyle",
        "images (VGG16 texture statistics)",
    }  # the projector was fitted on fewer photos
    assert beside["roc_auc"].str.match(r"^\d\.\d\d \[\d\.\d\d–\d\.\d\d\]$").all()
    at.selectbox(key="predict_domain").set_value("health").run()
    at.radio(key="predict_grouping").set_value("stratified").run()
    assert not at.exception and any("Health" in md.value for md in at.markdown)


def test_the_map_shows_a_perception_layer_beside_the_deciles():
    at = app("app_pages/map.py")
    assert len(at.get("deck_gl_json_chart")) == 1
    at.selectbox(key="map_perception").set_value("wealthier").run()
    assert not at.exception and len(at.get("deck_gl_json_chart")) == 2
    assert any("Which looks wealthier?" in c.value and "Spearman ρ" in c.value for c in at.caption)


def badges(at: AppTest) -> list[str]:
    return (
        [b.proto.body for b in at.get("badge")] if at.get("badge") else [m.value for m in at.markdown if ":material/" in m.value]
    )


def test_an_edit_carries_its_support_band_and_a_walk_far_out_is_unsupported_with_a_reason(e4e_photo):
    at = app("app_pages/generator.py", photo=e4e_photo, method="e4e")
    assert any("typical" in b or "unusual" in b for b in badges(at))  # a held-out photo's own code
    for domain_key in ("income", "health", "education"):  # privileged in every domain at once: beyond every photo
        at.slider(key=f"generator_slider_{domain_key}").set_value(3.0).run()
    assert not at.exception and any("unsupported" in b for b in badges(at))
    assert any(" sd of the photos: more privileged than any photo in the data" in c.value for c in at.caption)


def test_the_walk_matrix_marks_each_cells_support():
    at = app("app_pages/walks.py")
    marks = next(frame.value for frame in at.dataframe if "+3.0σ" in frame.value.columns)
    assert set(np.unique(marks.to_numpy())) <= {"✓", "!", "✗"} and marks.shape == (9, 7)  # 2 photos + 1 seed, 3 domains
    assert (marks.loc[marks.index.str.startswith("photo"), "0"] != "✗").all()  # held-out photos' own codes are supported…
    assert (marks["+3.0σ"] != "✓").sum() >= (marks["+1.0σ"] != "✓").sum()  # …and walking further never looks better


def test_the_kiosk_never_drifts_into_an_unsupported_edit():
    from thisineq.app import support as support_ui
    from thisineq.latent.normals import BoundarySet
    from thisineq.latent.ood import Support, SupportModel
    from thisineq.models.stylegan2 import load_generator

    demo = demo_set()
    model = Support(SupportModel.load(demo.boundaries / "ood_e4e.npz"))
    directions = BoundarySet.load(demo.normals).directions("e4e")
    generator = load_generator(demo.generator)
    shown = [support_ui.supported_seed(model, generator, seed, 0.8) for seed in range(4)]
    assert all(chosen >= seed for seed, chosen in enumerate(shown))
    for seed in shown:
        ws = generation.seed_ws(generator, seed, 0.8)
        assert support_ui.band_of(model, ws)[0] != "unsupported"  # a seed whose own image is unsupported is skipped
        for tick in range(0, 72, 6):
            _, values = generation.drift(tick, list(directions), amplitude=6.0)
            kept = support_ui.supported_values(model, ws, directions, values)
            assert support_ui.band_of(model, ws, [(directions[k], v) for k, v in kept.items() if v])[0] != "unsupported"
            assert all(abs(kept[k]) <= abs(v) and kept[k] * v >= 0 for k, v in values.items())  # drawn back, never flipped
