"""Encoders into a StyleGAN2's latent space: e4e (one w plus per-layer offsets) and ReStyle (iterative).

Both take one of two backbones and pSp's "map to style" heads, which turn one level of the feature
pyramid into style vectors: coarse layers read the 4×4 features, middle layers 8×8, fine layers
16×16 (as in pSp/e4e, where layers 0–2, 3–6 and 7+ do).

- `backbone="residual"`: a small residual network trained from scratch, sized for 16–256 px photos;
- `backbone="efficientnet"`: the ImageNet EfficientNet-Lite0 shipped with the project (as ReStyle uses
  an ImageNet ResNet for non-face domains), fine-tuned: photos resized to `backbone_input`, its
  stride-8 and stride-16 blocks give the 16×16 and 8×8 levels, one trainable residual block the 4×4
  level. Its stride-32 blocks (2.26 of its 2.96 million block weights) are left out, which keeps the
  exported encoder small.

- `E4EEncoder` predicts w for layer 0 and an offset for every later layer. Offsets of layers that
  are not yet unlocked (`stage`) are zero, so training starts in W and grows into W+ slowly; an
  L2 penalty keeps offsets small. Codes near W stay editable.
- `ReStyleEncoder` reads the photo next to the current reconstruction and predicts a residual in
  W+; `restyle_invert` runs it N times from w_avg.

Checkpoints (`save_encoder`, `load_encoder`) are a state dict plus a plain config, loaded safely:
inference needs no training code.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from thisineq.errors import ConfigError
from thisineq.io import atomic_path
from thisineq.models.backbones import imagenet_normalise, load_efficientnet_lite0
from thisineq.models.stylegan2 import CheckpointError, Generator, broadcast, load_weights, safe_load

KINDS = ("e4e", "restyle")
BACKBONES = ("residual", "efficientnet")
EFFICIENTNET_LEVELS = {16: 4, 8: 10}  # pyramid level at backbone_input 128 → the last Lite0 block that feeds it
FORMAT = "thisineq-encoder"  # the `format` entry of an encoder checkpoint


@dataclass
class EncoderConfig:
    """Architecture of an encoder for a given generator."""

    size: int = 64  # input photo side (the generator's)
    num_ws: int = 10  # layers of W+ (the generator's)
    style_dim: int = 256
    widths: tuple[int, ...] = (32, 64, 128, 256)  # backbone widths, from full resolution down
    blocks_per_stage: int = 1
    head_width: int = 64  # channels of each layer's map-to-style convolutions (pSp uses style_dim: 10× the weights)
    backbone: str = "residual"  # "residual" (from scratch) or "efficientnet" (pretrained EfficientNet-Lite0)
    backbone_input: int = 128  # efficientnet: the side photos are resized to (strides 8 and 16 then give 16×16 and 8×8)

    def __post_init__(self):
        if self.backbone not in BACKBONES:
            raise ConfigError(f"encoder backbone must be one of {', '.join(BACKBONES)}, got {self.backbone!r}")
        if self.backbone == "efficientnet" and self.backbone_input != 128:
            raise ConfigError(f"the efficientnet backbone reads 128 px inputs (its 16/8/4 pyramid), got {self.backbone_input}")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["widths"] = list(self.widths)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> EncoderConfig:
        return cls(**{**d, "widths": tuple(d["widths"])})

    @classmethod
    def for_generator(cls, generator: Generator, **kw) -> EncoderConfig:
        return cls(size=generator.config.size, num_ws=generator.num_ws, style_dim=generator.style_dim, **kw)


class ResidualBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.norm1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.norm2 = nn.BatchNorm2d(out_channels)
        self.skip = (
            nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False), nn.BatchNorm2d(out_channels))
            if stride != 1 or in_channels != out_channels
            else nn.Identity()
        )

    def forward(self, x):
        out = F.leaky_relu(self.norm1(self.conv1(x)), 0.2)
        return F.leaky_relu(self.norm2(self.conv2(out)) + self.skip(x), 0.2)


class Backbone(nn.Module):
    """Photo (B, C, size, size) → features at 16×16, 8×8 and 4×4 (fine, medium, coarse)."""

    def __init__(self, in_channels: int, config: EncoderConfig):
        super().__init__()
        widths = config.widths
        if config.size < 16:
            raise ConfigError(f"encoders need photos of at least 16 px, got {config.size}")
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False), nn.BatchNorm2d(widths[0]), nn.LeakyReLU(0.2)
        )
        stages, channels, resolution = [], widths[0], config.size
        self.level_channels = {resolution: channels}
        while resolution > 4:
            out = widths[min(len(stages) + 1, len(widths) - 1)]
            blocks = [ResidualBlock(channels, out, 2)] + [ResidualBlock(out, out, 1) for _ in range(config.blocks_per_stage - 1)]
            stages.append(nn.Sequential(*blocks))
            channels, resolution = out, resolution // 2
            self.level_channels[resolution] = channels
        self.stages = nn.ModuleList(stages)

    def forward(self, x: torch.Tensor) -> dict[int, torch.Tensor]:
        x = self.stem(x)
        levels = {x.shape[-1]: x}
        for stage in self.stages:
            x = stage(x)
            levels[x.shape[-1]] = x
        return levels


class EfficientNetBackbone(nn.Module):
    """Photo (B, C, size, size) in [-1, 1] → features at 16×16, 8×8 and 4×4 from pretrained EfficientNet-Lite0.

    With C = 6 (ReStyle: photo and reconstruction), the stem's pretrained filters read the photo and
    start at zero for the reconstruction, so training begins from the ImageNet network's own view.
    """

    def __init__(self, in_channels: int, config: EncoderConfig):
        super().__init__()
        net = load_efficientnet_lite0()
        stem = net._conv_stem
        if in_channels != 3:
            if in_channels % 3:
                raise ConfigError(f"the efficientnet backbone reads RGB images stacked, got {in_channels} channels")
            weight = torch.zeros(stem.out_channels, in_channels, *stem.kernel_size)
            weight[:, :3] = stem.weight.detach()
            stem.weight, stem.in_channels = nn.Parameter(weight), in_channels  # keeps the stem's own "same" padding
        self.stem = nn.Sequential(stem, net._bn0, net._swish)
        self.blocks = net._blocks[: max(EFFICIENTNET_LEVELS.values()) + 1]
        fine, medium = (self.blocks[EFFICIENTNET_LEVELS[r]]._project_conv.out_channels for r in (16, 8))
        self.coarse = ResidualBlock(medium, config.widths[-1], 2)
        self.input_size = config.backbone_input
        self.level_channels = {16: fine, 8: medium, 4: config.widths[-1]}

    def forward(self, x: torch.Tensor) -> dict[int, torch.Tensor]:
        x = F.interpolate(x, size=self.input_size, mode="bilinear", align_corners=False)
        x = torch.cat([imagenet_normalise(rgb) for rgb in x.split(3, dim=1)], dim=1)
        x = self.stem(x)
        levels = {}
        for index, block in enumerate(self.blocks):
            x = block(x)
            if index in EFFICIENTNET_LEVELS.values():
                levels[x.shape[-1]] = x
        levels[4] = self.coarse(x)
        return levels


def make_backbone(in_channels: int, config: EncoderConfig) -> Backbone | EfficientNetBackbone:
    return EfficientNetBackbone(in_channels, config) if config.backbone == "efficientnet" else Backbone(in_channels, config)


class MapToStyle(nn.Module):
    """pSp's GradualStyleBlock: strided convolutions down to 1×1, then a linear layer → (B, style_dim).

    The convolutions are `width` channels wide (pSp: style_dim); narrower heads keep ten of them light.
    """

    def __init__(self, in_channels: int, style_dim: int, resolution: int, width: int | None = None):
        super().__init__()
        width = width or style_dim
        layers: list[nn.Module] = [nn.Conv2d(in_channels, width, 3, stride=2, padding=1), nn.LeakyReLU(0.2)]
        for _ in range(int(math.log2(resolution)) - 1):
            layers += [nn.Conv2d(width, width, 3, stride=2, padding=1), nn.LeakyReLU(0.2)]
        self.convs = nn.Sequential(*layers)
        self.linear = nn.Linear(width, style_dim)

    def forward(self, x):
        return self.linear(self.convs(x).flatten(1))


def pyramid_level(layer: int) -> int:
    """The feature resolution that feeds a W+ layer: layers 0–2 read 4×4, 3–6 read 8×8, the rest 16×16 (as pSp)."""
    return 4 if layer < 3 else 8 if layer < 7 else 16


class _PyramidHeads(nn.Module):
    """One MapToStyle head per W+ layer, each reading its pyramid level."""

    def __init__(self, backbone: Backbone, config: EncoderConfig):
        super().__init__()
        self.levels = [pyramid_level(i) for i in range(config.num_ws)]
        self.heads = nn.ModuleList(
            MapToStyle(backbone.level_channels[r], config.style_dim, r, config.head_width) for r in self.levels
        )

    def forward(self, features: dict[int, torch.Tensor]) -> torch.Tensor:
        return torch.stack([head(features[r]) for head, r in zip(self.heads, self.levels, strict=True)], dim=1)


class E4EEncoder(nn.Module):
    """Photo in [-1, 1] (B, 3, size, size) → ws (B, num_ws, style_dim) = w + unlocked offsets."""

    def __init__(self, config: EncoderConfig, w_avg: torch.Tensor | None = None):
        super().__init__()
        self.config = config
        self.backbone = make_backbone(3, config)
        self.heads = _PyramidHeads(self.backbone, config)
        self.register_buffer("w_avg", w_avg.clone() if w_avg is not None else torch.zeros(config.style_dim))
        self.register_buffer("stage", torch.tensor(config.num_ws))  # layers with offsets: 0 → W only

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_photo(x, self.config.size, 3)
        styles = self.heads(self.backbone(x))  # (B, num_ws, D)
        w = styles[:, 0] + self.w_avg
        offsets = styles[:, 1:] * self._offset_mask(x.device)
        return torch.cat([w[:, None], w[:, None] + offsets], dim=1)

    def _offset_mask(self, device) -> torch.Tensor:
        unlocked = torch.arange(1, self.config.num_ws, device=device) <= self.stage
        return unlocked[None, :, None].float()

    def set_stage(self, stage: int) -> None:
        """Allow offsets on layers 1…stage (0: every layer uses w)."""
        self.stage.fill_(max(0, min(stage, self.config.num_ws - 1)))


def offset_penalty(ws: torch.Tensor) -> torch.Tensor:
    """e4e's delta regulariser: Σ over layers of ‖ws_i − ws_0‖², averaged over the batch."""
    return (ws[:, 1:] - ws[:, :1]).square().sum(dim=2).sum(dim=1).mean()


