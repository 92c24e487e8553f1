"""The committed demo models do their jobs: the encoders beat no inversion at all on held-out photos,
and the committed results agree with the models they came from."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from thisineq.artifacts import demo_set
from thisineq.data.dataset import load_dataset
from thisineq.images import to_tensor
from thisineq.invert.api import InversionModels, invert
from thisineq.invert.batch import load_inversions
from thisineq.metrics.image import psnr
from thisineq.metrics.lpips import LPIPS, weights_path
from thisineq.models.stylegan2 import broadcast

DEMO = demo_set()


@pytest.fixture(scope="module")
def held_out() -> torch.Tensor:
    data = load_dataset(DEMO.dataset)
    rows = data.photos[data.photos["split"] == "test"].sort_values("cache_index")
    return to_tensor(np.asarray(data.images())[rows["cache_index"].to_numpy()])


@pytest.fixture(scope="module")
def models() -> InversionModels:
    return InversionModels.load(DEMO.generator, e4e=DEMO.encoder("e4e"), restyle=DEMO.encoder("restyle"), lpips_net=None)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["e4e", "restyle"])
def test_encoders_beat_the_average_latent_on_held_out_photos(models, held_out, method):
    if not weights_path("alex").is_file():
        pytest.skip("LPIPS weights not converted yet: run `python -m thisineq.metrics.lpips` (make test does)")
    lpips = LPIPS("alex")
    generator = models.generator
    with torch.no_grad():
        average = generator.synthesis(broadcast(generator.w_avg[None], generator.num_ws)).expand_as(held_out)
        reconstruction = invert(held_out, method, models).reconstruction
        ours, baseline = lpips(reconstruction, held_out).mean(), lpips(average, held_out).mean()
    assert ours < 0.9 * baseline, (float(ours), float(baseline))
    assert (psnr(reconstruction, held_out).mean() - psnr(average, held_out).mean()) > 0.5  # dB


def test_committed_inversions_are_what_the_committed_encoder_gives(models, held_out):
    inversions = load_inversions(DEMO.inversion("e4e"))
    data = load_dataset(DEMO.dataset)
    first = data.photos.sort_values("cache_index").index[:8]
    rows = [int(np.flatnonzero(inversions.photo_id == p)[0]) for p in first]
    photos = to_tensor(np.asarray(data.images())[data.photos.loc[first, "cache_index"].to_numpy()])
    with torch.no_grad():
        ws = invert(photos, "e4e", models).ws.numpy()
    assert np.abs(ws - inversions.ws[rows]).max() < 2e-2  # float16 storage


def test_table1_has_every_domain_and_method_with_intervals():
    table = pd.read_csv(DEMO.boundaries / "table1.csv")
    grouped = table[table["split"] == "by LSOA"]
    assert {(d, m) for d in ("income", "health", "education") for m in ("e4e", "restyle", "projector")} <= set(
        zip(grouped["domain"], grouped["method"], strict=True)
    )
    scored = grouped.dropna(subset=["f1"])
    assert ((scored["f1_low"] <= scored["f1"]) & (scored["f1"] <= scored["f1_high"])).all()
