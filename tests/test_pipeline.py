"""The pipeline: its steps declared once, the boundaries fitted from arrays, and a tiny run end to end that a rerun skips."""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from thisineq.artifacts import REBUILD_COMMANDS, demo_set
from thisineq.config import option_values
from thisineq.errors import ConfigError
from thisineq.latent.boundaries import LatentBoundary
from thisineq.latent.labels import DECILE_BANDS, labelled_subset
from thisineq.latent.normals import BoundarySet, Direction
from thisineq.latent.wspace import WSpace
from thisineq.metrics import lpips
from thisineq.pipeline import STEPS, Pipeline, PipelineConfig, Workspace, fingerprint, rebuild_commands
from thisineq.pipeline.boundaries import VISIBILITY_COLUMNS, FitSettings, boundary_set, fit_domain, fit_method, visibility_rows


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
        "figures/figures.json",
        "figures/fig3_e4e_income.png",
        "figures/fig3_e4e_income.csv.gz",
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
    assert list(dict.fromkeys(table["classes"])) == ["ranks 20%", "deciles 1-3 vs 8-10"]  # the paper's first
    assert table["f1"].notna().any() and table["C"].notna().any()
    # Every method's boundaries come from its inversions of the training city: the projector's from fewer photos.
    fitted_on = json.loads((out / "boundaries" / "boundaries.json").read_text(encoding="utf-8"))["fitted_on"]
    assert fitted_on["e4e"]["photos"] == fitted_on["restyle"]["photos"] == config.boundary_photos
    assert fitted_on["projector"]["photos"] == config.projector_boundary_photos != config.projector_photos
    assert fitted_on["projector"]["latents"] == str(tmp_path / "work" / "inversions" / "projector")
    assert all(entry["fits"]["whitened"]["sigma_w"] > 0 for entry in fitted_on["e4e"]["domains"].values())
    assert (tmp_path / "work" / "inversions" / "e4e" / "latents.npz").is_file()
    # The prior is the optimisers': the projector's inversions record it, an encoder's do not.
    recorded = {
        m: json.loads((out / "inversions" / m / "inversion.json").read_text(encoding="utf-8"))["settings"]
        for m in ("e4e", "projector")
    }
    assert recorded["projector"]["w_prior"] == config.projector_w_prior > 0 and "w_prior" not in recorded["e4e"]
    # Every fit kind, with its stability, separation and visibility; Fig. 4 walks held-out photos and random seeds.
    visibility = pd.read_csv(out / "boundaries" / "visibility.csv")
    assert set(visibility["fit"]) == {"whitened W", "standardised latents", "W's principal axes", "partial effect"}
    assert (visibility["sigma_w"] > 0).all() and (visibility["change"] > 0).all()
    classified = visibility[visibility["fit"] != "partial effect"]
    assert classified["f1"].dropna().between(0, 1).all() and classified["f1"].notna().any()
    assert visibility.loc[visibility["fit"] == "whitened W", "split_half_cosine"].between(-1, 1).all()
    assert (out / "walks" / "e4e_random.png").is_file()
    assert set(BoundarySet.load(out / "boundaries" / "normals.npz").fits("e4e")) == {
        "whitened",
        "standardised",
        "principal",
        "partial",
    }
    known = out / "known_answer"
    for name in ("table.csv", "truth_profiles.csv", "oracle_validation.json", "control_table.csv", "summary.json"):
        assert (known / name).is_file(), name
    walked = pd.read_csv(known / "table.csv")
    assert set(walked["direction"]) == {"boundary", "flipped", "random", "ideal", "interfacegan"}
    assert set(walked["oracle_seed"]) == set(config.oracle_seeds) and {"whitened", "partial"} <= set(walked["fit"])
    assert set(pd.read_csv(known / "control_table.csv")["direction"]) == {"boundary", "flipped", "random"}
    assert {"boundaries", "control", "oracle_seed_spread"} <= set(
        json.loads((known / "summary.json").read_text(encoding="utf-8"))
    )
    card = (out / "encoders" / "e4e_MODEL_CARD.md").read_text(encoding="utf-8")
    assert "held-out demo photos" in card and "| 4 |" in card  # the held-out evaluation, and the last step's row
    compared = pd.read_csv(out / "inversions" / "comparison.csv")
    assert list(compared["method"]) == ["e4e", "restyle", "projector", "hybrid"]
    assert compared[["mse", "lpips", "seconds_per_photo", "latent_error"]].notna().all().all()
    assert compared.set_index("method").loc[["e4e", "hybrid"], "lec"].notna().all()  # e4e's boundaries exist even when tiny
    # Out-of-distribution bands per walked method, with their false alarms and the known-unsupported edits they flag.
    support = json.loads((out / "boundaries" / "ood.json").read_text(encoding="utf-8"))
    assert {"e4e", "restyle"} <= set(support) and (out / "boundaries" / "ood_e4e.npz").is_file()
    assert 0 <= support["e4e"]["false_alarms"]["photos"]["unsupported"] <= 1 and support["e4e"]["known_unsupported"]
    # The image side: decile prediction judged beside Table 1 on the boundaries' photos, and the crowd's perception.
    measures = pd.read_csv(out / "predict" / "measures.csv")
    assert set(measures["domain"]) == set(config.domains) and set(measures["grouping"]) == {"stratified", "lsoa"}
    assert measures["ceiling_kendall_tau"].between(-1, 1).all()  # the synthetic city's known answer beside each
    beside = pd.read_csv(out / "predict" / "table1.csv")
    assert set(beside["method"]) == {"images (VGG16 texture statistics)"} and list(dict.fromkeys(beside["classes"])) == list(
        dict.fromkeys(table["classes"])
    )
    e4e_rows = table[(table["method"] == "e4e") & (table["split"] == "by LSOA")]
    same_photos = beside.merge(e4e_rows, on=["domain", "classes"], suffixes=("", "_e4e")).dropna(subset=["roc_auc"])
    assert len(same_photos) and (same_photos["n"] == same_photos["n_e4e"]).all()  # the boundaries' labelled photos
    lsoa = pd.read_csv(out / "predict" / "lsoa.csv")
    assert lsoa["predicted"].between(1, 10).all() and lsoa["true"].between(1, 10).all()
    ranking = pd.read_csv(out / "perception" / "ranking.csv")
    assert set(ranking["question"]) == {"wealthier", "safer", "livelier"} and ranking["ceiling_accuracy"].notna().all()
    assert {"wealthier", "safer", "livelier"} <= set(pd.read_csv(out / "perception" / "perception_lsoa.csv").columns)
    assert not list((out / "predict").glob("predictions*")) and not list((out / "perception").glob("perception_scores*"))
    rerun = []
    Pipeline(config, progress=False, log=rerun.append).run()
    assert rerun == [f"[{step.name}] current, skipped" for step in STEPS]
    # A photo that moves to another LSOA changes its deciles: the steps that label photos are stale, the rest not.
    table = tmp_path / "work" / "city" / "dataset" / "photos.csv"
    table.write_text(table.read_text(encoding="utf-8").replace(",train,", ",val,", 1), encoding="utf-8")
    pipeline = Pipeline(config, progress=False)
    stale = {step.name for step in pipeline.steps() if not pipeline.is_current(step)}
    # Fig. 3, the truth profiles and the image side label those photos too.
    assert stale == {"boundaries", "support", "figures", "known_answer", "predict", "crowd", "perception"}


