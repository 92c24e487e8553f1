"""StyleGAN2 in pure PyTorch: mapping, synthesis and discriminator, in the rosinality layout.

Parameter names and numerics follow rosinality/stylegan2-pytorch, the implementation whose
checkpoints e4e and ReStyle publish, so those generators load unchanged (`load_rosinality`).
Nothing is compiled: up-/down-sampling filters are plain convolutions, and a modulated
convolution scales its input by the style and its output by the demodulation coefficients
around one convolution shared by the batch, which equals the per-sample grouped convolution
of the paper and is much faster on a CPU.

Vocabulary (as in NVlabs' code): `z` input noise (B, style_dim); `w` one style vector
(B, style_dim); `ws` one w per layer, W+ (B, num_ws, style_dim).
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from thisineq.config import option
from thisineq.errors import ConfigError, ThisIneqError

# --- configuration ------------------------------------------------------------------------------


def default_channels(size: int, channel_base: int = 16384, channel_max: int = 512) -> dict[int, int]:
    """Channel width per resolution: `channel_base / resolution`, at most `channel_max`."""
    return {res: min(channel_base // res, channel_max) for res in _resolutions(size)}


def _resolutions(size: int) -> list[int]:
    return [2**k for k in range(2, int(math.log2(size)) + 1)]


@dataclass
class StyleGAN2Config:
    """Architecture of a generator and its discriminator."""

    size: int = option(64, "output side in pixels, a power of two from 4 to 1024")
    style_dim: int = option(256, "dimension of z and w")
    n_mlp: int = option(8, "layers of the mapping network (8 as in StyleGAN2)")
    channels: dict[int, int] = option({}, "width per resolution; {} → default_channels(size): min(16384 / resolution, 512)")
    lr_mlp: float = option(0.01, "learning-rate multiplier of the mapping network")
    blur_kernel: tuple[int, ...] = option((1, 3, 3, 1), "low-pass filter for resampling")
    z_dim: int | None = option(None, "dimension of z where it differs from w's (None: style_dim, as StyleGAN2)")
    c_dim: int = option(0, "classes of a conditional generator (StyleGAN2-ADA's c_dim; 0: unconditional)")
    conv_clamp: float | None = option(
        None, "clamp every convolution layer's output to ±this (StyleGAN2-ADA's conv_clamp, often 256; None: no clamp)"
    )

    def __post_init__(self):
        if self.size < 4 or self.size & (self.size - 1) or self.size > 1024:
            raise ConfigError(f"size must be a power of two from 4 to 1024, got {self.size}")
        self.channels = {int(k): int(v) for k, v in self.channels.items()} or default_channels(self.size)
        missing = [r for r in _resolutions(self.size) if r not in self.channels]
        if missing:
            raise ConfigError(f"channels has no width for resolutions {missing}")
        self.blur_kernel = tuple(self.blur_kernel)

    @property
    def num_ws(self) -> int:
        return 2 * int(math.log2(self.size)) - 2

    def to_dict(self) -> dict:
        """A plain dict (str keys, lists) that torch.load(weights_only=True) and JSON accept."""
        d = asdict(self)
        d["channels"] = {str(k): v for k, v in self.channels.items()}
        d["blur_kernel"] = list(self.blur_kernel)
        for late, unset in (("z_dim", None), ("conv_clamp", None), ("c_dim", 0)):  # joined late: stored only when set,
            if d[late] == unset:  # so that earlier files and run records stay equal
                del d[late]
        return d

    @property
    def z_size(self) -> int:
        """Dimensions of z."""
        return self.z_dim or self.style_dim

    @classmethod
    def from_dict(cls, d: dict) -> StyleGAN2Config:
        return cls(**{**d, "channels": {int(k): v for k, v in d.get("channels", {}).items()}})


# --- building blocks ----------------------------------------------------------------------------


def make_kernel(k) -> torch.Tensor:
    """A separable FIR filter normalised to sum 1, (len, len)."""
    k = torch.tensor(k, dtype=torch.float32)
    if k.ndim == 1:
        k = k[None, :] * k[:, None]
    return k / k.sum()


def upfirdn2d(x: torch.Tensor, kernel: torch.Tensor, up: int = 1, down: int = 1, pad=(0, 0)) -> torch.Tensor:
    """Upsample by zero insertion, pad, filter, downsample; (B, C, H, W) → (B, C, H', W')."""
    batch, channels, height, width = x.shape
    if up > 1:
        z = x.new_zeros(batch, channels, height * up, width * up)
        z[:, :, ::up, ::up] = x
        x = z
    x = F.pad(x, (pad[0], pad[1], pad[0], pad[1]))
    # The same filter on every channel: a depthwise convolution (its backward is far faster on a
    # CPU than folding the channels into the batch).
    weight = torch.flip(kernel, [0, 1]).to(x.dtype).expand(channels, 1, *kernel.shape)
    out = F.conv2d(x, weight, groups=channels)
    return out[:, :, ::down, ::down] if down > 1 else out


def fused_leaky_relu(x: torch.Tensor, bias: torch.Tensor, slope: float = 0.2, scale: float = 2**0.5) -> torch.Tensor:
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return F.leaky_relu(x + bias.view(shape), slope) * scale


class FusedLeakyReLU(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x):
        return fused_leaky_relu(x, self.bias)


class PixelNorm(nn.Module):
    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


class Blur(nn.Module):
    def __init__(self, kernel, pad, upsample_factor: int = 1):
        super().__init__()
        self.register_buffer("kernel", make_kernel(kernel) * upsample_factor**2)
        self.pad = pad

    def forward(self, x):
        return upfirdn2d(x, self.kernel, pad=self.pad)


class Upsample(nn.Module):
    def __init__(self, kernel, factor: int = 2):
        super().__init__()
        self.factor = factor
        self.register_buffer("kernel", make_kernel(kernel) * factor**2)
        p = len(kernel) - factor
        self.pad = ((p + 1) // 2 + factor - 1, p // 2)

    def forward(self, x):
        return upfirdn2d(x, self.kernel, up=self.factor, pad=self.pad)


class EqualLinear(nn.Module):
    """Linear layer with equalised learning rate: weights stored N(0, 1/lr_mul), scaled at run time."""

    def __init__(self, in_dim, out_dim, bias=True, bias_init=0.0, lr_mul=1.0, activation: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim).div_(lr_mul))
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init))) if bias else None
        self.activation = activation
        self.scale = (1 / math.sqrt(in_dim)) * lr_mul
        self.lr_mul = lr_mul

    def forward(self, x):
        bias = self.bias * self.lr_mul if self.bias is not None else None
        if self.activation:
            return fused_leaky_relu(F.linear(x, self.weight * self.scale), bias)
        return F.linear(x, self.weight * self.scale, bias=bias)


class EqualConv2d(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.scale = 1 / math.sqrt(in_channels * kernel_size**2)
        self.stride, self.padding = stride, padding
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None

    def forward(self, x):
        return F.conv2d(x, self.weight * self.scale, bias=self.bias, stride=self.stride, padding=self.padding)


class ModulatedConv2d(nn.Module):
    """Convolution whose input channels are scaled per sample by a style, then demodulated."""

    def __init__(
        self, in_channels, out_channels, kernel_size, style_dim, demodulate=True, upsample=False, blur_kernel=(1, 3, 3, 1)
    ):
        super().__init__()
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
        self.demodulate, self.upsample = demodulate, upsample
        if upsample:
            factor = 2
            p = (len(blur_kernel) - factor) - (kernel_size - 1)
            self.blur = Blur(blur_kernel, pad=((p + 1) // 2 + factor - 1, p // 2 + 1), upsample_factor=factor)
        self.scale = 1 / math.sqrt(in_channels * kernel_size**2)
        self.padding = kernel_size // 2
        self.weight = nn.Parameter(torch.randn(1, out_channels, in_channels, kernel_size, kernel_size))
        self.modulation = EqualLinear(style_dim, in_channels, bias_init=1)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """x (B, in, H, W), w (B, style_dim) → (B, out, H', W')."""
        weight = self.scale * self.weight[0]  # (out, in, k, k)
        style = self.modulation(w)  # (B, in)
        x = x * style[:, :, None, None]
        if self.upsample:
            out = self.blur(F.conv_transpose2d(x, weight.transpose(0, 1), stride=2))
        else:
            out = F.conv2d(x, weight, padding=self.padding)
        if self.demodulate:
            # Σ_i,k (W_oik s_i)² = Σ_i s_i² Σ_k W_oik²: the norm of each sample's modulated weight.
            demod = torch.rsqrt(style.square() @ weight.square().sum((2, 3)).T + 1e-8)  # (B, out)
            out = out * demod[:, :, None, None]
        return out


class NoiseInjection(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, image, noise=None):
        if noise is None:
            batch, _, height, width = image.shape
            noise = image.new_empty(batch, 1, height, width).normal_()
        return image + self.weight * noise


class ConstantInput(nn.Module):
    def __init__(self, channels, size=4):
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channels, size, size))

    def forward(self, batch: int):
        return self.input.repeat(batch, 1, 1, 1)


class Clamp(nn.Module):
    """Clamp to ±limit: StyleGAN2-ADA's conv_clamp, which keeps float16 layers in range (no weights)."""

    def __init__(self, limit: float):
        super().__init__()
        self.limit = float(limit)

    def forward(self, x):
        return x.clamp(-self.limit, self.limit)


