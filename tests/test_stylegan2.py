"""StyleGAN2: the community checkpoint reproduced, the fast modulated conv proven equal, safe loading."""

from __future__ import annotations

import math
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from thisineq.models.stylegan2 import (
    CheckpointError,
    Discriminator,
    Generator,
    ModulatedConv2d,
    StyleGAN2Config,
    broadcast,
    config_from_rosinality,
    load_generator,
    load_rosinality,
    minibatch_stddev,
    realism,
    realism_of_latents,
    save_generator,
)

FIXTURE = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "stylegan2-rosinality-32"
TINY = StyleGAN2Config(size=32, style_dim=32, n_mlp=2, channels={4: 32, 8: 32, 16: 16, 32: 8})


@pytest.fixture(scope="module")
def fixture_files():
    if not (FIXTURE / "checkpoint.pt").is_file():
        pytest.skip(f"the rosinality fixture is not beside the repo ({FIXTURE})")
    load = lambda name: torch.load(FIXTURE / name, weights_only=True)  # noqa: E731
    return load_rosinality(FIXTURE / "checkpoint.pt"), load("inputs.pt"), load("expected.pt")


def test_config_is_read_from_the_state_dict(fixture_files):
    generator, _, _ = fixture_files
    c = generator.config
    assert (c.size, c.style_dim, c.n_mlp, c.num_ws) == (32, 64, 4, 8)
    assert c.channels == {4: 64, 8: 64, 16: 64, 32: 64}  # not the reference table's 512s


@torch.no_grad()
def test_every_fixture_output_is_reproduced(fixture_files):
    g, inputs, expected = fixture_files
    g.w_avg.copy_(inputs["mean_latent"].reshape(-1))
    w = g.mapping(inputs["z"])
    ws_mixed = torch.cat([broadcast(w, 3), broadcast(g.mapping(inputs["z2"]), g.num_ws - 3)], dim=1)  # w for layers 0–2
    outputs = {
        "from_z": g(inputs["z"]),
        "from_z_truncation_0.7": g(inputs["z"], truncation_psi=0.7),
        "style_mixing_inject_3": g.synthesis(ws_mixed),
        "wplus_from_mixing": ws_mixed,
        "from_wplus": g.synthesis(inputs["wplus"]),
        "from_w": g.synthesis(broadcast(inputs["w"], g.num_ws)),
    }
    assert set(outputs) == set(expected)
    for name, value in outputs.items():
        assert (value - expected[name]).abs().max() < 1e-4, name
    assert (w - inputs["w"]).abs().max() < 1e-5


