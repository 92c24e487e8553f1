"""The inversion comparison: each score means what its definition says, and the table is complete."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import thisineq.invert.compare as comparison
from thisineq.invert.api import Inversion
from thisineq.invert.compare import (
    COLUMNS,
    WDistribution,
    compare_methods,
    edit_moves,
    editability,
    latent_recovery,
    reconstruction_summary,
    reference_scores,
)
from thisineq.latent.walk import Direction
from thisineq.models.stylegan2 import Discriminator, broadcast


def directions(n: int = 2) -> list[Direction]:
    rng = np.random.default_rng(0)
    out = []
    for k in range(n):
        v = rng.normal(size=16)
        out.append(Direction(f"d{k}", v / np.linalg.norm(v), 0.5 + k))
    return out


def test_reconstruction_summary_averages_and_caps_infinite_psnr():
    errors = pd.DataFrame({"mse": [0.0, 0.02], "psnr": [np.inf, 20.0], "ssim": [1.0, 0.5], "lpips": [0.0, 0.4]})
    summary = reconstruction_summary(errors)
    assert summary == pytest.approx({"photos": 2, "mse": 0.01, "psnr": 60.0, "ssim": 0.75, "lpips": 0.2})


def test_w_samples_are_typical_and_far_codes_are_not(tiny_models):
    g = tiny_models.generator
    dist = WDistribution(g, n=4000, seed=0)
    with torch.no_grad():
        fresh = broadcast(g.mapping(torch.randn(2000, 16, generator=torch.Generator().manual_seed(5))), g.num_ws)
    assert dist.atypicality(fresh).mean().item() == pytest.approx(1.0, abs=0.1)
    far = fresh + 10 * fresh.std(dim=0, keepdim=True)
    assert dist.atypicality(far).mean().item() > 20


def _fake_invert(answer):
    def fake(images, method, tiny_models, **kw):
        ws = answer(images)
        return Inversion(method, ws, tiny_models.generator.synthesis(ws), seconds=0.01)

    return fake


def test_latent_error_is_zero_for_the_truth_and_one_for_w_avg(tiny_models, monkeypatch):
    g = tiny_models.generator
    seen = {}
    synthesis = g.synthesis

    def recording(ws, **kw):
        seen.setdefault("ws", ws.clone())
        return synthesis(ws, **kw)

    monkeypatch.setattr(g, "synthesis", recording)
    monkeypatch.setattr(comparison, "invert", _fake_invert(lambda images: seen["ws"]))
    assert latent_recovery(tiny_models, "e4e", 6)["latent_error"] == pytest.approx(0.0, abs=1e-9)
    monkeypatch.setattr(comparison, "invert", _fake_invert(lambda images: broadcast(g.w_avg.expand(len(images), -1), g.num_ws)))
    assert latent_recovery(tiny_models, "e4e", 6)["latent_error"] == pytest.approx(1.0, rel=1e-5)


def test_edit_moves_cycle_domains_and_alternate_sign():
    dirs = directions(2)
    moves = edit_moves(dirs, 5, 2.0)
    assert [(d.name, a) for d, a in moves] == [("d0", 2.0), ("d1", 2.0), ("d0", -2.0), ("d1", -2.0), ("d0", 2.0)]
    with pytest.raises(ValueError, match="at least one"):
        edit_moves([], 3, 2.0)


def test_lec_is_zero_for_a_perfect_inverter_and_one_for_one_that_ignores_the_edit(tiny_models, monkeypatch):
    g = tiny_models.generator
    with torch.no_grad():
        ws = broadcast(g.mapping(torch.randn(4, 16, generator=torch.Generator().manual_seed(1))), g.num_ws)
    synthesis, seen = g.synthesis, {}

    def recording(latents, **kw):
        seen["ws"] = latents.clone()
        return synthesis(latents, **kw)

    monkeypatch.setattr(g, "synthesis", recording)
    dist = WDistribution(g, n=1000)
    monkeypatch.setattr(comparison, "invert", _fake_invert(lambda images: seen["ws"]))
    perfect = editability(tiny_models, "e4e", ws, directions(), w_distribution=dist)
    assert perfect["lec"] == pytest.approx(0.0, abs=1e-5) and perfect["lec_relative"] == pytest.approx(0.0, abs=1e-5)
    assert np.isnan(perfect["edit_realism"]) and perfect["edit_atypicality"] > 0
    monkeypatch.setattr(comparison, "invert", _fake_invert(lambda images: ws))
    ignoring = editability(tiny_models, "e4e", ws, directions(), w_distribution=dist)
    assert ignoring["lec_relative"] == pytest.approx(1.0, rel=1e-4)


def test_the_table_has_every_method_and_score(tiny_models):
    rng = np.random.default_rng(0)
    photos = rng.integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)
    errors = pd.DataFrame({"mse": [0.1, 0.2, 0.3], "psnr": [10.0, 7.0, 5.0], "ssim": [0.1, 0.2, 0.3], "lpips": [0.5, 0.5, 0.5]})
    latents = broadcast(tiny_models.generator.mapping(torch.randn(3, 16)), tiny_models.generator.num_ws).numpy()
    methods = tiny_models.available()
    config = comparison.ComparisonConfig(timing_photos=1, recovery_samples=2, edit_photos=2, projector_steps=3, hybrid_steps=2)
    discriminator = Discriminator(tiny_models.generator.config)
    table = compare_methods(
        tiny_models,
        {m: errors for m in methods},
        {m: photos for m in methods},
        {m: latents for m in methods},
        {m: directions() for m in methods},
        config,
        discriminator=discriminator,
    )
    assert list(table.columns) == list(COLUMNS) and list(table["method"]) == list(methods)
    numeric = table.drop(columns=["method", "photos_per_second"]).to_numpy(float)
    assert np.isfinite(numeric).all()
    assert (table["seconds_per_photo"] > 0).all() and (table["photos"] == 3).all()
    encoders = table["method"].isin(["e4e", "restyle"])
    assert (table.loc[encoders, "photos_per_second"] > 0).all() and table.loc[~encoders, "photos_per_second"].isna().all()
    assert (table["code_atypicality"] > 0).all()  # the median code's squared Mahalanobis distance per dimension
    reference = reference_scores(tiny_models, photos, discriminator, n=64)
    assert set(reference) == {"sample_atypicality", "sample_realism", "photo_realism", "w_avg_lpips"}
