"""A lab's own model and photos, end to end: import a stylegan2-ada-pytorch snapshot, ingest a photo folder, build the
set with the pipeline, open it in the app — each step one command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from thisineq.cli import main

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOT = ROOT.parent / "shared" / "fixtures" / "stylegan2-ada-pytorch-32" / "network-snapshot-000100.pkl"


@pytest.mark.slow
@pytest.mark.skipif(not SNAPSHOT.is_file(), reason=f"the stylegan2-ada-pytorch fixture is not at {SNAPSHOT.parent}")
def test_import_ingest_pipeline_and_app_on_a_labs_own_model_and_photos(tmp_path, monkeypatch):
    from thisineq.metrics import lpips

    if not lpips.weights_path("alex").is_file():
        pytest.skip("LPIPS-alex weights not converted yet: run `python -m thisineq.metrics.lpips` (make test does)")
    raw, lab = tmp_path / "raw", tmp_path / "sets" / "mylab"
    # A photo folder with coordinates, an IoD2019 file and LSOA boundaries, in the real files' formats.
    assert main(["data", "synth", "--out", str(raw), "--photos", "120", "--size", "32", "--areas", "30", "--no-ingest"]) == 0
    assert main(["import", str(SNAPSHOT), "--out", str(lab / "gan"), "--discriminator"]) == 0
    ingest = ["data", "ingest", "--photos", str(raw), "--meta", str(raw / "metadata.csv"), "--size", "32", "--workers", "1"]
    ingest += ["--imd", str(raw / "synthetic_deciles_file2.csv"), "--boundaries", str(raw / "lsoa_boundaries.geojson")]
    assert main([*ingest, "--out", str(lab / "city" / "dataset")]) == 0
    pipeline = ["pipeline", "--tiny", "--bring-your-own", "--out", str(lab), "--work", str(tmp_path / "work")]
    pipeline += ["--boundary-bootstrap", "20"]
    assert main(pipeline) == 0
    for built in ("encoders/e4e.pt", "inversions/e4e/latents.npz", "boundaries/normals.npz", "walks/walks.json", "headline.json"):
        assert (lab / built).is_file(), built
    assert not (lab / "known_answer").exists()  # the synthetic city's check has no place here
    # The lab kept its discriminator: its realism joins the bands, calibrated like the codes' distances.
    ood = json.loads((lab / "boundaries" / "ood.json").read_text(encoding="utf-8"))
    assert ood["e4e"]["realism"] and set(ood["e4e"]["thresholds"]["photos"]) == {"atypicality", "domains", "unrealism"}
    times = json.loads((lab / "pipeline_times.json").read_text(encoding="utf-8"))
    assert "gan" not in times and "encoder_e4e" in times
    assert main(pipeline) == 0  # everything current: a second run skips every step

    monkeypatch.setenv("THISINEQ_ARTIFACTS", str(lab.parent))
    for page in ("home", "generator", "map", "metrics", "kiosk", "walks"):
        at = AppTest.from_file(str(ROOT / "app_pages" / f"{page}.py"), default_timeout=120)
        at.session_state["chosen_artifact_set"] = "mylab"
        at.run()
        assert not at.exception, (page, at.exception)
    assert len(at.get("image")) >= 1  # the walk matrix of the imported generator
    # The exhibition site bands its images with the kept discriminator too; a damaged one is named before anything is written.
    assert main(["export", "site", "--set", str(lab), "--out", str(tmp_path / "site"), "--streets", "2"]) == 0
    (lab / "gan" / "discriminator.pt").write_bytes(b"not a discriminator")
    assert main(["export", "site", "--set", str(lab), "--out", str(tmp_path / "site2"), "--streets", "2"]) == 2
    assert not (tmp_path / "site2").exists() and not (tmp_path / "site2.partial").exists()
    at = AppTest.from_file(str(ROOT / "app_pages" / "generator.py"), default_timeout=120)
    at.session_state["chosen_artifact_set"] = "mylab"
    at.run()
    assert not at.exception and any("discriminator cannot be read" in w.value for w in at.warning)
