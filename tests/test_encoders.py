"""Encoders: shapes, e4e's progressive unlocking and offset penalty, ReStyle's iterations."""

from __future__ import annotations

import pytest
import torch

from thisineq.models.encoders import (
    E4EEncoder,
    EncoderConfig,
    LatentDiscriminator,
    ReStyleEncoder,
    build_encoder,
    encode_and_generate,
    load_encoder,
    offset_penalty,
    pyramid_level,
    restyle_invert,
    save_encoder,
)
from thisineq.models.stylegan2 import CheckpointError, Generator, StyleGAN2Config

G_CONFIG = StyleGAN2Config(size=32, style_dim=16, n_mlp=2, channels={4: 32, 8: 16, 16: 16, 32: 8})


@pytest.fixture(scope="module")
def generator():
    torch.manual_seed(0)
    return Generator(G_CONFIG).eval()


def config_for(generator):
    return EncoderConfig.for_generator(generator, widths=(8, 16, 16, 32))


def test_e4e_starts_in_w_and_unlocks_layers(generator):
    encoder = E4EEncoder(config_for(generator), w_avg=generator.w_avg).eval()
    photos = torch.randn(3, 3, 32, 32)
    encoder.set_stage(0)
    ws = encoder(photos)
    assert ws.shape == (3, generator.num_ws, 16)
    assert torch.allclose(ws, ws[:, :1].expand_as(ws)) and offset_penalty(ws) == 0
    encoder.set_stage(3)
    ws = encoder(photos)
    assert not torch.allclose(ws[:, 1:4], ws[:, :1].expand(-1, 3, -1))
    assert torch.allclose(ws[:, 4:], ws[:, :1].expand(-1, generator.num_ws - 4, -1))
    assert offset_penalty(ws) > 0


def test_restyle_iterates_residuals(generator):
    encoder = ReStyleEncoder(config_for(generator)).eval()
    photos = torch.randn(2, 3, 32, 32)
    steps = restyle_invert(encoder, generator, photos, iterations=3)
    assert len(steps) == 3
    ws1, ws2 = steps[0][0], steps[1][0]
    assert ws1.shape == (2, generator.num_ws, 16) and steps[-1][1].shape == (2, 3, 32, 32)
    assert not torch.equal(ws1, ws2)


def test_gradients_reach_the_encoder(generator):
    encoder = E4EEncoder(config_for(generator))
    critic = LatentDiscriminator(16)
    photos = torch.randn(4, 3, 32, 32)
    ws = encoder(photos)
    loss = (generator.synthesis(ws) - photos).square().mean() + critic(ws[:, 0]).mean() + offset_penalty(ws)
    loss.backward()
    assert all(p.grad is not None for p in encoder.backbone.parameters())


def test_pyramid_split_and_bad_input(generator):
    assert [pyramid_level(i) for i in range(10)] == [4, 4, 4, 8, 8, 8, 8, 16, 16, 16]
    with pytest.raises(ValueError, match=r"photos must be \(B, 3, 32, 32\)"):
        E4EEncoder(config_for(generator))(torch.randn(1, 3, 64, 64))


@pytest.mark.parametrize("kind", ["e4e", "restyle"])
def test_encoder_checkpoints_round_trip_and_refuse_weights_that_do_not_fit(generator, kind, tmp_path):
    encoder = build_encoder(kind, config_for(generator), generator.w_avg).eval()
    save_encoder(encoder, kind, tmp_path / "encoder.pt", generator_sha256="abc", step=7)
    loaded_kind, loaded, metadata = load_encoder(tmp_path / "encoder.pt")
    assert loaded_kind == kind and metadata == {"generator_sha256": "abc", "step": 7}
    photos = torch.randn(2, 3, 32, 32)
    assert torch.equal(
        encode_and_generate(loaded, kind, generator, photos)[0], encode_and_generate(encoder, kind, generator, photos)[0]
    )
    record = torch.load(tmp_path / "encoder.pt", weights_only=True)
    record["config"]["widths"] = [8, 8, 8, 8]
    torch.save(record, tmp_path / "other.pt")
    with pytest.raises(
        CheckpointError,
        match=f"not a usable encoder checkpoint: the weights do not fit the {type(encoder).__name__}: size mismatch",
    ):
        load_encoder(tmp_path / "other.pt")
    with pytest.raises(ValueError, match="encoder kind must be one of e4e, restyle"):
        build_encoder("psp", config_for(generator))


@pytest.mark.parametrize("kind", ["e4e", "restyle"])
def test_the_pretrained_backbone_loads_its_shipped_weights_offline_and_round_trips(generator, kind, tmp_path):
    from thisineq.models.backbones import load_efficientnet_lite0

    shipped = load_efficientnet_lite0()
    config = EncoderConfig.for_generator(generator, widths=(8, 16, 16, 32), head_width=8, backbone="efficientnet")
    encoder = build_encoder(kind, config, generator.w_avg)
    backbone = encoder.backbone
    assert torch.equal(backbone.blocks[4]._project_conv.weight, shipped._blocks[4]._project_conv.weight)
    stem = backbone.stem[0].weight
    assert torch.equal(stem[:, :3], shipped._conv_stem.weight)  # the photo is read by ImageNet's filters
    if kind == "restyle":
        assert stem.shape[1] == 6 and stem[:, 3:].abs().sum() == 0  # the reconstruction's start at zero
    photos = torch.rand(2, 3, 32, 32) * 2 - 1
    ws, images = encode_and_generate(encoder.eval(), kind, generator, photos, iterations=2)
    assert ws.shape == (2, generator.num_ws, 16) and images.shape == (2, 3, 32, 32)
    save_encoder(encoder, kind, tmp_path / "enc.pt", generator_sha256="x", step=1)
    loaded_kind, loaded, _ = load_encoder(tmp_path / "enc.pt")
    assert loaded_kind == kind and loaded.config.backbone == "efficientnet"
    assert torch.allclose(encode_and_generate(loaded, kind, generator, photos, iterations=2)[0], ws)
    with pytest.raises(ValueError, match="backbone must be one of residual, efficientnet"):
        EncoderConfig(backbone="resnet50")