def test_the_projectors_prior_changes_its_steps_settings_only_where_there_is_one():
    by_name = {step.name: step for step in STEPS}
    plain, held = PipelineConfig(projector_w_prior=0.0), PipelineConfig(projector_w_prior=0.01)
    assert "projector_w_prior" not in json.dumps(by_name["invert_projector"].settings(plain))  # fingerprints as before
    assert "w_prior" not in by_name["comparison"].settings(plain)
    for name in ("invert_projector", "invert_hybrid", "invert_city_projector", "walks", "comparison"):
        assert by_name[name].settings(held) != by_name[name].settings(plain), name
    # Only the optimisers read the prior: the encoders' inversions stay current whatever it is.
    for name in ("encoder_e4e", "invert_e4e", "invert_restyle", "invert_city_e4e", "boundaries", "predict"):
        assert by_name[name].settings(held) == by_name[name].settings(plain), name


def test_every_step_is_declared_once_with_its_files_and_settings():
    names = [step.name for step in STEPS]
    assert len(names) == len(set(names)) and names[0] == "city" and names[-1] == "headline"  # the headline reads the rest
    assert names.index("oracle") < names.index("known_answer_control") < names.index("known_answer")
    assert names.index("gan") < names.index("oracle") < names.index("gan_quality")  # the quality reads with the oracle
    assert names.index("invert_city_e4e") < names.index("boundaries") < names.index("walks")
    config = PipelineConfig()
    paths = Workspace(config)
    for step in STEPS:
        assert step.outputs(paths) and all(isinstance(p, Path) for p in step.inputs(paths) + step.outputs(paths))
        json.dumps(step.settings(config), default=str)  # settings are plain data, fingerprinted as JSON
    # Without training-city inversions, the boundaries come from the demo's photos and the steps that invert the city go.
    demo_only = [step.name for step in Pipeline(PipelineConfig(boundary_photos=None, projector_boundary_photos=None)).steps()]
    assert demo_only == [name for name in names if not name.startswith("invert_city_")]
    encoders_only = [step.name for step in Pipeline(PipelineConfig(projector_boundary_photos=None)).steps()]
    assert encoders_only == [name for name in names if name != "invert_city_projector"]
    assert Workspace(PipelineConfig(projector_boundary_photos=None)).boundary_latents()["projector"] == paths.inversion(
        "projector"
    )


