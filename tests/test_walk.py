"""Walks: edits move latents by α·σ along the normal, walk matrices are labelled grids, projections are 2-D."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from thisineq.images import image_grid
from thisineq.latent.normals import Direction
from thisineq.latent.walk import edit, image_change, projection_2d, step_labels, walk_grid, walk_matrix
from thisineq.models.stylegan2 import Generator, StyleGAN2Config, sample_w, sample_ws

TINY = StyleGAN2Config(size=16, style_dim=8, n_mlp=2, channels={4: 8, 8: 8, 16: 8})


def test_sigma_and_edit_distance():
    rng = np.random.default_rng(0)
    latents = rng.normal(size=(500, 8)) * np.array([3, 1, 1, 1, 1, 1, 1, 1])
    direction = Direction.from_latents("income", np.eye(8)[0] * 5, latents)
    assert np.isclose(np.linalg.norm(direction.normal), 1) and 2.7 < direction.sigma < 3.3
    ws = torch.zeros(2, 6, 8)
    moved = edit(ws, [(direction, 2.0)])
    assert torch.allclose(moved[..., 0], torch.full((2, 6), 2 * direction.sigma, dtype=torch.float32))
    partial = edit(ws, [(direction, 1.0)], layers=(0, 3))
    assert partial[:, 3:].abs().sum() == 0 and partial[:, :3, 0].min() > 0


def test_sample_w_is_the_generators_w_and_repeatable():
    generator = Generator(TINY).eval()
    w = sample_w(generator, 300, seed=3, batch=128)  # several batches
    assert w.shape == (300, 8) and torch.equal(w, sample_w(generator, 300, seed=3))
    with torch.no_grad():
        first = generator.mapping(torch.randn(300, 8, generator=torch.Generator().manual_seed(3))[:5])
    assert torch.allclose(w[:5], first, atol=1e-6)
    assert not torch.allclose(w, sample_w(generator, 300, seed=4))
    ws = sample_ws(generator, 4, seed=3)
    assert ws.shape == (4, generator.num_ws, 8) and torch.allclose(ws[:, -1], w[:4], atol=1e-6)
    ws[:, 0] += 1  # a fresh tensor: editing one layer leaves the others
    assert torch.allclose(ws[:, 1], w[:4], atol=1e-6)


def test_several_domains_add_up():
    a = Direction("a", np.eye(8)[0], 1.0)
    b = Direction("b", np.eye(8)[1], 2.0)
    moved = edit(torch.zeros(1, 4, 8), [(a, 1.0), (b, -1.0)])
    assert moved[0, 0, 0] == 1.0 and moved[0, 0, 1] == -2.0
    with pytest.raises(ValueError, match="dimensions"):
        edit(torch.zeros(1, 4, 6), [(a, 1.0)])


def test_walk_matrix_and_grid():
    torch.manual_seed(0)
    g = Generator(TINY).eval()
    directions = [Direction("income", np.eye(8)[0], 1.0), Direction("health", np.eye(8)[1], 1.0)]
    steps = [-2.0, 0.0, 2.0]
    images, latents = walk_matrix(g, torch.zeros(g.num_ws, 8), directions, steps)
    assert images.shape == (2, 3, 3, 16, 16) and latents.shape == (2, 3, g.num_ws, 8)
    assert torch.equal(images[0, 1], images[1, 1])  # step 0 is the source image in every row
    picture = image_grid(images, row_labels=["income", "health"], column_labels=step_labels(steps), scale=2)
    assert picture.size[0] > 3 * 32 and picture.size[1] > 2 * 32
    assert step_labels(steps) == ["-2.0σ", "0", "+2.0σ"]  # the sliders' unit

    from thisineq.images import label_font

    notdef = np.asarray(label_font().getmask("\uffff"))
    assert not np.array_equal(np.asarray(label_font().getmask("σ")), notdef)  # a font that has σ drew it


def test_a_source_walks_with_its_own_noise_at_every_step():
    torch.manual_seed(0)
    g = Generator(TINY).eval()
    for module in g.modules():  # a trained generator's noise matters; a fresh one's strengths start at 0
        if type(module).__name__ == "NoiseInjection":
            module.weight.data.fill_(1.0)
    ws = torch.zeros(g.num_ws, 8)
    own = [torch.randn(1, *n.shape[1:], generator=torch.Generator().manual_seed(1)) for n in g.stored_noise()]
    directions = [Direction("income", np.eye(8)[0], 1.0)]
    with_own, _ = walk_matrix(g, ws, directions, [0.0, 1.0], noise=own)
    stored, _ = walk_matrix(g, ws, directions, [0.0, 1.0])
    with torch.no_grad():
        assert torch.allclose(with_own[0, 0], g.synthesis(ws[None], noise=own)[0], atol=1e-6)  # the source as it was inverted
    assert not torch.allclose(with_own, stored)
    grid_own, _ = walk_grid(g, {"a": ws}, directions, [0.0, 1.0], noises={"a": own})
    grid_stored, _ = walk_grid(g, {"a": ws}, directions, [0.0, 1.0])
    assert grid_own.tobytes() != grid_stored.tobytes()


def test_walk_grid_stacks_sources_and_keeps_their_latents():
    torch.manual_seed(0)
    g = Generator(TINY).eval()
    directions = [Direction("income", np.eye(8)[0], 1.0), Direction("health", np.eye(8)[1], 0.5)]
    sources = {"seed 1": torch.zeros(g.num_ws, 8), "photo X01": torch.ones(g.num_ws, 8)}
    picture, latents = walk_grid(g, sources, directions, [-1.0, 0.0, 1.0])
    assert latents.shape == (2, 2, 3, g.num_ws, 8) and latents.dtype == np.float32
    assert np.allclose(latents[1, 1, 2] - latents[1, 1, 1], 0.5 * np.eye(8)[1])  # +1σ of health, σ = 0.5
    assert np.array_equal(latents[0, 0, 1], np.zeros((g.num_ws, 8)))  # the 0 column is the source itself
    single, _ = walk_grid(g, {"a": torch.zeros(g.num_ws, 8)}, directions, [0.0, 1.0])
    assert picture.size[1] > single.size[1] * 1.5  # four rows against two
    with pytest.raises(ValueError, match="at least one source"):
        walk_grid(g, {}, directions, [0.0])


def test_projection_2d():
    rng = np.random.default_rng(1)
    labels = np.array([0] * 20 + [1] * 20)
    latents = rng.normal(size=(40, 8)) + labels[:, None] * 4
    xy = projection_2d(latents, "pca")
    assert xy.shape == (40, 2)
    assert abs(xy[labels == 1, 0].mean() - xy[labels == 0, 0].mean()) > 5  # PC1 separates the classes
    assert projection_2d(latents, "tsne").shape == (40, 2)
    with pytest.raises(ValueError, match="'pca' or 'tsne'"):
        projection_2d(latents, "umap")


def test_image_change_measures_how_far_a_walk_moves_the_picture():
    torch.manual_seed(0)
    generator = Generator(TINY).eval()
    direction = Direction("income", np.eye(8)[0], 1.0)
    assert image_change(generator, direction, alpha=0.0) == 0.0
    small, large = image_change(generator, direction, alpha=0.5), image_change(generator, direction, alpha=4.0)
    assert 0 < small < large <= 1
    assert image_change(generator, direction, alpha=4.0) == large  # the same images each time
    assert image_change(generator, direction, alpha=4.0, layers=(0, 0)) == 0.0  # no layer edited