def grouped_modulated_conv(conv: ModulatedConv2d, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """The paper's formulation: one modulated weight per sample, a grouped convolution."""
    batch, in_ch, height, width = x.shape
    style = conv.modulation(w).view(batch, 1, in_ch, 1, 1)
    weight = conv.scale * conv.weight * style  # (B, out, in, k, k)
    if conv.demodulate:
        weight = weight * torch.rsqrt(weight.pow(2).sum([2, 3, 4]) + 1e-8).view(batch, -1, 1, 1, 1)
    k = conv.kernel_size
    if conv.upsample:
        weight = weight.transpose(1, 2).reshape(batch * in_ch, conv.out_channels, k, k)
        out = F.conv_transpose2d(x.reshape(1, -1, height, width), weight, stride=2, groups=batch)
        return conv.blur(out.view(batch, conv.out_channels, *out.shape[2:]))
    weight = weight.view(batch * conv.out_channels, in_ch, k, k)
    out = F.conv2d(x.reshape(1, -1, height, width), weight, padding=conv.padding, groups=batch)
    return out.view(batch, conv.out_channels, *out.shape[2:])


@pytest.mark.parametrize("upsample,demodulate,k", [(False, True, 3), (True, True, 3), (False, False, 1)])
def test_shared_weight_modulated_conv_equals_the_grouped_one(upsample, demodulate, k):
    torch.manual_seed(0)
    conv = ModulatedConv2d(16, 8, k, 32, demodulate=demodulate, upsample=upsample)
    x, w = torch.randn(5, 16, 8, 8), torch.randn(5, 32)
    assert torch.allclose(conv(x, w), grouped_modulated_conv(conv, x, w), atol=1e-5)


def test_forward_and_backward_shapes():
    g, d = Generator(TINY), Discriminator(TINY)
    z = torch.randn(6, 32)
    images = g(z, noise_mode="random")
    assert images.shape == (6, 3, 32, 32)
    logits = d(images)
    assert logits.shape == (6, 1)
    logits.sum().backward()
    assert all(p.grad is not None for p in g.parameters() if p.requires_grad and p.ndim > 0 and "noises" not in str(p))
    with pytest.raises(ValueError, match=r"ws must have shape \(B, 8, 32\)"):
        g.synthesis(torch.randn(2, 7, 32))


def test_truncation_and_noise_modes():
    g = Generator(TINY).eval()
    g.w_avg.normal_()
    for name, p in g.named_parameters():
        if name.endswith("noise.weight"):
            p.data.fill_(0.5)  # fresh noise strengths are 0, which would hide the noise
    z = torch.randn(3, 32)
    with torch.no_grad():
        assert torch.allclose(g(z, truncation_psi=0.0)[0], g(z, truncation_psi=0.0)[1], atol=1e-6)  # all at w_avg
        assert torch.equal(g(z), g(z))  # stored noise: deterministic
        assert not torch.equal(g(z, noise_mode="random"), g(z, noise_mode="random"))


def test_synthesis_refuses_noise_maps_that_do_not_fit_its_layers():
    g = Generator(StyleGAN2Config(size=16, style_dim=8, n_mlp=1, channels={4: 8, 8: 8, 16: 8})).eval()
    ws = broadcast(g.mapping(torch.randn(2, 8)), g.num_ws)
    noise = [torch.randn(2, *n.shape[1:]) for n in g.stored_noise()]
    assert len(noise) == 5 and g.synthesis(ws, noise=noise).shape == (2, 3, 16, 16)
    with pytest.raises(ValueError, match="noise must hold 5 maps, one per layer of this 16-px generator; got 3"):
        g.synthesis(ws, noise=noise[:3])
    with pytest.raises(ValueError, match="got 6"):
        g.synthesis(ws, noise=[*noise, noise[-1]])
    with pytest.raises(ValueError, match=r"noise map 1 must have shape \(1 or 2, 1, 8, 8\), got \(2, 1, 16, 16\)"):
        g.synthesis(ws, noise=[noise[0], noise[-1], *noise[2:]])
    with pytest.raises(ValueError, match=r"noise map 0 must have shape \(1 or 2, 1, 4, 4\), got \(3, 1, 4, 4\)"):
        g.synthesis(ws, noise=[torch.randn(3, 1, 4, 4), *noise[1:]])


def test_minibatch_stddev_handles_batches_not_divisible_by_the_group():
    out = minibatch_stddev(torch.randn(6, 4, 2, 2), group_size=4)
    assert out.shape == (6, 5, 2, 2)
    assert torch.isfinite(out).all()


def test_own_checkpoints_round_trip(tmp_path):
    g = Generator(TINY).eval()
    g.w_avg.normal_()
    save_generator(g, tmp_path / "g.pt")
    loaded = load_generator(tmp_path / "g.pt")
    z = torch.randn(2, 32)
    with torch.no_grad():
        assert torch.equal(loaded(z), g(z))
    save_generator(g, tmp_path / "g16.pt", half=True)
    with torch.no_grad():
        assert (load_generator(tmp_path / "g16.pt")(z) - g(z)).abs().max() < 0.05
    assert (tmp_path / "g16.pt").stat().st_size < 0.6 * (tmp_path / "g.pt").stat().st_size


class Exploit:
    def __reduce__(self):
        return (print, ("this would run arbitrary code",))


def test_hostile_and_broken_files_get_clear_errors(tmp_path):
    with open(tmp_path / "exploit.pt", "wb") as handle:
        pickle.dump({"g_ema": Exploit()}, handle)
    with pytest.raises(CheckpointError, match="not a safe PyTorch checkpoint"):
        load_generator(tmp_path / "exploit.pt")
    torch.save({"g_ema": Generator(TINY).state_dict()}, tmp_path / "ok.pt")
    data = (tmp_path / "ok.pt").read_bytes()
    (tmp_path / "truncated.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError):
        load_generator(tmp_path / "truncated.pt")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="no 'g_ema'"):
        load_generator(tmp_path / "other.pt")
    torch.save({"g_ema": {"conv.weight": torch.zeros(3)}}, tmp_path / "keys.pt")
    with pytest.raises(CheckpointError, match="rosinality layout"):
        load_generator(tmp_path / "keys.pt")
    save_generator(Generator(TINY), tmp_path / "own.pt")
    record = torch.load(tmp_path / "own.pt", weights_only=True)
    record["config"]["style_dim"] = 16
    torch.save(record, tmp_path / "other_shapes.pt")
    with pytest.raises(CheckpointError, match="the weights do not fit the Generator: size mismatch for w_avg"):
        load_generator(tmp_path / "other_shapes.pt")
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(CheckpointError):
        load_generator(tmp_path / "text.pt")


def test_rosinality_layout_of_our_own_generator_is_inferred_back():
    state = Generator(TINY).state_dict()
    config = config_from_rosinality(state)
    assert config.channels == TINY.channels and config.n_mlp == 2 and config.size == 32
    assert math.log2(config.size) == 5


def test_realism_scores_each_image_alone_whatever_it_is_batched_with():
    torch.manual_seed(0)
    g, d = Generator(TINY).eval(), Discriminator(TINY).eval()
    with torch.no_grad():
        d.final_linear[-1].bias.fill_(0.3)  # a logit that is not zero by construction
        images = g(torch.randn(8, TINY.style_dim))
    together = realism(d, images)
    alone = np.concatenate([realism(d, images[i : i + 1]) for i in range(8)])
    assert together.shape == (8,) and np.allclose(together, alone, atol=1e-5)
    assert np.allclose(realism(d, images, batch=3), together, atol=1e-5)
    with torch.no_grad():
        batched = d(images)[:, 0].numpy()  # D's own minibatch statistics mix the images
    assert not np.allclose(batched, together, atol=1e-4)
    with torch.no_grad():
        ws = g.mapping(torch.randn(5, TINY.style_dim)).numpy()
        drawn = g.synthesis(torch.from_numpy(ws)[:, None].repeat(1, g.num_ws, 1))
    assert np.allclose(realism_of_latents(g, d, ws, chunk=2), realism(d, drawn), atol=1e-5)
    with pytest.raises(ValueError, match=r"images must be \(n, 3, size, size\)"):
        realism(d, images[:, 0])