def test_the_rebuild_commands_name_the_steps_that_build_each_folder():
    commands = rebuild_commands()
    assert commands["inversions"] == "thisineq pipeline --only invert_e4e invert_restyle invert_projector invert_hybrid"
    assert (
        commands["boundaries"]
        == "thisineq pipeline --only invert_city_e4e invert_city_restyle invert_city_projector boundaries support"
    )
    assert all(
        REBUILD_COMMANDS[f"demo/{folder}"] == command for folder, command in commands.items() if folder not in ("city", "gan")
    )
    assert REBUILD_COMMANDS["demo/city"].startswith("thisineq data synth")  # the committed city was built outside the pipeline


def test_the_committed_demo_is_current_for_every_step_whose_inputs_are_committed():
    """The fingerprints of today's settings and files match what built the demo (the comparison went stale when the
    principal-axes normals joined normals.npz; `thisineq pipeline --only comparison` rebuilds it)."""
    demo = demo_set()
    recorded = json.loads((demo.root / "pipeline.json").read_text(encoding="utf-8"))
    pipeline = Pipeline(PipelineConfig(out=str(demo.root)), progress=False)
    checked = {"encoder_e4e", "encoder_restyle", "invert_e4e", "invert_restyle", "invert_projector", "invert_hybrid"}
    checked |= {"walks"}  # the known answer needs the oracles of the work folder (`thisineq pipeline --only oracle`)
    steps = [step for step in pipeline.steps() if step.name in checked]
    assert {step.name for step in steps} == checked
    for step in steps:
        assert pipeline.fingerprint(step) == recorded[step.name], step.name


def test_a_fingerprint_follows_settings_and_file_contents(tmp_path):
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    a.write_bytes(b"one")
    b.write_bytes(b"one")
    assert fingerprint({"x": 1}, [a]) == fingerprint({"x": 1}, [a])
    assert fingerprint({"x": 1}, [a]) != fingerprint({"x": 2}, [a]) != fingerprint({"x": 2}, [b])  # b's name differs
    before = fingerprint({"x": (1, 2)}, [a])
    a.write_bytes(b"two")
    assert fingerprint({"x": (1, 2)}, [a]) != before


