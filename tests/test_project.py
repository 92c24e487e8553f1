"""The projector: its loss falls, it recovers a GAN sample, it can start from a guess and be stopped, its prior holds w in W."""

from __future__ import annotations

import pytest
import torch

from thisineq.invert.project import learning_rate, noise_regularisation, project, w_atypicality, w_whitening
from thisineq.models.stylegan2 import Generator, StyleGAN2Config, sample_w

TINY = StyleGAN2Config(size=16, style_dim=16, n_mlp=2, channels={4: 32, 8: 16, 16: 16})


def mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a - b).square().mean(dim=(1, 2, 3))


@pytest.fixture(scope="module")
def generator():
    torch.manual_seed(1)
    g = Generator(TINY).eval()
    g.w_avg.copy_(sample_w(g, 2000).mean(0))
    return g


def test_loss_falls_and_a_sample_is_recovered(generator):
    torch.manual_seed(0)
    with torch.no_grad():
        w_true = generator.mapping(torch.randn(3, 16))
        target = generator.synthesis(w_true[:, None].expand(-1, generator.num_ws, -1))
    result = project(generator, target, perceptual=mse, num_steps=150, initial_learning_rate=0.05, w_avg_samples=2000)
    assert result.loss.shape == (150, 3)
    assert (result.loss[-10:].mean(0) < 0.3 * result.loss[:10].mean(0)).all()
    with torch.no_grad():
        error = mse(generator.synthesis(result.ws, noise=result.noise), target)
        start = mse(generator.synthesis(generator.w_avg.expand(3, generator.num_ws, -1)), target)
    assert (error < 0.2 * start).all()
    assert result.w.shape == (3, 16) and result.ws.shape == (3, generator.num_ws, 16)


def test_w_plus_start_and_early_stop(generator):
    target = torch.zeros(2, 3, 16, 16)
    seen = []
    result = project(
        generator,
        target,
        perceptual=mse,
        num_steps=50,
        space="w+",
        w_init=generator.w_avg.expand(2, -1),
        progress=lambda step, total, loss: seen.append(step) or step < 5,
        w_avg_samples=500,
    )
    assert result.steps == 5 and seen == [1, 2, 3, 4, 5] and result.w is None
    assert all(p.requires_grad for p in generator.parameters())  # the generator is left as it was


def test_schedule_and_regulariser():
    assert learning_rate(0.0, 0.1, 0.05, 0.25) == 0.0
    assert learning_rate(0.5, 0.1, 0.05, 0.25) == pytest.approx(0.1)
    assert learning_rate(0.99, 0.1, 0.05, 0.25) < 0.01
    white = [torch.randn(2, 1, 32, 32, generator=torch.Generator().manual_seed(0))]
    smooth = [torch.ones(2, 1, 32, 32)]
    assert (noise_regularisation(white) < 0.01).all() and (noise_regularisation(smooth) > 1).all()


def test_bad_target_shape_is_named(generator):
    with pytest.raises(ValueError, match=r"target must be \(B, 3, 16, 16\)"):
        project(generator, torch.zeros(1, 3, 8, 8), perceptual=mse, num_steps=1)


def test_the_prior_holds_the_code_of_an_image_the_gan_cannot_draw_near_w(generator):
    mean, inverse_root = w_whitening(generator, 4000, seed=3)
    assert w_atypicality(sample_w(generator, 4000, seed=4), mean, inverse_root).mean() == pytest.approx(1.0, abs=0.1)
    target = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(5)) * 2 - 1  # noise: no w draws it
    kw = {"perceptual": mse, "num_steps": 150, "w_avg_samples": 2000}
    free, held = project(generator, target, **kw), project(generator, target, w_prior=0.05, **kw)
    free_atypicality, held_atypicality = (w_atypicality(r.w, mean, inverse_root) for r in (free, held))
    assert (held_atypicality < 0.5 * free_atypicality).all()
    assert held.loss[-1].mean() > free.loss[-1].mean()  # it pays for it in the loss: the prior is part of it
    with pytest.raises(ValueError, match="w_prior must be 0 or more"):
        project(generator, target, perceptual=mse, num_steps=1, w_prior=-1.0)
