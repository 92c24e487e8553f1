"""The pipeline end to end with tiny models: every artifact written, and a rerun skips every step."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from thisineq.metrics import lpips
from thisineq.pipeline import Pipeline, PipelineConfig


def test_tiny_pipeline_builds_everything_and_then_skips(tmp_path):
    if not (lpips.weights_path("alex").is_file() and lpips.weights_path("vgg").is_file()):
        pytest.skip("LPIPS weights not converted yet: run `python -m thisineq.metrics.lpips` (make test does)")
    config = PipelineConfig.tiny(out=str(tmp_path / "out"), work=str(tmp_path / "work"))
    messages = []
    Pipeline(config, progress=False, log=messages.append).run()
    out = tmp_path / "out"
    for path in (
        "gan/generator.pt",
        "gan/MODEL_CARD.md",
        "encoders/e4e.pt",
        "encoders/restyle.pt",
        "inversions/projector/errors.csv",
        "inversions/hybrid/errors.csv",
        "inversions/comparison.csv",
        "inversions/comparison.json",
        "walks/walks.json",
        "walks/e4e.png",
        "encoders/e4e_MODEL_CARD.md",
        "encoders/restyle_MODEL_CARD.md",
        "boundaries/table1.csv",
        "boundaries/normals.npz",
        "known_answer/table.csv",
        "city/dataset/dataset.json",
    ):
        assert (out / path).is_file(), path
    table = pd.read_csv(out / "boundaries" / "table1.csv")
    assert {"e4e", "restyle", "projector"} <= set(table["method"]) and set(table["split"]) == {"by LSOA", "by photo"}
    # The encoders' boundaries come from their inversions of the training city, the projector's from the demo's.
    fitted_on = json.loads((out / "boundaries" / "boundaries.json").read_text(encoding="utf-8"))["fitted_on"]
    assert fitted_on["e4e"]["photos"] == fitted_on["restyle"]["photos"] == config.boundary_photos
    assert fitted_on["projector"]["photos"] == config.projector_photos
    assert all(entry["sigma_w"] > 0 for entry in fitted_on["e4e"]["domains"].values())
    assert (tmp_path / "work" / "inversions" / "e4e" / "latents.npz").is_file()
    # Each boundary is also fitted on W's first principal axes, and its walks are drawn and scored beside the full-space ones.
    visibility = pd.read_csv(out / "boundaries" / "visibility.csv")
    assert set(visibility["fit"]) == {"full space", f"{config.boundary_principal_axes} principal axes"}
    assert (visibility["sigma_w"] > 0).all() and (visibility["change"] > 0).all() and visibility["f1"].between(0, 1).all()
    assert (out / "walks" / "e4e_principal.png").is_file()
    assert "principal" in set(pd.read_csv(out / "known_answer" / "table.csv")["boundary"])
    card = (out / "encoders" / "e4e_MODEL_CARD.md").read_text(encoding="utf-8")
    assert "held-out demo photos" in card and "| 4 |" in card  # the held-out evaluation, and the last step's row
    compared = pd.read_csv(out / "inversions" / "comparison.csv")
    assert list(compared["method"]) == ["e4e", "restyle", "projector", "hybrid"]
    assert compared[["mse", "lpips", "seconds_per_photo", "latent_error"]].notna().all().all()
    assert compared.set_index("method").loc[["e4e", "hybrid"], "lec"].notna().all()  # e4e's boundaries exist even when tiny
    rerun = []
    Pipeline(config, progress=False, log=rerun.append).run()
    assert all("skipped" in line for line in rerun) and len(rerun) == 15