def test_an_unknown_step_is_named_before_anything_runs(tmp_path):
    config = PipelineConfig.tiny(out=str(tmp_path / "out"), work=str(tmp_path / "work"))
    with pytest.raises(ConfigError, match="no pipeline step named walk; the steps: city, demo_city"):
        Pipeline(config, progress=False).run(["walks", "walk"])
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"size": 48}, "size must be a power of two, got 48"),
        ({"gan_channels": (64, 32)}, "gan_channels needs 5 widths (4 px to 64 px), got 2"),
        ({"gan_n_mlp": 0}, "must be positive: gan_n_mlp=0"),
        ({"gan_recipe": "fastest"}, "gan_recipe must be one of stylegan2, stylegan2-bf16, projected, stylegan2+projected"),
        ({"gan_minutes": 0}, "must be positive: gan_minutes=0"),
        ({"projector_w_prior": -0.1}, "projector_w_prior must be 0 (StyleGAN2-ADA's projector) or more, got -0.1"),
        ({"gan_recipe": "projected", "gan_keep_discriminator": True}, "gan_keep_discriminator needs a StyleGAN2 discriminator"),
    ],
)
def test_impossible_gan_settings_are_config_errors(changes, named):
    with pytest.raises(ConfigError, match=re.escape(named)):
        PipelineConfig(**changes)


def labelled_latents(n=400, d=12, seed=0):
    """Latents of photos in 40 areas whose income shows along the first axis; health shows nowhere, crime has no labels."""
    rng = np.random.default_rng(seed)
    income = rng.integers(1, 11, n)
    latents = rng.normal(size=(n, d))
    latents[:, 0] += (income - 5.5) * 0.6
    photos = pd.DataFrame(
        {
            "lsoa_code": [f"A{i % 40:03d}" for i in range(n)],
            "income_decile": income,
            "health_decile": rng.integers(1, 11, n),
            "crime_decile": np.full(n, 5),
        },
        index=[f"{i:05d}" for i in range(n)],
    )
    w = rng.normal(size=(3000, d)) * np.linspace(3, 0.5, d)  # "W": the generator's own spread
    return latents, photos, w


def fit_settings(w: np.ndarray, axes=None) -> FitSettings:
    return FitSettings(WSpace.from_samples(w), axes, n_boot=20, stability_halves=2, stability_boots=2)


def test_a_domain_gets_a_boundary_of_every_fit_kind_with_sigma_along_its_walk():
    latents, photos, w = labelled_latents()
    settings = fit_settings(w, axes=np.eye(12)[:4])
    subset = labelled_subset(latents, photos, "income")
    fit = fit_domain("income", subset, latents, settings)
    assert list(fit.directions) == ["whitened", "standardised", "principal"]
    for kind, direction in fit.directions.items():
        assert direction.normal[0] > 0.8, kind  # from deprived to privileged, along income's axis
        assert direction.sigma == pytest.approx(settings.wspace.spread(direction.normal))
        assert 0.5 < fit.scores[kind]["f1"] <= 1 and fit.scores[kind]["n"] == len(subset.y)
    assert np.allclose(fit.directions["principal"].normal[4:], 0)  # the principal fit lives in the span of the axes
    record = fit.record["fits"]
    assert fit.record["labelled"] == len(subset.y) and record["principal"]["axes"] == 4 and "stability" not in record["principal"]
    assert record["whitened"]["stability"]["split_half"] > 0.5 and len(record["whitened"]["stability"]["split_half_runs"]) == 2
    assert record["whitened"]["C"] in LatentBoundary().Cs and record["whitened"]["sigma_latents"] > 0
    no_axes = fit_domain("income", subset, latents, fit_settings(w))
    assert "principal" not in no_axes.directions
    assert np.allclose(no_axes.directions["whitened"].normal, fit.directions["whitened"].normal)


