"""Batch inversion: every photo inverted, errors measured, and a killed run resumed."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from thisineq.cli import main
from thisineq.data.dataset import load_dataset
from thisineq.data.synth import city
from thisineq.data.synth.build import SynthConfig, build_city_dataset
from thisineq.invert.batch import load_inversions
from thisineq.metrics import lpips
from thisineq.models.encoders import E4EEncoder, EncoderConfig, save_encoder
from thisineq.models.stylegan2 import Generator, StyleGAN2Config, save_generator

TINY = StyleGAN2Config(size=32, style_dim=16, n_mlp=2, channels={4: 16, 8: 16, 16: 8, 32: 8})


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    if not lpips.weights_path("alex").is_file():
        pytest.skip("LPIPS-alex weights not converted yet: run `python -m thisineq.metrics.lpips` (make test does)")
    root = tmp_path_factory.mktemp("inv")
    dataset = build_city_dataset(
        root / "city", SynthConfig(n_photos=20, size=32, city=city.CityConfig(n_lsoas=10, seed=5)), workers=1, progress=False
    )
    torch.manual_seed(0)
    g = Generator(TINY).eval()
    save_generator(g, root / "g.pt")
    encoder = E4EEncoder(EncoderConfig.for_generator(g, widths=(8, 8, 16, 16)), g.w_avg)
    save_encoder(encoder, "e4e", root / "e4e.pt", generator_sha256="-", step=0)
    return root, dataset


def invert_args(root, dataset, out, *flags) -> list[str]:
    """`thisineq invert --method e4e` of the dataset with the tiny models in `root`."""
    models = ["--generator", str(root / "g.pt"), "--e4e", str(root / "e4e.pt")]
    return ["invert", "--method", "e4e", "--dataset", str(dataset), *models, "--out", str(out), *flags]


def run(root, dataset, out):
    assert main(invert_args(root, dataset, out, "--chunk", "8")) == 0


def test_every_photo_is_inverted_and_a_killed_run_resumes(setup, tmp_path):
    root, dataset = setup
    out = tmp_path / "e4e"
    run(root, dataset, out)
    first = load_inversions(out)
    photos = load_dataset(dataset).photos
    assert list(first.photo_id) == list(photos.sort_values("cache_index").index)
    assert first.ws.shape == (20, 8, 16) and np.allclose(first.w, first.ws.mean(1))
    assert {"mse", "psnr", "ssim", "lpips"} <= set(first.errors.columns) and (first.errors["lpips"] > 0).all()
    assert np.load(out / "reconstructions.npy").shape == (20, 32, 32, 3)
    (out / "parts" / "part_00002.npz").unlink()  # as if killed before the last chunk
    (out / "inversion.json").unlink()
    run(root, dataset, out)
    assert np.allclose(load_inversions(out).ws, first.ws, atol=1e-6)


def test_missing_encoder_is_a_clear_error(setup, tmp_path, capsys):
    root, dataset = setup
    code = main(
        [
            "invert",
            "--method",
            "hybrid",
            "--dataset",
            str(dataset),
            "--generator",
            str(root / "g.pt"),
            "--out",
            str(tmp_path / "x"),
        ]
    )
    assert code == 2 and "needs --e4e" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--chunk", "0"], "chunk must be at least 1"),
        (["--limit", "-1"], "limit must be at least 1"),
        (["--steps", "0"], "projector_steps must be at least 1"),
    ],
)
def test_impossible_batch_settings_are_named_and_write_nothing(setup, tmp_path, capsys, flags, named):
    root, dataset = setup
    assert main(invert_args(root, dataset, tmp_path / "x", *flags)) == 2
    assert named in capsys.readouterr().err and not (tmp_path / "x").exists()


def test_shards_on_several_machines_give_the_single_process_result(setup, tmp_path):
    root, dataset = setup
    run(root, dataset, tmp_path / "one")
    whole = load_inversions(tmp_path / "one")
    sharded = tmp_path / "sharded"
    assert main(invert_args(root, dataset, sharded, "--chunk", "8", "--shard", "1/2")) == 0
    assert not (sharded / "latents.npz").exists()  # chunk 0 and 2 are the other shard's: nothing merged yet
    assert sorted(p.name for p in (sharded / "parts").glob("part_*.npz")) == ["part_00001.npz"]
    assert main(invert_args(root, dataset, sharded, "--chunk", "8", "--shard", "0/2")) == 0  # the last one merges
    merged = load_inversions(sharded)
    assert list(merged.photo_id) == list(whole.photo_id) and np.allclose(merged.ws, whole.ws, atol=1e-6)


def test_a_folder_of_another_inversions_parts_is_not_mixed_in(setup, tmp_path):
    root, dataset = setup
    out = tmp_path / "e4e"
    assert main(invert_args(root, dataset, out, "--chunk", "8", "--shard", "0/2")) == 0
    assert main(invert_args(root, dataset, out, "--chunk", "4")) == 2  # other chunks: parts that do not fit
    assert main(invert_args(root, dataset, out, "--chunk", "8", "--shard", "2/2")) == 2  # no such shard


def test_an_encoders_parts_resume_whatever_the_optimisers_settings(setup, tmp_path):
    """e4e reads no projector setting: parts planned under another prior or step count are the same inversion."""
    root, dataset = setup
    out = tmp_path / "e4e"
    assert main(invert_args(root, dataset, out, "--chunk", "8", "--shard", "0/2", "--w-prior", "0.03")) == 0
    plan = json.loads((out / "parts" / "plan.json").read_text(encoding="utf-8"))
    assert not {"projector_steps", "hybrid_steps", "w_prior"} & set(plan["settings"])  # none of them in its plan
    plan["settings"] |= {"projector_steps": 300, "hybrid_steps": 50, "w_prior": 0.0}  # as plans once recorded them
    (out / "parts" / "plan.json").write_text(json.dumps(plan), encoding="utf-8")
    assert main(invert_args(root, dataset, out, "--chunk", "8", "--shard", "1/2", "--steps", "7")) == 0
    recorded = json.loads((out / "inversion.json").read_text(encoding="utf-8"))["settings"]
    assert recorded["method"] == "e4e" and not {"projector_steps", "hybrid_steps", "w_prior"} & set(recorded)
    run(root, dataset, tmp_path / "plain")
    assert np.allclose(load_inversions(out).ws, load_inversions(tmp_path / "plain").ws, atol=1e-6)
    assert main(invert_args(root, dataset, tmp_path / "plain", "--chunk", "4")) == 2  # the chunks still must fit


@pytest.mark.slow
def test_under_torchrun_two_processes_give_the_single_process_result(setup, tmp_path):
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    root, dataset = setup
    torchrun = Path(sys.executable).with_name("torchrun")
    if not torchrun.is_file() and not shutil.which("torchrun"):
        pytest.skip("torchrun is not installed beside this Python")
    run(root, dataset, tmp_path / "one")
    command = [str(torchrun), "--standalone", "--nproc-per-node", "2", "-m", "thisineq.cli"]
    command += invert_args(root, dataset, tmp_path / "two", "--chunk", "8")
    finished = subprocess.run(command, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert finished.returncode == 0, finished.stderr[-2000:]
    one, two = load_inversions(tmp_path / "one"), load_inversions(tmp_path / "two")
    assert list(two.photo_id) == list(one.photo_id) and np.allclose(two.ws, one.ws, atol=1e-6)


def test_a_dataset_cached_at_another_size_is_named_with_the_fix(setup, tmp_path, capsys):
    root, dataset = setup
    big = Generator(StyleGAN2Config(size=64, style_dim=16, n_mlp=2, channels={4: 16, 8: 16, 16: 8, 32: 8, 64: 8}))
    save_generator(big, tmp_path / "g64.pt")
    args = ["invert", "--method", "e4e", "--dataset", str(dataset), "--generator", str(tmp_path / "g64.pt")]
    encoder = E4EEncoder(EncoderConfig.for_generator(big, widths=(8, 8, 16, 16)), big.w_avg)
    save_encoder(encoder, "e4e", tmp_path / "e4e64.pt", generator_sha256="-", step=0)
    assert main([*args, "--e4e", str(tmp_path / "e4e64.pt"), "--out", str(tmp_path / "out")]) == 2
    assert "caches 32-px images but the generator makes 64-px ones" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
