"""A projected discriminator (Sauer et al. 2021, "Projected GANs Converge Faster"), in plain PyTorch.

The discriminator does not learn its features: a frozen ImageNet EfficientNet-Lite0 turns every
image into four feature maps (strides 4, 8, 16 and 32), fixed random 1×1 convolutions mix each
map's channels (cross-channel mixing, CCM), and a fixed random top-down pathway mixes the scales
(cross-scale mixing, CSM: each coarser map, upsampled, is added to the next finer one). Only small
convolutional heads, one per scale, are trained; each ends in a map of patch logits. Mixing with
random, untrained weights spreads the pretrained features' information over all channels so that no
head can ignore the features that are hard to match — the paper's argument for why the projection
makes training converge faster — while keeping the network too weak to overfit a small dataset.

The paper pairs it with the hinge loss, differentiable augmentation of everything D sees and no
gradient penalty; `thisineq.training.gan` does the same when `discriminator="projected"`.

`PixelAndProjectedDiscriminator` keeps StyleGAN2's raw-pixel D beside a projected one (after
Kumari et al. 2022, "Ensembling Off-the-shelf Models for GAN Training"): the pixel D sees what
the frozen features are blind to — pixel values beyond the image range, colour casts, the
high-frequency patterns that fool an ImageNet network — while the projected heads bring the
pretrained features' sense of objects from the first step.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from thisineq.config import option
from thisineq.errors import ConfigError
from thisineq.models.backbones import imagenet_normalise, load_efficientnet_lite0
from thisineq.models.stylegan2 import Discriminator, StyleGAN2Config

# EfficientNet-Lite0's blocks whose outputs are tapped: strides 4, 8, 16 and 32 (24, 40, 112, 320 channels).
FEATURE_BLOCKS = (2, 4, 10, 15)
FEATURE_CHANNELS = (24, 40, 112, 320)


@dataclass(frozen=True)
class ProjectedConfig:
    """Shape of a projected discriminator; every field changes its outputs."""

    input_size: int = option(128, "side the images are resized to before the feature network (a multiple of 32)")
    mix_channels: tuple[int, int, int, int] = option((64, 128, 256, 512), "channels after cross-channel mixing, fine to coarse")
    head_min_size: int = option(8, "each head halves its map down to this side (or less) before its patch logits")
    head_max_channels: int = option(256, "widest layer of a head (each halving doubles the width up to this)")
    projection_seed: int = option(0, "seed of the fixed random projections")
    head_norm: str = option(
        "batch", "normalisation in the heads' down blocks: batch norm as the paper, or none", choices=("batch", "none")
    )

    def __post_init__(self):
        if self.input_size < 32 or self.input_size % 32:
            raise ConfigError(f"projected input_size must be a multiple of 32 of at least 32, got {self.input_size}")
        if len(self.mix_channels) != 4 or min(self.mix_channels) < 1:
            raise ConfigError(f"mix_channels needs four positive widths, got {self.mix_channels}")
        if self.head_min_size < 1 or self.head_max_channels < 1:
            raise ConfigError(
                f"head_min_size and head_max_channels must be at least 1, got {self.head_min_size}, {self.head_max_channels}"
            )

    def to_dict(self) -> dict:
        return {**asdict(self), "mix_channels": list(self.mix_channels)}

    @classmethod
    def from_dict(cls, d: dict) -> ProjectedConfig:
        return cls(**{**d, "mix_channels": tuple(d["mix_channels"])})


class FeatureNetwork(nn.Module):
    """Frozen EfficientNet-Lite0: images in [-1, 1] (B, 3, H, W) → four feature maps, fine to coarse.

    Always in eval mode (its batch-norm statistics stay ImageNet's) and without gradients for its
    weights; gradients still flow through it to the images, which is how G learns.
    """

    def __init__(self, input_size: int):
        super().__init__()
        net = load_efficientnet_lite0()
        self.stem = nn.Sequential(net._conv_stem, net._bn0, net._swish)
        self.blocks = net._blocks[: FEATURE_BLOCKS[-1] + 1]
        self.input_size = input_size
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> FeatureNetwork:
        return super().train(False)  # frozen: never leaves eval mode, whatever its parent does

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        x = F.interpolate(images, size=self.input_size, mode="bilinear", align_corners=False)
        x = self.stem(imagenet_normalise(x))
        features = []
        for index, block in enumerate(self.blocks):
            x = block(x)  # eval mode: the blocks' drop-connect is off
            if index in FEATURE_BLOCKS:
                features.append(x)
        return features


class RandomProjection(nn.Module):
    """Fixed random cross-channel (1×1) and cross-scale (top-down) mixing of the four feature maps.

    Output k has `mix_channels[k]` channels at twice the side of feature map k (the top-down pathway
    upsamples as it mixes): at input 128, sides 64, 32, 16 and 8.
    """

    def __init__(self, mix_channels: tuple[int, ...], seed: int):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.ccm = nn.ModuleList(
            _random_conv(c_in, c_out, 1, generator) for c_in, c_out in zip(FEATURE_CHANNELS, mix_channels, strict=True)
        )
        # csm[k] maps the mixed map k (plus the upsampled coarser one) to map k's output width.
        self.csm = nn.ModuleList(_random_conv(c, c, 1, generator) for c in mix_channels)
        self.lateral = nn.ModuleList(_random_conv(mix_channels[k + 1], mix_channels[k], 1, generator) for k in range(3))
        self.requires_grad_(False)

    def forward(self, features: list[torch.Tensor]) -> list[torch.Tensor]:
        mixed = [conv(f) for conv, f in zip(self.ccm, features, strict=True)]
        coarse_to_fine, coarser = [], None
        for k in reversed(range(4)):
            x = mixed[k] if coarser is None else mixed[k] + self.lateral[k](coarser)
            coarser = self.csm[k](F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False))
            coarse_to_fine.append(coarser)
        return coarse_to_fine[::-1]


def _random_conv(c_in: int, c_out: int, kernel: int, generator: torch.Generator) -> nn.Conv2d:
    """A convolution with Kaiming-uniform weights from `generator`, so the same seed gives the same projection."""
    conv = nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2)
    bound = (6 / (c_in * kernel * kernel)) ** 0.5
    with torch.no_grad():
        conv.weight.copy_(torch.rand(conv.weight.shape, generator=generator) * 2 * bound - bound)
        conv.bias.zero_()
    return conv


def _down_block(c_in: int, c_out: int, norm: str) -> nn.Sequential:
    """Halve the side: a spectrally normalised 4×4 stride-2 convolution, batch norm (or none), leaky ReLU."""
    conv = nn.utils.parametrizations.spectral_norm(nn.Conv2d(c_in, c_out, 4, 2, 1, bias=norm != "batch"))
    return nn.Sequential(conv, nn.BatchNorm2d(c_out) if norm == "batch" else nn.Identity(), nn.LeakyReLU(0.2))


class PatchHead(nn.Module):
    """One scale's trainable discriminator: down blocks to `min_size` or less, then a 3×3 convolution to one logit per patch."""

    def __init__(self, channels: int, side: int, min_size: int, max_channels: int, norm: str = "batch"):
        super().__init__()
        blocks, width = [], channels
        while side > min_size:
            blocks.append(_down_block(width, min(2 * width, max_channels), norm))
            width, side = min(2 * width, max_channels), side // 2
        self.blocks = nn.Sequential(*blocks)
        self.logits = nn.utils.parametrizations.spectral_norm(nn.Conv2d(width, 1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits(self.blocks(x)).flatten(1)  # (B, patches)


class ProjectedDiscriminator(nn.Module):
    """Images in [-1, 1] (B, 3, H, W) → patch logits of all four scales, (B, P)."""

    def __init__(self, config: ProjectedConfig | None = None):
        super().__init__()
        self.config = config = config or ProjectedConfig()
        self.features = FeatureNetwork(config.input_size)
        self.projection = RandomProjection(config.mix_channels, config.projection_seed)
        sides = [2 * config.input_size // stride for stride in (4, 8, 16, 32)]
        self.heads = nn.ModuleList(
            PatchHead(c, side, config.head_min_size, config.head_max_channels, config.head_norm)
            for c, side in zip(config.mix_channels, sides, strict=True)
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        projected = self.projection(self.features(images))
        return torch.cat([head(x) for head, x in zip(self.heads, projected, strict=True)], dim=1)

    def requires_grad_(self, requires_grad: bool = True) -> ProjectedDiscriminator:
        """Switch the heads' gradients; the feature network and the projections stay frozen."""
        self.heads.requires_grad_(requires_grad)
        return self

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        """The heads' weights only: the feature network comes with the package, the projection from its seed."""
        return {k: v for k, v in self.state_dict().items() if not is_frozen_weight(k)}


class PixelAndProjectedDiscriminator(nn.Module):
    """StyleGAN2's D and a projected D side by side: images in [-1, 1] → (pixel logits (B, 1), patch logits (B, P))."""

    def __init__(self, model: StyleGAN2Config, config: ProjectedConfig | None = None):
        super().__init__()
        self.pixel = Discriminator(model)
        self.projected = ProjectedDiscriminator(config)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.pixel(images), self.projected(images)

    def requires_grad_(self, requires_grad: bool = True) -> PixelAndProjectedDiscriminator:
        """Switch the pixel D's and the projected heads' gradients; the projected D's features stay frozen."""
        self.pixel.requires_grad_(requires_grad)
        self.projected.requires_grad_(requires_grad)
        return self

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        """The pixel D's and the projected heads' weights (see `ProjectedDiscriminator.trainable_state_dict`)."""
        return {k: v for k, v in self.state_dict().items() if not is_frozen_weight(k)}


def is_frozen_weight(key: str) -> bool:
    """Whether a discriminator's state-dict entry is a projected D's frozen part (feature network or fixed projection).

    Frozen entries need not be stored: the feature network ships with the package and the projection
    comes from its seed.
    """
    return key.removeprefix("projected.").startswith(("features.", "projection."))


# --- losses ---------------------------------------------------------------------------------------


def d_hinge_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """D's hinge loss over every patch logit: real pushed above +1, fake below −1."""
    return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()


def g_hinge_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """G's loss under the hinge discriminator: raise the fakes' logits."""
    return -fake_logits.mean()