def test_domains_with_too_few_labels_are_left_out_and_the_rest_give_rows_and_normals():
    latents, photos, w = labelled_latents()
    messages = []
    settings = fit_settings(w, axes=np.eye(12)[:4])
    fits = fit_method("e4e", latents, photos, ["income", "crime"], settings, definition=DECILE_BANDS, log=messages.append)
    assert [f.domain for f in fits] == ["income"]
    assert messages[-1].startswith("  e4e/crime: no boundary, only ") and messages[-1].endswith(
        "a boundary needs at least 10 of each"
    )
    assert "partial" in fits[0].directions and fits[0].directions["partial"].normal[0] > 0.8  # the other deciles held fixed
    rows = visibility_rows("e4e", fits[0], change=lambda direction: direction.sigma / 10)
    assert [row["fit"] for row in rows] == ["whitened W", "standardised latents", "W's principal axes", "partial effect"]
    assert all(list(row) == VISIBILITY_COLUMNS for row in rows)
    assert rows[0]["f1"] == fits[0].scores["whitened"]["f1"] and np.isnan(rows[3]["f1"])  # a partial effect has no classes
    assert rows[2]["axes"] == 4 and rows[2]["change"] == pytest.approx(fits[0].directions["principal"].sigma / 10)
    assert rows[0]["split_half_cosine"] > 0.5 and np.isnan(rows[2]["split_half_cosine"])
    normals = boundary_set({"e4e": fits, "projector": []}, settings.wspace)
    assert list(normals.directions("e4e")) == ["income"]
    assert normals.fits("e4e") == ["whitened", "standardised", "principal", "partial"]
    assert normals.methods() == ["e4e"] and normals.wspace is settings.wspace
    assert isinstance(normals.directions("e4e")["income"], Direction)


def test_per_layer_codes_give_a_layers_boundary_that_moves_each_layer_its_own_way():
    latents, photos, w = labelled_latents()
    rng = np.random.default_rng(5)
    layered = np.repeat(latents[:, None, :], 3, axis=1) + rng.normal(size=(len(latents), 3, 12)) * 0.1
    layered[:, 2, 1] += (photos["income_decile"].to_numpy() - 5.5) * 0.6  # income also shows on layer 2's second axis
    settings = FitSettings(WSpace.from_samples(w), n_boot=20, stability_halves=0, per_layer=True)
    subset = labelled_subset(latents, photos, "income")
    fit = fit_domain("income", subset, latents, settings, layered=layered.reshape(len(latents), -1))
    direction = fit.directions["layers"]
    assert direction.normal.shape == (36,) and np.linalg.norm(direction.normal) == pytest.approx(1.0)
    per_layer = direction.normal.reshape(3, 12)
    assert per_layer[2, 1] > 0.3 and abs(per_layer[0, 1]) < 0.5 * per_layer[2, 1]  # layer 2 alone moves along its axis
    assert 0.5 < fit.scores["layers"]["f1"] <= 1 and direction.sigma > 0
    import torch

    from thisineq.latent.walk import edit

    moved = edit(torch.zeros(1, 3, 12, dtype=torch.float64), [(direction, 1.0)]).numpy()[0]
    assert np.allclose(moved, per_layer * direction.sigma)  # each layer moved by its own part of the direction


