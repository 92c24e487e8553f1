"""MSE, PSNR and SSIM agree with their definitions on known cases."""

import math

import torch

from thisineq.metrics.image import mse, psnr, ssim


def test_known_values():
    a = torch.zeros(2, 3, 16, 16)
    b = a + 0.2  # 0.1 on the [0, 1] scale
    assert torch.allclose(mse(a, b), torch.full((2,), 0.01))
    assert torch.allclose(psnr(a, b), torch.full((2,), 20.0))
    assert math.isinf(psnr(a, a)[0].item())


def test_ssim_is_one_for_identical_and_falls_with_noise():
    torch.manual_seed(0)
    x = torch.rand(3, 3, 32, 32) * 2 - 1
    assert torch.allclose(ssim(x, x), torch.ones(3), atol=1e-5)
    noisy = [ssim(x, (x + s * torch.randn_like(x)).clamp(-1, 1)).mean().item() for s in (0.05, 0.2, 0.5)]
    assert noisy == sorted(noisy, reverse=True) and noisy[0] > 0.99 and noisy[-1] < 0.8
    assert ssim(x, -x).mean().item() < -0.5  # inverted contrast: structure anti-correlated
