"""stylegan2-ada-pytorch networks (read by `ada_snapshot`) as the project's StyleGAN2, weight for weight.

NVIDIA's StyleGAN2-ADA and the rosinality layout this project uses implement the same networks
(both reproduce the original TensorFlow StyleGAN2), so a snapshot's G_ema and D convert exactly:
the mapping's fully connected layers, the constant input, each block's two modulated convolutions
(upsampling ones included, kernels as stored), noise strengths and constant noise maps, the ToRGB
layers and the truncation centre; the discriminator's FromRGB, residual blocks and epilogue. The
fixture's outputs are reproduced to about 1e-5.

`conv_clamp`, z_dim ≠ w_dim and conditional generators carry over (the project's layers clamp where
StyleGAN2-ADA's do; a conditional generator embeds its class as StyleGAN2-ADA's mapping does, and
draws one chosen class wherever the project asks for images without one; a conditional
discriminator maps its class to a projection vector as StyleGAN2-ADA's does, and judges the same
class by default); float16 layers are computed in float32. What this conversion does not cover is
refused by name rather than converted wrongly: architectures other than StyleGAN2-ADA's defaults
(skip generator, resnet discriminator), other mapping widths or activations.
"""

from __future__ import annotations

import math
from dataclasses import replace

import torch

from thisineq.errors import ConfigError
from thisineq.models.ada_snapshot import NetworkRecord
from thisineq.models.stylegan2 import Discriminator, Generator, StyleGAN2Config, load_weights


class UnsupportedNetworkError(ConfigError):
    """A snapshot's network uses a feature this conversion does not reproduce."""


