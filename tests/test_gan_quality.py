"""GAN quality where no discriminator looks: precision/recall, factor fidelity, the judge and the recipe comparison."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from thisineq.data.synth import city
from thisineq.data.synth.build import SynthConfig, build_city_dataset
from thisineq.known_answer.fidelity import building_types, factor_fidelity, type_shares
from thisineq.known_answer.oracle import FACTORS, FactorOracle
from thisineq.metrics import lpips
from thisineq.metrics.quality import distribution_scores, precision_recall
from thisineq.models.stylegan2 import Generator, StyleGAN2Config
from thisineq.training.run import RunFolder

TINY = StyleGAN2Config(size=32, style_dim=32, n_mlp=2, channels={4: 32, 8: 32, 16: 16, 32: 8})


@pytest.fixture(scope="module")
def vgg_weights():
    if not lpips.weights_path("vgg").is_file():
        pytest.skip("LPIPS-vgg weights not converted yet: run `python -m thisineq.metrics.lpips` (make test does)")


def test_precision_and_recall_of_one_distribution_are_near_one_and_of_disjoint_ones_zero():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(1500, 4)), rng.normal(size=(1500, 4))
    same = precision_recall(a, b)
    assert same["precision"] > 0.9 and same["recall"] > 0.9
    far = precision_recall(a, b + 20)
    assert far == {"precision": 0.0, "recall": 0.0}


def test_precision_and_recall_tell_a_collapsed_generator_from_a_poor_one():
    rng = np.random.default_rng(1)
    real = rng.normal(size=(1000, 3))
    collapsed = rng.normal(scale=0.2, size=(1000, 3))  # on the manifold, covering little of it
    spread = rng.normal(scale=4.0, size=(1000, 3))  # covering it, mostly off it
    assert precision_recall(real, collapsed)["precision"] > 0.9 > 0.3 > precision_recall(real, collapsed)["recall"]
    assert precision_recall(real, spread)["recall"] > 0.9 > 0.3 > precision_recall(real, spread)["precision"]
    with pytest.raises(ValueError, match="more than 3 points"):
        precision_recall(real[:3], spread)


def test_distribution_scores_sit_at_their_floor_for_a_second_real_sample():
    rng = np.random.default_rng(2)
    reference, other, fake = (rng.normal(size=(600, 6)) for _ in range(3))
    scores = distribution_scores(reference, other, fake, prefix="x")
    assert scores["x_fd"] < 3 * scores["x_fd_floor"] + 0.05 and abs(scores["x_diversity_ratio"] - 1) < 0.05
    shifted = distribution_scores(reference, other, fake + 1.0, prefix="x")
    assert shifted["x_fd"] > 5 and shifted["x_kd"] > 10 * abs(shifted["x_kd_floor"])


def test_factor_fidelity_is_zero_for_the_same_factors_and_counts_building_types():
    rng = np.random.default_rng(3)
    photos = rng.uniform(size=(2000, len(FACTORS)))
    same = factor_fidelity(photos, photos[rng.permutation(2000)])
    assert same["wasserstein_max"] < 1e-9 and same["type_share_gap"] == 0 and same["correlation_gap"] < 1e-9
    denser = photos.copy()
    denser[:, FACTORS.index("density")] = np.clip(denser[:, FACTORS.index("density")] + 0.25, 0, 1)
    moved = factor_fidelity(photos, denser)
    assert moved["wasserstein"]["density"] > 0.5 and moved["wasserstein"]["upkeep"] == 0
    assert moved["type_shares"]["samples"]["flats"] > 0.45 and moved["type_share_gap"] > 0.2
    assert list(building_types(np.array([0.0, 0.3, 0.6, 0.99, 1.0]))) == ["detached", "semi", "terrace", "flats", "flats"]
    assert type_shares(np.array([0.1, 0.1, 0.9, 0.9])) == {"detached": 0.5, "semi": 0.0, "terrace": 0.0, "flats": 0.5}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    config = SynthConfig(n_photos=60, size=32, city=city.CityConfig(n_lsoas=30, seed=4))
    return build_city_dataset(tmp_path_factory.mktemp("city") / "city", config, workers=1, progress=False)


def test_the_judge_scores_a_generator_in_both_spaces_with_the_oracle(dataset, vgg_weights):
    from thisineq.pipeline.gan_quality import QualityJudge, targets_met

    torch.manual_seed(0)
    judge = QualityJudge.for_dataset(dataset, n=25, oracle=FactorOracle().eval())  # an untrained reader reads both sides alike
    scores = judge(Generator(TINY).eval())
    assert scores["vgg_fd"] > scores["vgg_fd_floor"] > 0 and 0 <= scores["vgg_precision"] <= 1
    assert {"effnet_fd", "factor_wasserstein_max", "type_share_gap"} <= set(scores)
    met = targets_met(scores)
    assert met["vgg_fd_over_floor"] is False and set(met) == {
        "vgg_precision",
        "vgg_recall",
        "vgg_fd_over_floor",
        "factor_wasserstein_max",
        "type_share_gap",
    }
    assert targets_met({})["vgg_precision"] is None


@pytest.mark.slow
def test_two_recipes_train_on_the_clock_and_are_reported_side_by_side(dataset, vgg_weights, tmp_path):
    from thisineq.pipeline.gan_quality import QualityJudge
    from thisineq.pipeline.recipes import comparison_table, train_recipe, write_report

    second = 1 / 60
    for name in ("stylegan2", "projected"):
        train_recipe(name, tmp_path / "runs", dataset=str(dataset), model=TINY, minutes=2.5 * second, every=second)
    table = comparison_table(tmp_path / "runs", QualityJudge.for_dataset(dataset, n=25), log=lambda _: None)
    for name in ("stylegan2", "projected"):  # every snapshot the clock made (a slow first step may cross several at once)
        snapshots = RunFolder(tmp_path / "runs" / name, {}).snapshots()
        assert list(snapshots) and sorted(table.loc[table["recipe"] == name, "minutes"] * 60) == list(snapshots)
    assert (table["kimg"] > 0).all() and table["vgg_fd"].notna().all()
    write_report(table, tmp_path / "runs", tmp_path / "report")
    assert (tmp_path / "report" / "recipes.csv").is_file() and "| projected |" in (tmp_path / "report" / "recipes.md").read_text()
    with Image.open(tmp_path / "report" / "samples_wall_000001s.png") as grid:  # 1 s: the first snapshot of both runs
        assert grid.size[0] == 8 * grid.size[1] // 2  # one row of 8 samples per recipe

    # The run folders go (a move to a new machine); a recipe trained afterwards joins the same report.
    first = pd.read_csv(tmp_path / "report" / "recipes.csv")
    shutil.rmtree(tmp_path / "runs")
    train_recipe("stylegan2-bf16", tmp_path / "runs", dataset=str(dataset), model=TINY, minutes=1.5 * second, every=second)
    write_report(
        comparison_table(tmp_path / "runs", QualityJudge.for_dataset(dataset, n=25), log=lambda _: None),
        tmp_path / "runs",
        tmp_path / "report",
    )
    merged = pd.read_csv(tmp_path / "report" / "recipes.csv")
    assert set(merged["recipe"]) == {"stylegan2", "projected", "stylegan2-bf16"}
    pd.testing.assert_frame_equal(merged[merged["recipe"] != "stylegan2-bf16"].reset_index(drop=True), first)
    text = (tmp_path / "report" / "recipes.md").read_text()
    assert "- projected: 2 of" in text or "- projected: 1 of" in text  # the gone run's conditions are kept
    assert (merged["recipe"] == "stylegan2-bf16").any()
    for seconds, rows in merged.groupby((merged["minutes"] * 60).round()):  # every time: kept rows and the new one's
        with Image.open(tmp_path / "report" / f"samples_wall_{int(seconds):06d}s.png") as grid:
            assert grid.size[1] == len(rows) * grid.size[0] // 8


@pytest.mark.slow
def test_a_run_scored_as_it_trains_scores_every_snapshot_off_the_clock(dataset, vgg_weights, tmp_path):
    import json
    import time

    from thisineq.models.stylegan2 import safe_load
    from thisineq.pipeline.gan_quality import QualityJudge
    from thisineq.pipeline.recipes import SCORES, comparison_table, train_recipe

    judge, second, said = QualityJudge.for_dataset(dataset, n=25), 1 / 60, []
    started = time.perf_counter()
    train_recipe(
        "stylegan2", tmp_path, dataset=str(dataset), model=TINY, minutes=3 * second, every=second, judge=judge, log=said.append
    )
    elapsed = time.perf_counter() - started
    snapshots = RunFolder(tmp_path / "stylegan2", {}).snapshots()
    scored = [json.loads(line)["seconds"] for line in (tmp_path / "stylegan2" / SCORES).read_text().splitlines()]
    assert list(snapshots) and sorted(scored) == list(snapshots) and len(said) == len(snapshots)
    wall = safe_load(tmp_path / "stylegan2" / "checkpoint.pt")["wall_seconds"]
    assert 3 <= wall < elapsed  # the clock ran 3 s of training; the scoring (and restarts) stayed off it
    said.clear()
    table = comparison_table(tmp_path, judge, log=said.append)
    assert not said and len(table) == len(snapshots)  # nothing left to score


def test_on_photos_the_vgg_space_puts_a_second_half_at_the_floor_and_blurred_photos_off_the_manifold(vgg_weights):
    """Real behaviour on the demo's photos: the measure a GAN is judged by tells sharp renders from blurred ones."""
    import torch.nn.functional as F

    from thisineq.artifacts import demo_set
    from thisineq.data.dataset import load_dataset
    from thisineq.images import from_uint8
    from thisineq.metrics.quality import VGGFeatures, features_of

    photos = from_uint8(torch.from_numpy(np.array(load_dataset(demo_set().dataset).images()[:240])).permute(0, 3, 1, 2))
    kernel = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0])
    kernel = (kernel[:, None] * kernel[None]).expand(3, 1, 5, 5) / 256
    blurred = F.conv2d(F.pad(photos[120:], (2, 2, 2, 2), mode="reflect"), kernel, groups=3)
    vgg = VGGFeatures()
    reference, other, soft = (features_of(vgg, x) for x in (photos[:120], photos[120:], blurred))
    sharp = distribution_scores(reference, other, other, prefix="x")
    assert sharp["x_precision"] > 0.6 and sharp["x_fd"] == sharp["x_fd_floor"]
    blur = distribution_scores(reference, other, soft, prefix="x")
    assert blur["x_precision"] < 0.1 and blur["x_fd"] > 5 * blur["x_fd_floor"]