def test_the_gan_step_trains_its_recipe_on_a_wall_time_budget(tmp_path):
    from thisineq.pipeline.train import gan_settings as _gan_settings
    from thisineq.training.run import RUN_CONFIG

    assert set(_gan_settings(PipelineConfig())) == {"channels", "style_dim", "steps"}  # what built the committed GAN
    config = PipelineConfig.tiny(out=str(tmp_path / "out"), work=str(tmp_path / "work"))
    config = PipelineConfig(**{**config.__dict__, "gan_recipe": "stylegan2-bf16", "gan_minutes": 0.1, "gan_steps": 10**6})
    assert {"recipe": "stylegan2-bf16", "minutes": 0.1}.items() <= _gan_settings(config).items()
    Pipeline(config, progress=False).run(["city", "gan"])
    run = json.loads((tmp_path / "work" / "runs" / "gan" / RUN_CONFIG).read_text(encoding="utf-8"))
    assert run["precision"] == "auto" and run["max_minutes"] == 0.1
    steps = torch.load(tmp_path / "out" / "gan" / "generator.pt", weights_only=True)["step"]
    assert 0 < steps < 10**6  # the clock ended it
    card = (tmp_path / "out" / "gan" / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert f"its budget of 0.1 minutes of training wall time ended the run at step {steps:,}" in card
    assert "planned" not in card and "1,000,000,000" not in card  # not the step count a budget stands in for
    # The card's rebuild command is one the command line takes, and it gives back this config.
    from thisineq.cli import build_parser

    command = card.split("## Rebuild")[1].split("```bash\n")[1].split("\n```")[0]
    words = shlex.split(command)
    assert words[:5] == ["thisineq", "pipeline", "--only", "city", "gan"]
    args = build_parser(words[1:]).parse_args(words[1:])
    assert dataclasses.replace(PipelineConfig(), **option_values(PipelineConfig, args)) == config


def test_a_later_sitting_takes_the_finished_gan_of_an_earlier_one_once_its_settings_match(tmp_path):
    from thisineq.errors import MissingFileError

    first = PipelineConfig.tiny(out=str(tmp_path / "first"), work=str(tmp_path / "work1"))
    Pipeline(first, progress=False).run(["city", "gan"])
    trained = tmp_path / "first" / "gan"
    sitting = json.loads((trained / "sitting.json").read_text(encoding="utf-8"))
    assert sitting["seconds"] > 0 and sitting["gan"]["steps"] == first.gan_steps
    # The second sitting: a fresh work folder and set, the GAN taken, not trained.
    later = PipelineConfig(**{**first.__dict__, "out": str(tmp_path / "later"), "work": str(tmp_path / "work2")})
    later = PipelineConfig(**{**later.__dict__, "gan_from": str(trained)})
    messages = []
    Pipeline(later, progress=False, log=messages.append).run(["gan"])
    taken = tmp_path / "later" / "gan"
    for name in ("generator.pt", "metrics.json", "MODEL_CARD.md", "sitting.json"):
        assert (taken / name).read_bytes() == (trained / name).read_bytes(), name
    assert (taken / "samples.png").is_file() and not (tmp_path / "work2" / "runs").exists()  # nothing trained
    times = json.loads((tmp_path / "later" / "pipeline_times.json").read_text(encoding="utf-8"))
    spans = json.loads((tmp_path / "later" / "pipeline_spans.json").read_text(encoding="utf-8"))
    assert times["gan"] == pytest.approx(sitting["seconds"], abs=0.2) and spans["gan"] == sitting["span"]  # then, not now
    assert any("earlier sitting" in m for m in messages)
    rerun = []
    Pipeline(later, progress=False, log=rerun.append).run(["gan"])
    assert rerun == ["[gan] current, skipped"]
    # Other settings, or a folder no pipeline finished, are refused by name.
    other = PipelineConfig(**{**later.__dict__, "out": str(tmp_path / "other"), "gan_steps": first.gan_steps + 1})
    with pytest.raises(ConfigError, match=r"other settings \(gan steps: 6 there, 7 here\)"):
        Pipeline(other, progress=False).run(["gan"])
    (tmp_path / "bare").mkdir()
    bare = PipelineConfig(**{**later.__dict__, "out": str(tmp_path / "other"), "gan_from": str(tmp_path / "bare")})
    with pytest.raises(MissingFileError, match="sitting.json is missing"):
        Pipeline(bare, progress=False).run(["gan"])


def test_bringing_your_own_leaves_out_the_synthetic_steps_and_names_what_is_missing(tmp_path):
    config = PipelineConfig(out=str(tmp_path / "mylab"), work=str(tmp_path / "work"), bring_your_own=True)
    pipeline = Pipeline(config, progress=False)
    names = [step.name for step in pipeline.steps()]
    assert not {"city", "demo_city", "gan", "oracle", "gan_quality", "known_answer"} & set(names)
    assert {"encoder_e4e", "invert_e4e", "boundaries", "walks", "predict", "headline"} <= set(names)
    assert not {"crowd", "perception"} & set(names)  # a lab without crowd votes has no perception step
    assert pipeline.paths.train_dataset == pipeline.paths.demo_dataset  # the encoders train on the lab's own photos
    with pytest.raises(ConfigError, match=r"lacks a dataset \(`thisineq data ingest .* and a generator \(`thisineq import"):
        pipeline.run()
    assert not (tmp_path / "work").exists()
