"""Encoder training: both kinds run, resume, and write a safely loadable encoder."""

from __future__ import annotations

import re

import pytest
import torch

from thisineq.data.synth import city
from thisineq.data.synth.build import SynthConfig, build_city_dataset
from thisineq.models.encoders import encode_and_generate, load_encoder
from thisineq.models.stylegan2 import CheckpointError, Generator, StyleGAN2Config, sample_w, save_generator
from thisineq.training.encoders import ENCODER, EncoderTrainConfig, train_encoder
from thisineq.training.run import CHECKPOINT

TINY = StyleGAN2Config(size=32, style_dim=16, n_mlp=2, channels={4: 32, 8: 16, 16: 16, 32: 8})


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("enc")
    dataset = build_city_dataset(
        root / "city", SynthConfig(n_photos=40, size=32, city=city.CityConfig(n_lsoas=20, seed=4)), workers=1, progress=False
    )
    torch.manual_seed(0)
    generator = Generator(TINY).eval()
    generator.w_avg.copy_(sample_w(generator, 500).mean(0))
    save_generator(generator, root / "g.pt")
    return root, dataset


@pytest.mark.parametrize("kind", ["e4e", "restyle"])
def test_training_runs_resumes_and_exports(setup, kind, tmp_path):
    root, dataset = setup

    def config(steps):
        return EncoderTrainConfig(
            kind=kind,
            generator=str(root / "g.pt"),
            dataset=str(dataset),
            run_dir=str(tmp_path / kind),
            steps=steps,
            batch=4,
            lambda_lpips=0.0,
            encoder_widths=(8, 16, 16, 32),
            restyle_iterations=2,
            unlock_every=1,
            checkpoint_every=1,
            sample_every=3,
        )

    train_encoder(config(2), progress=False)
    run = train_encoder(config(3), progress=False)
    assert torch.load(run / CHECKPOINT, weights_only=True)["step"] == 3
    loaded_kind, encoder, meta = load_encoder(run / ENCODER)
    assert loaded_kind == kind and meta["step"] == 3
    generator = Generator(TINY).eval()
    ws, images = encode_and_generate(encoder, kind, generator, torch.zeros(2, 3, 32, 32), iterations=2)
    assert ws.shape == (2, generator.num_ws, 16) and images.shape == (2, 3, 32, 32)
    assert (run / "samples" / "step_0000003.png").is_file()


def test_a_generator_file_is_not_an_encoder(setup):
    root, _ = setup
    with pytest.raises(CheckpointError, match="not a thisineq encoder"):
        load_encoder(root / "g.pt")


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"batch": 0}, "batch=0"),
        ({"lr": -1.0}, "lr=-1.0"),
        ({"restyle_iterations": 0}, "restyle_iterations=0"),
        ({"lpips_net": "squeeze"}, "lpips_net must be alex or vgg"),
    ],
)
def test_impossible_encoder_training_is_named_when_configured(change, named):
    with pytest.raises(ValueError, match=re.escape(named)):
        EncoderTrainConfig(kind="restyle", generator="g.pt", dataset="d", run_dir="r", **change)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["e4e", "restyle"])
def test_encoder_training_runs_data_parallel_under_torchrun(setup, kind, tmp_path):
    """Two CPU processes (gloo), each half of every batch: the run finishes, rank 0 writes it, and it learned."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root, dataset = setup
    torchrun = Path(sys.executable).with_name("torchrun")
    if not torchrun.is_file():
        pytest.skip("torchrun is not installed beside this Python")
    run = tmp_path / kind
    options = ["--kind", kind, "--generator", str(root / "g.pt"), "--dataset", str(dataset), "--run-dir", str(run)]
    options += "--steps 3 --batch 4 --lambda-lpips 0 --encoder-widths 8 16 16 32 --iterations 2".split()
    options += "--unlock-every 1 --checkpoint-every 1 --sample-every 3".split()
    command = [str(torchrun), "--standalone", "--nproc-per-node", "2", "-m", "thisineq.cli", "train", "encoder", *options]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert finished.returncode == 0, finished.stderr[-3000:]
    checkpoint = torch.load(run / CHECKPOINT, weights_only=True)
    assert checkpoint["step"] == 3 and load_encoder(run / ENCODER)[2]["step"] == 3
    losses = [line for line in (run / "log.jsonl").read_text().splitlines() if line.strip()]
    assert losses  # rank 0 logged
