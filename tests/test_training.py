"""GAN training: a few real steps on the CPU, exact resume, losses and augmentation that behave."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from thisineq.data.synth import city
from thisineq.data.synth.build import SynthConfig, build_city_dataset
from thisineq.metrics.fid import FeatureStats, frechet_distance, kernel_distance
from thisineq.models.stylegan2 import StyleGAN2Config, load_generator
from thisineq.training.augment import cutout, diff_augment, translate
from thisineq.training.gan import CHECKPOINT, GENERATOR, GANTrainConfig, d_r1_penalty, safe_load, train_gan

TINY = StyleGAN2Config(size=32, style_dim=32, n_mlp=2, channels={4: 32, 8: 32, 16: 16, 32: 8})


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    config = SynthConfig(n_photos=48, size=32, city=city.CityConfig(n_lsoas=30, seed=2))
    return build_city_dataset(tmp_path_factory.mktemp("city") / "city", config, workers=1, progress=False)


def tiny_config(dataset, run_dir, steps) -> GANTrainConfig:
    return GANTrainConfig(
        dataset=str(dataset),
        run_dir=str(run_dir),
        model=TINY,
        steps=steps,
        batch=4,
        d_reg_every=2,
        g_reg_every=2,
        checkpoint_every=2,
        sample_every=3,
        metric_every=0,
    )


def test_a_few_steps_train_and_write_a_run(dataset, tmp_path):
    run = train_gan(tiny_config(dataset, tmp_path / "run", 4), progress=False)
    assert (run / CHECKPOINT).is_file() and (run / "samples" / "step_0000003.png").is_file()
    generator = load_generator(run / GENERATOR)
    assert generator(torch.randn(2, 32)).shape == (2, 3, 32, 32)
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert log[-1]["step"] == 4 and np.isfinite(log[-1]["loss_d"])
    assert generator.w_avg.abs().sum() > 0  # the average w is tracked


def test_resume_gives_the_same_state_as_an_uninterrupted_run(dataset, tmp_path):
    train_gan(tiny_config(dataset, tmp_path / "straight", 6), progress=False)
    train_gan(tiny_config(dataset, tmp_path / "resumed", 4), progress=False)
    train_gan(tiny_config(dataset, tmp_path / "resumed", 6), progress=False)
    a, b = safe_load(tmp_path / "straight" / CHECKPOINT), safe_load(tmp_path / "resumed" / CHECKPOINT)
    assert a["step"] == b["step"] == 6
    for part in ("g", "d", "g_ema"):
        for key in a[part]:
            assert torch.allclose(a[part][key], b[part][key], atol=1e-6), (part, key)


def test_a_run_refuses_other_settings(dataset, tmp_path):
    train_gan(tiny_config(dataset, tmp_path / "run", 2), progress=False)
    changed = tiny_config(dataset, tmp_path / "run", 4)
    changed.lr = 0.01
    with pytest.raises(ValueError, match="lr"):
        train_gan(changed, progress=False)


def test_r1_penalty_is_the_squared_gradient_norm():
    x = torch.randn(3, 3, 4, 4, requires_grad=True)
    pred = (2 * x).flatten(1).sum(1, keepdim=True)  # gradient 2 everywhere
    assert torch.isclose(d_r1_penalty(pred, x), torch.tensor(4.0 * 48))


def test_augmentations_are_differentiable_and_keep_shape():
    x = torch.rand(5, 3, 16, 16, requires_grad=True)
    y = diff_augment(x)
    assert y.shape == x.shape
    y.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="unknown augmentation"):
        diff_augment(x, "spin")


def test_translate_shifts_content_and_cutout_zeroes_a_quarter():
    x = torch.zeros(64, 1, 8, 8)
    x[:, :, 4, 4] = 1
    moved = translate(x)
    assert (moved.flatten(1).sum(1) <= 1).all() and (moved[:, :, 4, 4] == 0).any()
    ones = torch.ones(64, 1, 8, 8)
    kept = cutout(ones).mean((1, 2, 3))
    assert torch.all(kept < 1) and kept.min() == 0.75  # a half-size square, clipped at the edges


def test_frechet_and_kernel_distance_behave():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(3000, 8)), rng.normal(size=(3000, 8))
    shifted = b + 1.0
    same = frechet_distance(FeatureStats.of(a), FeatureStats.of(b))
    moved = frechet_distance(FeatureStats.of(a), FeatureStats.of(shifted))
    assert same < 0.5 and abs(moved - 8.0) < 1.0  # a mean shift of 1 in 8 dims adds 8
    assert abs(kernel_distance(a, b, subset_size=200, num_subsets=5)) < kernel_distance(
        a, shifted, subset_size=200, num_subsets=5
    )


def test_two_processes_train_under_torchrun(dataset, tmp_path):
    """DistributedDataParallel on the CPU (gloo): the same code path as several GPUs or nodes."""
    import subprocess
    import sys

    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        "29517",
        "-m",
        "thisineq.cli",
        "train",
        "gan",
        "--dataset",
        str(dataset),
        "--run-dir",
        str(tmp_path / "ddp"),
        "--steps",
        "3",
        "--batch",
        "8",
        "--channels",
        "16,16,16,8",
        "--style-dim",
        "16",
        "--n-mlp",
        "2",
        "--metric-every",
        "0",
        "--checkpoint-every",
        "3",
        "--device",
        "cpu",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert safe_load(tmp_path / "ddp" / CHECKPOINT)["step"] == 3


def test_warm_start_from_a_saved_generator(dataset, tmp_path):
    first = train_gan(tiny_config(dataset, tmp_path / "a", 2), progress=False)
    config = tiny_config(dataset, tmp_path / "b", 1)
    config.init_from = str(first / GENERATOR)
    config.lr = 0.0  # no update: the started weights stay visible
    config.pl_weight = 0.0
    train_gan(config, progress=False)
    source, started = load_generator(first / GENERATOR), load_generator(tmp_path / "b" / GENERATOR)
    assert torch.allclose(source.input.input, started.input.input)
    # The run keeps the generator's earlier steps on record, and its exported card says where it started.
    assert safe_load(tmp_path / "b" / CHECKPOINT)["prior_steps"] == 2 and safe_load(tmp_path / "b" / GENERATOR)["step"] == 3
    from thisineq.training.export import export_gan

    card = (export_gan(tmp_path / "b", tmp_path / "exported", rebuild="-") / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "**Warm start**" in card and "trained for 2 steps before" in card and "3 steps in all" in card
    assert safe_load(tmp_path / "exported" / "generator.pt")["step"] == 3
    assert "Warm start" not in (export_gan(first, tmp_path / "from-scratch", rebuild="-") / "MODEL_CARD.md").read_text(
        encoding="utf-8"
    )
    other = tiny_config(dataset, tmp_path / "c", 1)
    other.model = StyleGAN2Config(size=32, style_dim=16, n_mlp=2, channels={4: 16, 8: 16, 16: 16, 32: 8})
    other.init_from = str(first / GENERATOR)
    with pytest.raises(ValueError, match="another architecture"):
        train_gan(other, progress=False)
