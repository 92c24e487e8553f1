"""The oracle and the known-answer benchmark, on cases whose answer is known exactly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from thisineq.data.synth import city
from thisineq.data.synth.build import SynthConfig, plan_city
from thisineq.data.synth.links import scene
from thisineq.data.synth.render import SceneFactors, plan_scene, render
from thisineq.known_answer.benchmark import known_answer_table
from thisineq.known_answer.oracle import FACTORS, factor_targets, load_oracle, own_factors, predict, save_oracle, train_oracle
from thisineq.latent.walk import Direction

DIM = 8
AXIS = {"income": 0, "health": 1, "education": 2}


def linear_reader(ws: torch.Tensor) -> np.ndarray:
    """A stand-in for generator + oracle: each domain's axis drives the factors the renderer ties to it."""
    w = ws.mean(dim=1).numpy()
    out = np.full((len(w), len(FACTORS)), 0.5)
    for domain, axis in AXIS.items():
        for factor in own_factors(domain):
            sign = 1 if factor not in ("density", "litter", "graffiti") else -1
            out[:, FACTORS.index(factor)] = 1 / (1 + np.exp(-sign * w[:, axis]))
    return out


def test_clean_directions_score_perfectly_and_mixed_ones_leak():
    ws = torch.randn(12, 4, DIM, generator=torch.Generator().manual_seed(0)) * 0.3
    clean = {d: Direction(d, np.eye(DIM)[a], 1.0) for d, a in AXIS.items()}
    table = known_answer_table(linear_reader, ws, clean).set_index("domain")
    assert (table["own_rho"] > 0.99).all() and (table["leakage"] < 1e-6).all() and (table["nuisance"] == 0).all()
    mixed = (np.eye(DIM)[0] + np.eye(DIM)[1]) / np.sqrt(2)
    leaky = known_answer_table(linear_reader, ws, {"income": Direction("income", mixed, 1.0), "health": clean["health"]})
    assert leaky.set_index("domain").loc["income", "leakage"] > 0.3  # greenery moves with income's cars; litter does not
    # Further kinds of boundary are scored beside the plain ones, leakage counted against the plain set's domains.
    kinds = known_answer_table(
        linear_reader, ws, clean, {"principal": {"income": Direction("income", mixed, 1.0)}, "conditional": {}}
    )
    assert list(zip(kinds["boundary"], kinds["domain"], strict=True)) == [("plain", d) for d in clean] + [("principal", "income")]
    assert kinds.iloc[-1]["leakage"] > 0.3 and (kinds.iloc[:-1]["leakage"] < 1e-6).all()


def test_oracle_learns_factors_from_rendered_photos(tmp_path):
    _, _, photos = plan_city(SynthConfig(n_photos=240, size=32, city=city.CityConfig(n_lsoas=40, seed=6)))
    fields = list(SceneFactors.__dataclass_fields__)
    images = np.stack(
        [render(plan_scene(scene(dict(zip(fields, v, strict=True)))), 32) for v in photos[fields].itertuples(index=False)]
    )
    targets = factor_targets(photos)
    assert targets.min() >= 0 and targets.max() <= 1
    is_test = np.arange(len(images)) >= 200
    model, report = train_oracle(images, targets, is_test, epochs=6, batch=32, progress=False)
    assert set(report.r2) == set(FACTORS) and report.n_test == 40
    assert report.r2["density"] > 0.3  # building type is the most visible factor, learned even from 200 photos
    save_oracle(model, tmp_path / "oracle.pt", report)
    loaded, r2 = load_oracle(tmp_path / "oracle.pt")
    x = torch.from_numpy(images[:4]).permute(0, 3, 1, 2)
    assert np.allclose(predict(loaded, x), predict(model, x), atol=1e-6) and r2 == report.r2
    assert isinstance(pd.Series(report.r2).median(), float)