def ada_config(generator: NetworkRecord) -> StyleGAN2Config:
    """The project's StyleGAN2 architecture of a stylegan2-ada-pytorch Generator record, or why it has none."""
    kwargs = generator.init_kwargs
    if generator.class_name != "Generator":
        raise UnsupportedNetworkError(f"expected a Generator, got {generator.class_name}")
    mapping, synthesis = dict(kwargs.get("mapping_kwargs", {})), dict(kwargs.get("synthesis_kwargs", {}))
    problems = []
    if kwargs.get("c_dim", 0) and mapping.get("embed_features") not in (None, kwargs.get("w_dim")):
        problems.append("its class embedding is not w's width")
    if synthesis.get("architecture", "skip") != "skip":
        problems.append(f"its synthesis architecture is {synthesis['architecture']!r}, not 'skip'")
    if kwargs.get("img_channels", 3) != 3:
        problems.append(f"it makes {kwargs['img_channels']}-channel images")
    if mapping.get("layer_features") not in (None, kwargs.get("w_dim")) or mapping.get("activation", "lrelu") != "lrelu":
        problems.append("its mapping network is not StyleGAN2's (other layer widths or activation)")
    if problems:
        raise UnsupportedNetworkError("this snapshot cannot be converted yet: " + "; ".join(problems))
    size = int(kwargs["img_resolution"])
    base, most = int(synthesis.get("channel_base", 32768)), int(synthesis.get("channel_max", 512))
    channels = {2**k: min(base // 2**k, most) for k in range(2, int(math.log2(size)) + 1)}
    return StyleGAN2Config(
        size=size,
        style_dim=int(kwargs["w_dim"]),
        n_mlp=int(mapping.get("num_layers", 8)),
        channels=channels,
        lr_mlp=float(mapping.get("lr_multiplier", 0.01)),
        z_dim=int(kwargs["z_dim"]) if kwargs.get("z_dim") != kwargs.get("w_dim") else None,
        c_dim=int(kwargs.get("c_dim", 0)),
        conv_clamp=synthesis.get("conv_clamp"),
    )


def _resolutions(size: int) -> list[int]:
    return [2**k for k in range(2, int(math.log2(size)) + 1)]


def generator_weights(record: NetworkRecord, config: StyleGAN2Config, class_index: int = 0) -> dict[str, torch.Tensor]:
    """A Generator record's tensors under the project's names (the blur kernels follow from the config); a conditional
    one's `default_c` is the one-hot vector of `class_index`."""
    ada = record.state_dict()
    out = {"w_avg": ada["mapping.w_avg"], "input.input": ada["synthesis.b4.const"][None]}
    if config.c_dim:
        if not 0 <= class_index < config.c_dim:
            raise UnsupportedNetworkError(
                f"class {class_index} is not one of this generator's {config.c_dim} classes (0–{config.c_dim - 1})"
            )
        out["embed.weight"], out["embed.bias"] = ada["mapping.embed.weight"], ada["mapping.embed.bias"]
        out["default_c"] = torch.nn.functional.one_hot(torch.tensor(class_index), config.c_dim).float()
    for i in range(config.n_mlp):
        out[f"style.{i + 1}.weight"], out[f"style.{i + 1}.bias"] = ada[f"mapping.fc{i}.weight"], ada[f"mapping.fc{i}.bias"]

    def styled(ours: str, theirs: str) -> None:
        out[f"{ours}.conv.weight"] = ada[f"{theirs}.weight"][None]
        out[f"{ours}.conv.modulation.weight"] = ada[f"{theirs}.affine.weight"]
        out[f"{ours}.conv.modulation.bias"] = ada[f"{theirs}.affine.bias"]
        out[f"{ours}.noise.weight"] = ada[f"{theirs}.noise_strength"].reshape(1)
        out[f"{ours}.activate.bias"] = ada[f"{theirs}.bias"]

    def to_rgb(ours: str, theirs: str) -> None:
        out[f"{ours}.conv.weight"] = ada[f"{theirs}.weight"][None]
        out[f"{ours}.conv.modulation.weight"] = ada[f"{theirs}.affine.weight"]
        out[f"{ours}.conv.modulation.bias"] = ada[f"{theirs}.affine.bias"]
        out[f"{ours}.bias"] = ada[f"{theirs}.bias"].reshape(1, -1, 1, 1)

    styled("conv1", "synthesis.b4.conv1")
    to_rgb("to_rgb1", "synthesis.b4.torgb")
    out["noises.noise_0"] = ada["synthesis.b4.conv1.noise_const"][None, None]
    for k, res in enumerate(_resolutions(config.size)[1:]):
        styled(f"convs.{2 * k}", f"synthesis.b{res}.conv0")
        styled(f"convs.{2 * k + 1}", f"synthesis.b{res}.conv1")
        to_rgb(f"to_rgbs.{k}", f"synthesis.b{res}.torgb")
        out[f"noises.noise_{2 * k + 1}"] = ada[f"synthesis.b{res}.conv0.noise_const"][None, None]
        out[f"noises.noise_{2 * k + 2}"] = ada[f"synthesis.b{res}.conv1.noise_const"][None, None]
    return {k: v.float() for k, v in out.items()}  # float16 layers are computed in float32 here


def discriminator_weights(record: NetworkRecord, config: StyleGAN2Config) -> dict[str, torch.Tensor]:
    """A (resnet) Discriminator record's tensors under the project's names."""
    kwargs = record.init_kwargs
    problems = []
    if kwargs.get("c_dim", 0):
        mapping = dict(kwargs.get("mapping_kwargs", {}))
        cmap = kwargs.get("cmap_dim") or config.channels[4]
        if any(mapping.get(k) not in (None, cmap) for k in ("embed_features", "layer_features")):
            problems.append("its class mapping's widths are not its projection's")
        if mapping.get("activation", "lrelu") != "lrelu":
            problems.append(f"its class mapping's activation is {mapping['activation']!r}, not 'lrelu'")
    if kwargs.get("architecture", "resnet") != "resnet":
        problems.append(f"its architecture is {kwargs['architecture']!r}, not 'resnet'")
    epilogue = dict(kwargs.get("epilogue_kwargs", {}))
    if epilogue.get("mbstd_num_channels", 1) != 1:
        problems.append("its minibatch-stddev layer has more than one channel")
    if problems:
        raise UnsupportedNetworkError("this discriminator cannot be converted yet: " + "; ".join(problems))
    ada = record.state_dict()
    blocks = [res for res in reversed(_resolutions(config.size)) if res > 4]
    out = {"convs.0.0.weight": ada[f"b{blocks[0]}.fromrgb.weight"], "convs.0.1.bias": ada[f"b{blocks[0]}.fromrgb.bias"]}
    for k, res in enumerate(blocks, start=1):
        out[f"convs.{k}.conv1.0.weight"], out[f"convs.{k}.conv1.1.bias"] = ada[f"b{res}.conv0.weight"], ada[f"b{res}.conv0.bias"]
        out[f"convs.{k}.conv2.1.weight"], out[f"convs.{k}.conv2.2.bias"] = ada[f"b{res}.conv1.weight"], ada[f"b{res}.conv1.bias"]
        out[f"convs.{k}.skip.1.weight"] = ada[f"b{res}.skip.weight"]
    out["final_conv.0.weight"], out["final_conv.1.bias"] = ada["b4.conv.weight"], ada["b4.conv.bias"]
    out["final_linear.0.weight"], out["final_linear.0.bias"] = ada["b4.fc.weight"], ada["b4.fc.bias"]
    out["final_linear.1.weight"], out["final_linear.1.bias"] = ada["b4.out.weight"], ada["b4.out.bias"]
    if kwargs.get("c_dim", 0):
        out["embed.weight"], out["embed.bias"] = ada["mapping.embed.weight"], ada["mapping.embed.bias"]
        for i in range(_mapping_layers(kwargs)):
            out[f"mapping.{i + 1}.weight"], out[f"mapping.{i + 1}.bias"] = (
                ada[f"mapping.fc{i}.weight"],
                ada[f"mapping.fc{i}.bias"],
            )
    return {k: v.float() for k, v in out.items()}


def _mapping_layers(kwargs: dict) -> int:
    return int(dict(kwargs.get("mapping_kwargs", {})).get("num_layers", 8))  # MappingNetwork's default depth


def ada_generator(record: NetworkRecord, class_index: int = 0) -> Generator:
    """The project's Generator with a stylegan2-ada-pytorch Generator record's weights (eval mode); a conditional one
    draws class `class_index` wherever no class is given."""
    config = ada_config(record)
    generator = Generator(config)
    load_weights(generator, {**_filters(generator), **generator_weights(record, config, class_index)})
    return generator.eval()


def ada_discriminator(record: NetworkRecord, config: StyleGAN2Config, class_index: int = 0) -> Discriminator:
    """The project's Discriminator with a stylegan2-ada-pytorch Discriminator record's weights (eval mode); a
    conditional one judges class `class_index` wherever no class is given.

    `config`: the generator's (`ada_config`); the discriminator's widths must match it, its clamp is its own.
    """
    kwargs = record.init_kwargs
    mbstd = int(dict(kwargs.get("epilogue_kwargs", {})).get("mbstd_group_size", 4))
    c_dim = int(kwargs.get("c_dim", 0))
    conditioning = {}
    if c_dim:
        if not 0 <= class_index < c_dim:
            raise UnsupportedNetworkError(f"class {class_index} is not one of this discriminator's {c_dim} classes")
        mapping = dict(kwargs.get("mapping_kwargs", {}))
        conditioning = {
            "c_dim": c_dim,
            "cmap_dim": kwargs.get("cmap_dim") or config.channels[4],
            "mapping_layers": _mapping_layers(kwargs),
            "mapping_lr": float(mapping.get("lr_multiplier", 0.01)),
        }
    discriminator = Discriminator(replace(config, conv_clamp=kwargs.get("conv_clamp")), stddev_group=mbstd, **conditioning)
    weights = discriminator_weights(record, config)
    if c_dim:
        weights["default_c"] = torch.nn.functional.one_hot(torch.tensor(class_index), c_dim).float()
    load_weights(discriminator, {**_filters(discriminator), **weights})
    return discriminator.eval()


def _filters(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A module's resampling filters (buffers that follow from its config's blur kernel, not learned)."""
    return {k: v for k, v in module.state_dict().items() if k.endswith(".kernel")}
