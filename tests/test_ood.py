"""Out-of-distribution bands: calibrated on held-out codes, monotone in a walk's length, explained in words, saved safely."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from thisineq.errors import ThisIneqError
from thisineq.latent.normals import Direction
from thisineq.latent.ood import (
    BANDS,
    OODConfig,
    Support,
    SupportModel,
    calibrate,
    detection_rates,
    fit_support,
    moved,
    realised,
    unsupported_edits,
)
from thisineq.latent.wspace import WSpace

DIM = 12


def _world(seed=0, n_photos=1200):
    """A W of 12 dimensions, photos' codes narrower and shifted in it, two correlated domains read off two axes."""
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(DIM, DIM)) / np.sqrt(DIM)
    w_samples = rng.normal(size=(20000, DIM)) @ mixing.T
    wspace = WSpace.from_samples(w_samples[:10000])
    latent = rng.normal(size=n_photos)  # deprivation, shared by both domains
    codes = 0.3 * rng.normal(size=(n_photos, DIM)) @ mixing.T + 0.2
    codes[:, 0] += 0.5 * (latent + 0.5 * rng.normal(size=n_photos))
    codes[:, 1] += 0.5 * (latent + 0.5 * rng.normal(size=n_photos))
    deciles = pd.DataFrame(
        {
            "income": np.clip(np.ceil(5.5 + 2 * codes[:, 0]), 1, 10).astype(int),
            "health": np.clip(np.ceil(5.5 + 2 * codes[:, 1]), 1, 10).astype(int),
        }
    )
    normals = {"income": np.eye(DIM)[0], "health": np.eye(DIM)[1]}
    directions = {k: Direction(k, n, wspace.spread(n)) for k, n in normals.items()}
    areas = deciles.groupby(np.arange(n_photos) // 4).first()
    return wspace, w_samples[10000:], codes, deciles, normals, directions, areas


@pytest.fixture(scope="module")
def calibrated():
    wspace, w_samples, codes, deciles, normals, directions, areas = _world()
    fitted, held_out = codes[:600], codes[600:]
    model = fit_support(wspace, fitted, deciles.iloc[:600], normals, areas)
    record = calibrate(model, held_out[:, None].repeat(3, axis=1), w_samples, OODConfig())
    return model, record, held_out, directions


def test_held_out_photos_and_generator_samples_are_typical_at_the_calibrated_rates(calibrated):
    model, record, held_out, _ = calibrated
    assert record["false_alarms"]["photos"]["codes"] == 300 and record["false_alarms"]["w"]["codes"] == 5000
    for reference in ("photos", "w"):
        assert record["false_alarms"][reference]["unsupported"] <= 0.02
        assert record["false_alarms"][reference]["unusual_or_worse"] <= 0.15
    thresholds = record["thresholds"]["photos"]["domains"]
    assert thresholds["unusual"] < thresholds["unsupported"]


def test_the_band_never_improves_as_a_walk_goes_further(calibrated):
    model, _, held_out, directions = calibrated
    levels = np.stack(
        [
            model.scores(moved(held_out[:100, None], [(directions["income"], alpha)]))["band"].map(BANDS.index).to_numpy()
            for alpha in (0, 1, 2, 4, 6, 8)
        ]
    )
    assert (np.diff(levels, axis=0) >= 0).mean() > 0.97  # per photo, almost every longer step is as bad or worse
    assert levels[0].mean() < 0.2 and (levels[-1] == 2).all()


def test_known_unsupported_edits_are_flagged_and_explained(calibrated):
    model, _, held_out, directions = calibrated
    edits = unsupported_edits(held_out[:200, None], directions)
    assert set(edits) == {
        "income +6σ",
        "income -6σ",
        "health +6σ",
        "health -6σ",
        "income +3σ, health -3σ",
        "income -3σ, health +3σ",
    }
    rates = detection_rates(model, edits).set_index("edit")
    assert (rates.loc[["income +6σ", "health -6σ"], "unsupported"] == 1).all()
    assert (rates.loc[["income +3σ, health -3σ", "income -3σ, health +3σ"], "unsupported"] >= 0.9).all()  # no photo combines them
    scores = model.scores(edits["income +6σ"][:3])
    reasons = model.reasons(scores)
    assert all("income" in r and "than any photo in the data" in r for r in reasons)
    # Milder opposed pushes stay within each domain's range but leave the photos' joint spread; the areas are counted.
    milder = unsupported_edits(held_out[:200, None], directions, opposed=1.0)["income +1σ, health -1σ"]
    opposed = model.reasons(model.scores(milder))
    assert any("outside the photos' joint spread" in r and r.endswith("of 300)") for r in opposed)
    assert (model.reasons(model.scores(held_out[:50, None]))[lambda r: r != ""].str.len() > 10).all()


def test_opposed_pushes_move_each_coordinate_by_its_full_push_even_along_correlated_normals():
    rng = np.random.default_rng(1)
    income = np.eye(DIM)[0]
    education = 0.86 * np.eye(DIM)[0] + np.sqrt(1 - 0.86**2) * np.eye(DIM)[1]  # the demo's income-education cosine
    directions = {"income": Direction("income", income, 0.5), "education": Direction("education", education, 0.8)}
    ws = rng.normal(size=(5, 3, DIM))
    pushes = [(directions["income"], 3.0), (directions["education"], -3.0)]
    summed, pushed = moved(ws, pushes) - ws, realised(ws, pushes) - ws
    # Summed, the pushes mostly cancel; realised, income reads +3σ and education -3σ, as the edit's name says.
    assert summed[0, 0] @ income == pytest.approx(3 * 0.5 - 3 * 0.8 * 0.86)
    assert pushed[..., :] @ income == pytest.approx(np.full((5, 3), 1.5))
    assert pushed[..., :] @ education == pytest.approx(np.full((5, 3), -2.4))
    assert np.allclose(pushed[..., 2:], 0)  # nothing outside the normals' span
    edits = unsupported_edits(ws, directions)
    assert np.allclose(edits["income +3σ, education -3σ"], ws + pushed)


def test_a_support_model_round_trips_through_its_file_and_a_foreign_file_is_named(calibrated, tmp_path):
    model, _, held_out, _ = calibrated
    model.save(tmp_path / "ood.npz")
    again = SupportModel.load(tmp_path / "ood.npz")
    pd.testing.assert_frame_equal(again.scores(held_out[:20]), model.scores(held_out[:20]))
    np.savez(tmp_path / "other.npz", weights=np.zeros(3))
    with pytest.raises(ThisIneqError, match="not a support model"):
        SupportModel.load(tmp_path / "other.npz")


def test_a_kept_discriminators_realism_joins_the_bands_and_says_why():
    wspace, w_samples, codes, deciles, normals, directions, areas = _world(seed=3)
    model = fit_support(wspace, codes[:600], deciles.iloc[:600], normals, areas)
    rng = np.random.default_rng(4)
    held_out = codes[600:, None].repeat(3, axis=1)
    realism = {"photos": rng.normal(1.0, 0.5, len(held_out)), "w": rng.normal(0.5, 0.5, len(w_samples))}
    record = calibrate(model, held_out, w_samples, OODConfig(), realism)
    assert model.reads_realism and record["realism"]
    assert record["thresholds"]["photos"]["unrealism"]["unusual"] < record["thresholds"]["photos"]["unrealism"]["unsupported"]
    assert record["false_alarms"]["photos"]["unsupported"] <= 0.02
    photos = held_out[:50]
    typical = model.scores(photos, np.full(50, 1.0))
    assert (typical["band"] == "typical").mean() > 0.8
    # The same codes, their images scored far below every real one: unsupported whatever the codes say, and why.
    broken = model.scores(photos, np.full(50, -20.0))
    assert (broken["band"] == "unsupported").all()
    assert model.reasons(broken).str.contains("the discriminator finds the image less real").all()
    # Scored without the images' logits (a caller with no discriminator), the codes alone decide.
    alone = model.scores(photos)
    assert "photos_unrealism" not in alone and (alone["band"] == typical["band"]).all()
    with pytest.raises(ValueError, match="one realism logit per latent"):
        model.scores(photos, np.zeros(3))
    # Edits are scored with their own images' logits.
    edits = {"income +6σ": moved(photos, [(directions["income"], 6.0)]), "kept": photos}
    rates = detection_rates(model, edits, {"income +6σ": np.full(50, 1.0), "kept": np.full(50, -20.0)}).set_index("edit")
    assert rates.loc["income +6σ", "unsupported"] == 1 and rates.loc["kept", "unsupported"] == 1


def test_realism_thresholds_survive_the_file(tmp_path):
    wspace, w_samples, codes, deciles, normals, _, areas = _world(seed=5)
    model = fit_support(wspace, codes[:600], deciles.iloc[:600], normals, areas)
    rng = np.random.default_rng(6)
    realism = {"photos": rng.normal(size=600), "w": rng.normal(size=len(w_samples))}
    calibrate(model, codes[600:], w_samples, OODConfig(), realism)
    model.save(tmp_path / "ood.npz")
    again = SupportModel.load(tmp_path / "ood.npz")
    assert again.reads_realism
    logits = rng.normal(size=40)
    pd.testing.assert_frame_equal(again.scores(codes[600:640], logits), model.scores(codes[600:640], logits))


def test_support_reads_the_images_it_is_given_or_renders_them_with_the_generator():
    import torch

    from thisineq.errors import ConfigError
    from thisineq.models.stylegan2 import Discriminator, Generator, StyleGAN2Config, broadcast

    wspace, w_samples, codes, deciles, normals, _, areas = _world(seed=7)
    model = fit_support(wspace, codes[:600], deciles.iloc[:600], normals, areas)
    rng = np.random.default_rng(8)
    calibrate(model, codes[600:], w_samples, OODConfig(), {"photos": rng.normal(size=600), "w": rng.normal(size=len(w_samples))})
    torch.manual_seed(0)
    config = StyleGAN2Config(size=16, style_dim=DIM, n_mlp=1, channels={4: 8, 8: 8, 16: 8})
    generator, discriminator = Generator(config).eval(), Discriminator(config).eval()
    support, latents = Support(model, discriminator), codes[600:610]
    with torch.no_grad():
        rendered = generator.synthesis(broadcast(torch.from_numpy(latents).float(), generator.num_ws))
    # A page that has rendered the edit hands its image over; the bands are those of the generator rendering it again.
    given, drawn = support.scores(latents, images=rendered), support.scores(latents, generator)
    pd.testing.assert_frame_equal(given, drawn, atol=1e-5)
    assert "photos_unrealism" in given
    other = support.scores(latents, images=rendered.flip(-1) * 0.5)
    assert not np.allclose(other["photos_unrealism"], given["photos_unrealism"])  # the image given is the one read
    with pytest.raises(ConfigError, match="pass the images or the generator"):
        support.scores(latents)
    # With no discriminator kept, the codes alone band the edits and nothing is rendered.
    alone = Support(model).scores(latents)
    assert "photos_unrealism" not in alone and Support(model).bands(latents)[0] == list(alone["band"])
