"""GAN training: a few real steps on the CPU, exact resume, losses and augmentation that behave."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from thisineq.data.synth import city
from thisineq.data.synth.build import SynthConfig, build_city_dataset
from thisineq.errors import ConfigError
from thisineq.metrics.fid import FeatureStats, frechet_distance, kernel_distance
from thisineq.models.stylegan2 import StyleGAN2Config, load_generator, safe_load
from thisineq.training.augment import cutout, diff_augment, translate
from thisineq.training.gan import CHECKPOINT, GENERATOR, GANTrainConfig, d_r1_penalty, new_state, train_gan, train_step
from thisineq.training.run import ImageBank, RunFolder

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


@pytest.mark.slow
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


@pytest.mark.slow
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


def test_a_run_folder_guards_its_config_and_keeps_checkpoints_and_log(tmp_path):
    config = {"lr": 0.0025, "steps": 10, "model": {"n_mlp": 2, "channels": {4: 8}}, "betas": (0.0, 0.99)}
    run = RunFolder(tmp_path / "run", config)
    run.claim()
    RunFolder(tmp_path / "run", {**config, "steps": 20}).claim()  # more steps: the same run, trained on
    with pytest.raises(ConfigError, match=r"other settings \(lr: 0.0025 → 0.01; model.n_mlp: 2 → 4\)"):
        RunFolder(tmp_path / "run", {**config, "lr": 0.01, "model": {"n_mlp": 4, "channels": {4: 8}}}).claim()
    assert not run.has_checkpoint()
    run.save_checkpoint({"step": 3, "w": torch.ones(2)})
    assert run.load_checkpoint()["step"] == 3 and sorted(p.name for p in run.path.iterdir()) == ["checkpoint.pt", "run.json"]
    run.log({"step": 1, "loss": 0.5})
    run.log({"step": 2, "loss": 0.25})
    assert [json.loads(line)["loss"] for line in (run.path / "log.jsonl").read_text().splitlines()] == [0.5, 0.25]


def test_the_image_bank_draws_one_split_and_refuses_another_size(dataset):
    every, train = ImageBank(dataset, 32), ImageBank(dataset, 32, split="train")
    assert len(every) == 48 and 0 < len(train) < 48
    batch = every.batch(5, "cpu", xflip=True)
    assert batch.shape == (5, 3, 32, 32) and batch.min() >= -1 and batch.max() <= 1
    assert torch.equal(train.evenly_spaced(8), train.evenly_spaced(8)) and len(train.evenly_spaced(8)) == 8
    with pytest.raises(ConfigError, match="caches 32-px images but the generator makes 64-px ones: ingest the photos again"):
        ImageBank(dataset, 64)


def test_a_gan_train_step_updates_both_networks_and_runs_the_regularisers_when_due(dataset):
    config = tiny_config(dataset, "unused", 2)
    state = new_state(config, torch.device("cpu"))
    before = {k: v.clone() for k, v in state.discriminator.state_dict().items()}
    logs = train_step(state, config, ImageBank(dataset, 32))
    assert state.step == 1 and set(logs) == {"loss_d", "r1", "loss_g", "path_length"}  # step 0: both regularisers due
    assert any(not torch.equal(before[k], v) for k, v in state.discriminator.state_dict().items())
    assert set(train_step(state, config, ImageBank(dataset, 32))) == {"loss_d", "loss_g"}  # step 1: neither


def test_an_exported_gan_keeps_its_discriminator_when_asked(dataset, tmp_path):
    from thisineq.models.importers import load_saved_discriminator
    from thisineq.models.stylegan2 import realism
    from thisineq.training.export import export_gan
    from thisineq.training.gan import load_discriminator

    run = train_gan(tiny_config(dataset, tmp_path / "run", 2), progress=False)
    assert not (export_gan(run, tmp_path / "plain", rebuild="-") / "discriminator.pt").exists()
    kept = export_gan(run, tmp_path / "kept", rebuild="-", discriminator=True) / "discriminator.pt"
    images = torch.rand(5, 3, 32, 32) * 2 - 1
    trained = realism(load_discriminator(run / CHECKPOINT), images)
    assert np.allclose(realism(load_saved_discriminator(kept), images), trained, atol=1e-5)