class LatentDiscriminator(nn.Module):
    """e4e's optional critic on w: tells mapping-network outputs from encoder outputs."""

    def __init__(self, style_dim: int, hidden: int = 256, depth: int = 4):
        super().__init__()
        layers, width = [], style_dim
        for _ in range(depth - 1):
            layers += [nn.Linear(width, hidden), nn.LeakyReLU(0.2)]
            width = hidden
        self.net = nn.Sequential(*layers, nn.Linear(width, 1))

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return self.net(w)


class ReStyleEncoder(nn.Module):
    """(photo, current reconstruction) (B, 6, size, size) → residual Δws (B, num_ws, style_dim)."""

    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.config = config
        self.backbone = make_backbone(6, config)
        self.heads = _PyramidHeads(self.backbone, config)

    def forward(self, photo: torch.Tensor, reconstruction: torch.Tensor) -> torch.Tensor:
        _check_photo(photo, self.config.size, 3)
        return self.heads(self.backbone(torch.cat([photo, reconstruction], dim=1)))


def restyle_invert(
    encoder: ReStyleEncoder, generator: Generator, photo: torch.Tensor, iterations: int = 5, *, keep_graph: bool = False
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Run ReStyle from w_avg: ws_{t+1} = ws_t + E(photo, G(ws_t)). Returns [(ws_t, image_t)] for t = 1…N.

    With `keep_graph=False` each step's input is detached, as ReStyle trains.
    """
    batch = photo.shape[0]
    ws = broadcast(generator.w_avg[None].expand(batch, -1), generator.num_ws)
    image = generator.synthesis(ws).detach()
    steps = []
    for _ in range(iterations):
        ws = ws + encoder(photo, image)
        image = generator.synthesis(ws)
        steps.append((ws, image))
        if not keep_graph:
            ws, image = ws.detach(), image.detach()
    return steps


def _check_photo(x: torch.Tensor, size: int, channels: int) -> None:
    if x.ndim != 4 or x.shape[1:] != (channels, size, size):
        raise ValueError(f"photos must be (B, {channels}, {size}, {size}), got {tuple(x.shape)}")


# --- building, encoding and checkpoints -------------------------------------------------------------


def build_encoder(kind: str, config: EncoderConfig, w_avg: torch.Tensor | None = None) -> nn.Module:
    """A fresh encoder of `kind` ("e4e" or "restyle"); e4e's w starts at `w_avg` (the generator's average w)."""
    if kind not in KINDS:
        raise ConfigError(f"encoder kind must be one of {', '.join(KINDS)}, got {kind!r}")
    return E4EEncoder(config, w_avg=w_avg) if kind == "e4e" else ReStyleEncoder(config)


@torch.no_grad()
def encode_and_generate(
    encoder: nn.Module, kind: str, generator: Generator, photos: torch.Tensor, iterations: int = 5
) -> tuple[torch.Tensor, torch.Tensor]:
    """ws (B, num_ws, style_dim) and reconstructions (B, 3, size, size) of photos in [-1, 1] by a trained encoder.

    `iterations`: ReStyle's passes (e4e makes one).
    """
    if kind == "e4e":
        ws = encoder(photos)
        return ws, generator.synthesis(ws)
    return restyle_invert(encoder, generator, photos, iterations)[-1]


def save_encoder(encoder: nn.Module, kind: str, path: str | os.PathLike, *, generator_sha256: str, step: int) -> None:
    """State dict, plain config and the generator it belongs to; atomically written."""
    record = {
        "format": FORMAT,
        "kind": kind,
        "config": encoder.config.to_dict(),
        "state": encoder.state_dict(),
        "generator_sha256": generator_sha256,
        "step": step,
    }
    with atomic_path(path) as tmp:
        torch.save(record, tmp)


def load_encoder(path: str | os.PathLike) -> tuple[str, nn.Module, dict]:
    """(kind, encoder in eval mode, metadata) from a file written by `save_encoder`, loaded safely.

    Float16 weights (as exported) are cast back to float32.
    """
    record = safe_load(path)
    if record.get("format") != FORMAT or record.get("kind") not in KINDS:
        raise CheckpointError(f"{path} is not a thisineq encoder checkpoint")
    try:
        encoder = build_encoder(record["kind"], EncoderConfig.from_dict(record["config"]))
        load_weights(encoder, record["state"])
        metadata = {"generator_sha256": record["generator_sha256"], "step": record["step"]}
    except (KeyError, TypeError, ValueError) as error:  # ValueError: a ConfigError or a CheckpointError from load_weights
        raise CheckpointError(f"{path} is not a usable encoder checkpoint: {error}") from None
    return record["kind"], encoder.eval(), metadata
