"""The reference tools' formats, out and back in: latents (e4e, ReStyle, NVIDIA's projector), InterFaceGAN boundaries,
rosinality generators."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from thisineq import exchange
from thisineq.models.stylegan2 import Generator, StyleGAN2Config, load_rosinality

RNG = np.random.default_rng(0)


def test_e4e_latents_round_trip(tmp_path):
    ws = RNG.normal(size=(5, 8, 16)).astype(np.float32)
    exchange.write_e4e_latents(ws, tmp_path / "latents.pt")
    assert isinstance(torch.load(tmp_path / "latents.pt", weights_only=True), torch.Tensor)  # what e4e's tools expect
    np.testing.assert_array_equal(exchange.read_e4e_latents(tmp_path / "latents.pt"), ws)
    torch.save({"not": "latents"}, tmp_path / "other.pt")
    with pytest.raises(exchange.ExchangeFormatError, match="not e4e's latents tensor"):
        exchange.read_e4e_latents(tmp_path / "other.pt")


def test_restyle_latents_round_trip_without_allow_pickle(tmp_path):
    latents = {"a.jpg": RNG.normal(size=(5, 8, 16)), "b.jpg": RNG.normal(size=(5, 8, 16))}
    exchange.write_restyle_latents(latents, tmp_path / "latents.npy")
    back = exchange.read_restyle_latents(tmp_path / "latents.npy")
    assert list(back) == ["a.jpg", "b.jpg"]
    np.testing.assert_allclose(back["a.jpg"], latents["a.jpg"], rtol=1e-6)
    assert np.load(tmp_path / "latents.npy", allow_pickle=True).item().keys() == latents.keys()  # as ReStyle reads it


class _Shell:
    def __reduce__(self):
        import os

        return os.system, ("echo unsafe",)


def test_a_restyle_file_that_would_run_code_is_refused(tmp_path):
    path = tmp_path / "latents.npy"
    np.save(path, np.array({"a.jpg": _Shell()}, dtype=object), allow_pickle=True)
    with pytest.raises(exchange.ExchangeFormatError, match="system, which a latents file never needs"):
        exchange.read_restyle_latents(path)
    np.save(tmp_path / "plain.npy", np.zeros((2, 3)))
    with pytest.raises(exchange.ExchangeFormatError, match="not ReStyle's dict"):
        exchange.read_restyle_latents(tmp_path / "plain.npy")
    (tmp_path / "junk.npy").write_bytes(pickle.dumps([1]))
    with pytest.raises(exchange.ExchangeFormatError, match="not a .npy file"):
        exchange.read_restyle_latents(tmp_path / "junk.npy")


def test_projected_w_round_trip(tmp_path):
    ws = RNG.normal(size=(8, 16)).astype(np.float32)
    exchange.write_projected_w(ws, tmp_path / "projected_w.npz")
    assert np.load(tmp_path / "projected_w.npz")["w"].shape == (1, 8, 16)  # the projector's layout
    np.testing.assert_array_equal(exchange.read_projected_w(tmp_path / "projected_w.npz"), ws)
    with pytest.raises(exchange.ExchangeFormatError, match="one photo"):
        exchange.write_projected_w(RNG.normal(size=(2, 8, 16)), tmp_path / "two.npz")


def test_interfacegan_boundary_round_trip(tmp_path):
    normal = RNG.normal(size=16)
    exchange.write_interfacegan_boundary(normal * 3, tmp_path / "boundary.npy")
    assert np.load(tmp_path / "boundary.npy").shape == (1, 16)
    np.testing.assert_allclose(
        exchange.read_interfacegan_boundary(tmp_path / "boundary.npy"), normal / np.linalg.norm(normal), rtol=1e-6
    )
    np.save(tmp_path / "flat.npy", np.ones(16))
    with pytest.raises(exchange.ExchangeFormatError, match=r"\(1, dim\)"):
        exchange.read_interfacegan_boundary(tmp_path / "flat.npy")
    with pytest.raises(exchange.ExchangeFormatError, match="non-zero"):
        exchange.write_interfacegan_boundary(np.zeros(16), tmp_path / "zero.npy")


def test_rosinality_generator_round_trip(tmp_path):
    g = Generator(StyleGAN2Config(size=8, style_dim=16, n_mlp=2, channels={4: 8, 8: 8})).eval()
    g.w_avg.normal_()
    exchange.write_rosinality_generator(g, tmp_path / "g.pt")
    back = load_rosinality(tmp_path / "g.pt")
    z = torch.randn(2, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(back(z, truncation_psi=0.5), g(z, truncation_psi=0.5))
    assert set(torch.load(tmp_path / "g.pt", weights_only=True)) == {"g_ema", "latent_avg"}


def test_the_export_commands_write_what_the_readers_read_back(tmp_path):
    from thisineq.artifacts import demo_set
    from thisineq.cli import main
    from thisineq.invert.batch import load_inversions
    from thisineq.latent.normals import BoundarySet

    demo = demo_set()
    inversions = load_inversions(demo.inversion("e4e"))
    assert main(["export", "latents", str(demo.inversion("e4e")), "--format", "e4e", "--out", str(tmp_path / "latents.pt")]) == 0
    np.testing.assert_array_equal(exchange.read_e4e_latents(tmp_path / "latents.pt"), inversions.ws)
    assert main(["export", "latents", str(demo.inversion("e4e")), "--format", "restyle", "--out", str(tmp_path / "r.npy")]) == 0
    first = str(inversions.photo_id[0])
    np.testing.assert_array_equal(exchange.read_restyle_latents(tmp_path / "r.npy")[first][0], inversions.ws[0])
    assert main(["export", "boundaries", str(demo.normals), "--method", "e4e", "--out", str(tmp_path / "b")]) == 0
    income = BoundarySet.load(demo.normals).directions("e4e")["income"].normal
    np.testing.assert_allclose(exchange.read_interfacegan_boundary(tmp_path / "b" / "income_boundary.npy"), income, atol=1e-6)
    assert main(["export", "generator", str(demo.generator), "--out", str(tmp_path / "g.pt")]) == 0
    assert load_rosinality(tmp_path / "g.pt").config.size == 64
    assert main(["export", "boundaries", str(demo.normals), "--method", "hybrid2", "--out", str(tmp_path / "x")]) == 2