def _clamp(limit: float | None) -> nn.Module:
    return Clamp(limit) if limit is not None else nn.Identity()


class StyledConv(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, style_dim, upsample=False, blur_kernel=(1, 3, 3, 1), clamp=None):
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, kernel_size, style_dim, upsample=upsample, blur_kernel=blur_kernel)
        self.noise = NoiseInjection()
        self.activate = FusedLeakyReLU(out_channels)
        self.clamp = _clamp(clamp)

    def forward(self, x, w, noise=None):
        return self.clamp(self.activate(self.noise(self.conv(x, w), noise=noise)))


class ToRGB(nn.Module):
    def __init__(self, in_channels, style_dim, upsample=True, blur_kernel=(1, 3, 3, 1), clamp=None):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))
        if upsample:
            self.upsample = Upsample(blur_kernel)
        self.conv = ModulatedConv2d(in_channels, 3, 1, style_dim, demodulate=False)
        self.clamp = _clamp(clamp)

    def forward(self, x, w, skip=None):
        out = self.clamp(self.conv(x, w) + self.bias)  # clamped before the skip is added, as StyleGAN2-ADA does
        return out + self.upsample(skip) if skip is not None else out


# --- generator ----------------------------------------------------------------------------------


class Generator(nn.Module):
    """StyleGAN2 generator: `mapping` z → w, `synthesis` ws → image in [-1, 1]."""

    def __init__(self, config: StyleGAN2Config):
        super().__init__()
        self.config = config
        c, dim, blur, clamp = config.channels, config.style_dim, config.blur_kernel, config.conv_clamp
        # A conditional generator embeds its class (StyleGAN2-ADA: a linear layer to w's width), normalises z and the
        # embedding apart and maps them side by side.
        widths = [config.z_size + (dim if config.c_dim else 0)] + [dim] * config.n_mlp
        if config.c_dim:
            self.embed = EqualLinear(config.c_dim, dim)
            # The class walked when none is given: every page and step asks for images without one.
            self.register_buffer("default_c", F.one_hot(torch.tensor(0), config.c_dim).float())
        self.style = nn.Sequential(
            PixelNorm(), *[EqualLinear(a, b, lr_mul=config.lr_mlp, activation=True) for a, b in itertools.pairwise(widths)]
        )
        self.input = ConstantInput(c[4])
        self.conv1 = StyledConv(c[4], c[4], 3, dim, blur_kernel=blur, clamp=clamp)
        self.to_rgb1 = ToRGB(c[4], dim, upsample=False, clamp=clamp)
        self.convs, self.to_rgbs = nn.ModuleList(), nn.ModuleList()
        self.noises = nn.Module()
        self.noises.register_buffer("noise_0", torch.randn(1, 1, 4, 4))
        for k, res in enumerate(_resolutions(config.size)[1:]):
            self.convs.append(StyledConv(c[res // 2], c[res], 3, dim, upsample=True, blur_kernel=blur, clamp=clamp))
            self.convs.append(StyledConv(c[res], c[res], 3, dim, blur_kernel=blur, clamp=clamp))
            self.to_rgbs.append(ToRGB(c[res], dim, clamp=clamp))
            for j in (1, 2):
                self.noises.register_buffer(f"noise_{2 * k + j}", torch.randn(1, 1, res, res))
        self.register_buffer("w_avg", torch.zeros(dim))

    @property
    def num_ws(self) -> int:
        return self.config.num_ws

    @property
    def style_dim(self) -> int:
        return self.config.style_dim

    @property
    def num_noises(self) -> int:
        return len(self.convs) + 1

    def stored_noise(self) -> list[torch.Tensor]:
        return [getattr(self.noises, f"noise_{i}") for i in range(self.num_noises)]

    @property
    def z_dim(self) -> int:
        return self.config.z_size

    def mapping(self, z: torch.Tensor, truncation_psi: float = 1.0, c: torch.Tensor | None = None) -> torch.Tensor:
        """z (B, z_dim) → w (B, style_dim), optionally truncated towards `w_avg`; a conditional generator maps class
        vectors `c` (B, c_dim) beside z, `default_c` where none is given."""
        _check_shape(z, (None, self.z_dim), "z")
        if not self.config.c_dim:
            w = self.style(z)
        else:
            c = self.default_c.expand(len(z), -1) if c is None else c
            _check_shape(c, (len(z), self.config.c_dim), "c")
            x = torch.cat([self.style[0](z), self.style[0](self.embed(c))], dim=1)
            w = self.style[1:](x)
        return truncate(w, self.w_avg, truncation_psi)

    def synthesis(self, ws: torch.Tensor, noise_mode: str = "const", noise: list[torch.Tensor] | None = None) -> torch.Tensor:
        """ws (B, num_ws, style_dim) → images (B, 3, size, size) in about [-1, 1].

        noise_mode: "const" uses the stored noise maps, "random" draws new ones, "none" uses
        none; an explicit `noise` list (one map per layer, (1 or B, 1, r, r)) overrides it.
        """
        _check_shape(ws, (None, self.num_ws, self.style_dim), "ws")
        if noise is not None:
            self._check_noise(noise, ws.shape[0])
        noise = noise if noise is not None else self._noise(noise_mode)
        out = self.conv1(self.input(ws.shape[0]), ws[:, 0], noise=noise[0])
        skip = self.to_rgb1(out, ws[:, 1])
        i = 1
        for conv_up, conv, rgb, n1, n2 in zip(
            self.convs[::2], self.convs[1::2], self.to_rgbs, noise[1::2], noise[2::2], strict=True
        ):
            out = conv_up(out, ws[:, i], noise=n1)
            out = conv(out, ws[:, i + 1], noise=n2)
            skip = rgb(out, ws[:, i + 2], skip)
            i += 2
        return skip

    def _check_noise(self, noise: list[torch.Tensor], batch: int) -> None:
        """One map per layer, each at its layer's resolution: a short or long list would shift every map."""
        sides = [n.shape[-1] for n in self.stored_noise()]
        if len(noise) != len(sides):
            raise ValueError(
                f"noise must hold {len(sides)} maps, one per layer of this {self.config.size}-px generator; got {len(noise)}"
            )
        for i, (n, side) in enumerate(zip(noise, sides, strict=True)):
            if n.ndim != 4 or n.shape[0] not in (1, batch) or n.shape[1:] != (1, side, side):
                raise ValueError(f"noise map {i} must have shape (1 or {batch}, 1, {side}, {side}), got {tuple(n.shape)}")

    def _noise(self, mode: str) -> list[torch.Tensor | None]:
        if mode == "const":
            return self.stored_noise()
        if mode == "random":
            return [None] * self.num_noises
        if mode == "none":
            return [torch.zeros_like(n) for n in self.stored_noise()]
        raise ConfigError(f"noise_mode must be 'const', 'random' or 'none', got {mode!r}")

    def forward(self, z: torch.Tensor, truncation_psi: float = 1.0, noise_mode: str = "const") -> torch.Tensor:
        """z (B, style_dim) → images (B, 3, size, size)."""
        return self.synthesis(broadcast(self.mapping(z, truncation_psi), self.num_ws), noise_mode=noise_mode)


def broadcast(w: torch.Tensor, num_ws: int) -> torch.Tensor:
    """w (B, style_dim) → ws (B, num_ws, style_dim), the same w at every layer."""
    return w[:, None, :].expand(-1, num_ws, -1)


def sample_z(generator: Generator, n: int, seed: int | None = None) -> torch.Tensor:
    """n input codes z (n, z_dim) ~ N(0, I) on the generator's device; a seed makes them reproducible
    (the same seed always gives the same codes, whatever else drew random numbers before)."""
    rng = torch.Generator().manual_seed(int(seed)) if seed is not None else None
    return torch.randn(n, generator.z_dim, generator=rng).to(generator.w_avg.device)


@torch.no_grad()
def sample_w(
    generator: Generator, n: int, seed: int | None = None, *, truncation_psi: float = 1.0, batch: int = 2500
) -> torch.Tensor:
    """n samples w (n, style_dim) of the generator's W: mapped `sample_z` codes, mapped in batches."""
    z = sample_z(generator, n, seed)
    return torch.cat([generator.mapping(chunk, truncation_psi) for chunk in z.split(batch)])


def sample_ws(generator: Generator, n: int, seed: int | None = None, *, truncation_psi: float = 1.0) -> torch.Tensor:
    """n samples ws (n, num_ws, style_dim): `sample_w` broadcast to every layer (a fresh tensor, safe to edit)."""
    return broadcast(sample_w(generator, n, seed, truncation_psi=truncation_psi), generator.num_ws).clone()


def truncate(w: torch.Tensor, w_avg: torch.Tensor, psi: float) -> torch.Tensor:
    """Move w towards `w_avg`: psi = 1 leaves it, psi = 0 gives the average."""
    return w if psi == 1 else w_avg + psi * (w - w_avg)


def _check_shape(x: torch.Tensor, shape: tuple, name: str) -> None:
    if x.ndim != len(shape) or any(s is not None and s != d for s, d in zip(shape, x.shape, strict=True)):
        expected = "(" + ", ".join("B" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"{name} must have shape {expected}, got {tuple(x.shape)}")


# --- discriminator ------------------------------------------------------------------------------


class ConvLayer(nn.Sequential):
    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        downsample=False,
        blur_kernel=(1, 3, 3, 1),
        bias=True,
        activate=True,
        clamp=None,
    ):
        layers = []
        if downsample:
            p = (len(blur_kernel) - 2) + (kernel_size - 1)
            layers.append(Blur(blur_kernel, pad=((p + 1) // 2, p // 2)))
            stride, padding = 2, 0
        else:
            stride, padding = 1, kernel_size // 2
        layers.append(
            EqualConv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=bias and not activate)
        )
        if activate:
            layers.append(FusedLeakyReLU(out_channels))
        if clamp is not None:
            layers.append(Clamp(clamp))  # last: the layers before keep their state-dict names
        super().__init__(*layers)


class ResBlock(nn.Module):
    def __init__(self, in_channels, out_channels, blur_kernel=(1, 3, 3, 1), clamp=None):
        super().__init__()
        self.conv1 = ConvLayer(in_channels, in_channels, 3, clamp=clamp)
        self.conv2 = ConvLayer(in_channels, out_channels, 3, downsample=True, blur_kernel=blur_kernel, clamp=clamp)
        self.skip = ConvLayer(
            in_channels, out_channels, 1, downsample=True, activate=False, bias=False, blur_kernel=blur_kernel, clamp=clamp
        )

    def forward(self, x):
        return (self.conv2(self.conv1(x)) + self.skip(x)) / math.sqrt(2)


class Discriminator(nn.Module):
    """Residual StyleGAN2 discriminator with a minibatch standard-deviation layer.

    A conditional one (StyleGAN2-ADA's, `c_dim` > 0) maps its class vector c through a mapping network
    (embedding, normalisation, `mapping_layers` fully connected layers) to `cmap_dim` values, and scores
    the projection of its last features onto them; without c it judges `default_c`, the class the
    generator draws.
    """

    def __init__(
        self,
        config: StyleGAN2Config,
        stddev_group: int = 4,
        *,
        c_dim: int = 0,
        cmap_dim: int | None = None,
        mapping_layers: int = 8,
        mapping_lr: float = 0.01,
    ):
        super().__init__()
        self.config = config
        c, blur, clamp = config.channels, config.blur_kernel, config.conv_clamp
        resolutions = _resolutions(config.size)[::-1]
        # StyleGAN2-ADA clamps a residual block's halves at ±clamp·√½ after scaling each by √½: the same as clamping
        # each at ±clamp before the block divides their sum by √2.
        blocks = [ConvLayer(3, c[config.size], 1, clamp=clamp)]
        blocks += [ResBlock(c[res], c[res // 2], blur, clamp=clamp) for res in resolutions[:-1]]
        self.convs = nn.Sequential(*blocks)
        self.stddev_group, self.stddev_feat = stddev_group, 1
        self.final_conv = ConvLayer(c[4] + 1, c[4], 3, clamp=clamp)
        self.c_dim, self.cmap_dim = c_dim, (cmap_dim or c[4]) if c_dim else 0
        self.mapping_layers, self.mapping_lr = mapping_layers, mapping_lr
        if c_dim:
            self.embed = EqualLinear(c_dim, self.cmap_dim)
            widths = [self.cmap_dim] * (mapping_layers + 1)
            self.mapping = nn.Sequential(
                PixelNorm(), *[EqualLinear(a, b, lr_mul=mapping_lr, activation=True) for a, b in itertools.pairwise(widths)]
            )
            self.register_buffer("default_c", F.one_hot(torch.tensor(0), c_dim).float())
        self.final_linear = nn.Sequential(
            EqualLinear(c[4] * 4 * 4, c[4], activation=True), EqualLinear(c[4], self.cmap_dim if c_dim else 1)
        )

    def conditioning(self) -> dict:
        """The constructor's conditioning arguments (empty for an unconditional D), for saving beside the weights."""
        if not self.c_dim:
            return {}
        return {
            "c_dim": self.c_dim,
            "cmap_dim": self.cmap_dim,
            "mapping_layers": self.mapping_layers,
            "mapping_lr": self.mapping_lr,
        }

    def forward(self, images: torch.Tensor, c: torch.Tensor | None = None, *, stddev_group: int | None = None) -> torch.Tensor:
        """images (B, 3, size, size) [and, for a conditional D, class vectors c (B, c_dim)] → logits (B, 1).

        `stddev_group`: the minibatch-stddev group for this call (default: D's own); 1 scores every image alone.
        """
        out = minibatch_stddev(self.convs(images), stddev_group or self.stddev_group, self.stddev_feat)
        out = self.final_linear(self.final_conv(out).flatten(1))
        if not self.c_dim:
            return out
        c = self.default_c.expand(len(images), -1) if c is None else c
        _check_shape(c, (len(images), self.c_dim), "c")
        cmap = self.mapping(self.embed(c))
        return (out * cmap).sum(1, keepdim=True) / math.sqrt(self.cmap_dim)


@torch.no_grad()
def realism(discriminator: Discriminator, images: torch.Tensor, batch: int = 64) -> np.ndarray:
    """D's logit (n,) of each image (n, 3, size, size) in [-1, 1], scored alone (a minibatch-stddev group of one), so that
    an image's score does not depend on the images it was batched with: higher is more like what D learnt is real."""
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be (n, 3, size, size), got shape {tuple(images.shape)}")
    scores = [discriminator(images[i : i + batch].float(), stddev_group=1)[:, 0] for i in range(0, len(images), batch)]
    return torch.cat(scores).numpy().astype(np.float64) if scores else np.zeros(0)


@torch.no_grad()
def realism_of_latents(generator: Generator, discriminator: Discriminator, ws: np.ndarray, chunk: int = 256) -> np.ndarray:
    """`realism` (n,) of the images of latents ws (n, num_ws, D) or w (n, D), rendered with the generator's fixed noise a
    chunk at a time (a few thousand 256-px images do not fit in memory at once)."""
    ws = torch.from_numpy(np.asarray(ws, np.float32))
    if ws.ndim == 2 or ws.shape[1] == 1:  # one w for every layer
        ws = broadcast(ws.reshape(len(ws), -1), generator.num_ws)
    scores = [realism(discriminator, generator.synthesis(ws[i : i + chunk])) for i in range(0, len(ws), chunk)]
    return np.concatenate(scores) if scores else np.zeros(0)


def minibatch_stddev(x: torch.Tensor, group_size: int, num_features: int = 1) -> torch.Tensor:
    """Append the standard deviation across groups of samples as extra feature maps."""
    batch, channels, height, width = x.shape
    group = min(group_size, batch)
    while batch % group:  # the largest group size that divides the batch
        group -= 1
    y = x.view(group, -1, num_features, channels // num_features, height, width)
    y = torch.sqrt(y.var(0, unbiased=False) + 1e-8).mean([2, 3, 4], keepdim=True).squeeze(2)
    y = y.repeat(group, 1, height, width)
    return torch.cat([x, y], dim=1)


# --- checkpoints --------------------------------------------------------------------------------


class CheckpointError(ThisIneqError, ValueError):
    """A file that is not a generator checkpoint this code can load safely."""


def safe_load(path: str | os.PathLike) -> dict:
    """torch.load with weights_only=True: tensors and plain containers, never arbitrary code."""
    with open(path, "rb") as handle:
        magic = handle.read(2)
    if magic not in (b"PK", b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05"):  # a zip archive, or a legacy pickle
        raise CheckpointError(f"{path} is not a PyTorch checkpoint (it starts with {magic!r})")
    try:
        # rosinality's training checkpoints keep their command line as an argparse.Namespace: plain attributes, safe
        # to rebuild, and the one thing beyond weights_only's defaults that they need.
        with torch.serialization.safe_globals([argparse.Namespace]):
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as error:  # unpickling refusals, truncated zips, random bytes
        raise CheckpointError(f"{path} is not a safe PyTorch checkpoint: {_load_failure(error)}") from None
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path} holds a {type(obj).__name__}, not a checkpoint dictionary")
    return obj


def _load_failure(error: Exception) -> str:
    """torch.load's refusal in a few words (its own message suggests turning safety off)."""
    message = str(error)
    if "Weights only load failed" in message:
        return (
            "it holds Python objects besides tensors and plain containers, which are refused because loading them could run code"
        )
    if "zip" in message.lower() or "PytorchStreamReader" in message or isinstance(error, (EOFError, RuntimeError)):
        return "not a PyTorch file, or a truncated one"
    return message.splitlines()[0][:200] if message else type(error).__name__


def config_from_rosinality(state: dict[str, torch.Tensor]) -> StyleGAN2Config:
    """Infer size, style dimension, mapping depth and every channel width from a state dict."""
    try:
        style_dim = state["style.1.weight"].shape[1]
        n_mlp = sum(1 for k in state if k.startswith("style.") and k.endswith(".weight"))
        channels = {4: state["input.input"].shape[1]}
        n_up = sum(1 for k in state if k.startswith("to_rgbs.") and k.endswith(".conv.weight"))
        for k in range(n_up):
            channels[2 ** (k + 3)] = state[f"convs.{2 * k}.conv.weight"].shape[1]
        blur = state.get("convs.0.conv.blur.kernel")
    except KeyError as error:
        raise CheckpointError(f"not a StyleGAN2 generator state dict in the rosinality layout: no {error}") from None
    config = StyleGAN2Config(size=2 ** (n_up + 2), style_dim=style_dim, n_mlp=n_mlp, channels=channels)
    if blur is not None and blur.shape != (4, 4):
        raise CheckpointError(f"blur kernel of shape {tuple(blur.shape)} is not supported (expected 4×4)")
    return config


def generator_from_state(state: dict[str, torch.Tensor], config: StyleGAN2Config, w_avg: torch.Tensor | None = None) -> Generator:
    """A Generator holding `state` (rosinality names); `w_avg` fills the truncation centre."""
    generator = Generator(config)
    state = dict(state)
    if "w_avg" not in state:
        state["w_avg"] = w_avg if w_avg is not None else torch.zeros(config.style_dim)
    load_weights(generator, state)
    return generator.eval()


def load_weights(module: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """`module.load_state_dict(state)`, where weights that do not fit (missing, extra, other shapes) are a CheckpointError."""
    try:
        missing, unexpected = module.load_state_dict(state, strict=False)
    except RuntimeError as error:  # a tensor of another shape; the first line only names the module
        lines = str(error).splitlines()
        detail = lines[1].strip() if len(lines) > 1 else lines[0]
        raise CheckpointError(f"the weights do not fit the {type(module).__name__}: {detail}") from None
    if missing or unexpected:
        raise CheckpointError(
            f"the weights do not fit the {type(module).__name__}: missing {missing[:5]}, unexpected {unexpected[:5]}"
        )


def load_rosinality(path: str | os.PathLike) -> Generator:
    """Load a rosinality/e4e/ReStyle checkpoint `{"g_ema": state_dict, "latent_avg": …}`."""
    return rosinality_generator(safe_load(path), path)


def rosinality_generator(checkpoint: dict, path: str | os.PathLike) -> Generator:
    """The generator of a rosinality-format checkpoint already loaded (by `safe_load`) from `path`."""
    if "g_ema" not in checkpoint:
        raise CheckpointError(
            f"{path} has no 'g_ema' entry (keys: {sorted(checkpoint)[:8]}); is it a rosinality-format checkpoint?"
        )
    state = checkpoint["g_ema"]
    config = config_from_rosinality(state)
    w_avg = checkpoint.get("latent_avg")
    if w_avg is not None:
        w_avg = w_avg.reshape(-1, config.style_dim)[0]  # some checkpoints store it per layer
    return generator_from_state(state, config, w_avg)


def float16(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A state dict's floating-point tensors in float16 (half the bytes; `load_state_dict` casts them back)."""
    return {k: v.half() if v.is_floating_point() else v for k, v in state.items()}


def save_generator(generator: Generator, path: str | os.PathLike, *, half: bool = False, extra: dict | None = None) -> None:
    """The project's own format: state dict plus plain config, atomically written."""
    from thisineq.io import atomic_path

    state = float16(generator.state_dict()) if half else generator.state_dict()
    with atomic_path(path) as tmp:
        torch.save({"format": "thisineq-stylegan2", "config": generator.config.to_dict(), "g_ema": state, **(extra or {})}, tmp)


def load_generator(path: str | os.PathLike) -> Generator:
    """Load a generator saved by `save_generator` or a rosinality checkpoint, safely, in eval mode."""
    checkpoint = safe_load(path)
    if checkpoint.get("format") != "thisineq-stylegan2":
        return load_rosinality(path)
    try:
        config = StyleGAN2Config.from_dict(checkpoint["config"])
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: bad generator config: {error}") from None
    state = {k: v.float() for k, v in checkpoint["g_ema"].items()}
    return generator_from_state(state, config)
