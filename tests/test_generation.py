"""The generator page's pure helpers: seeds, synthesis after moves, inline PNGs, crisp up-scaling, URL numbers."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
import torch
from PIL import Image

from thisineq.app import generation
from thisineq.latent.walk import Direction
from thisineq.models.stylegan2 import Generator, StyleGAN2Config

TINY = StyleGAN2Config(size=16, style_dim=8, n_mlp=2, channels={4: 8, 8: 8, 16: 8})


@pytest.fixture(scope="module")
def generator() -> Generator:
    torch.manual_seed(0)
    return Generator(TINY).eval().requires_grad_(False)


def test_a_seed_always_gives_the_same_latent(generator):
    assert torch.equal(generation.seed_ws(generator, 7, 0.8), generation.seed_ws(generator, 7, 0.8))
    assert not torch.equal(generation.seed_ws(generator, 7), generation.seed_ws(generator, 8))
    assert torch.allclose(generation.seed_ws(generator, 7, 0.0)[0, 0], generator.w_avg)


def test_synthesise_moves_the_image_along_a_direction(generator):
    ws = generation.seed_ws(generator, 1)
    still = generation.synthesise(generator, ws)
    assert still.shape == (16, 16, 3) and still.dtype == np.uint8
    direction = Direction("income", np.eye(8)[0], 2.0)
    assert np.array_equal(generation.synthesise(generator, ws, [(direction, 0.0)]), still)
    assert not np.array_equal(generation.synthesise(generator, ws, [(direction, 3.0)]), still)


def test_inline_png_holds_the_exact_pixels():
    pixels = np.random.default_rng(0).integers(0, 256, (16, 24, 3), dtype=np.uint8)
    url = generation.png_data_url(pixels)
    assert url.startswith("data:image/png;base64,")
    decoded = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))
    assert np.array_equal(decoded, pixels)
    assert 'img[src^="data:image/png"]' in generation.CRISP_CSS and "pixelated" in generation.CRISP_CSS


def test_upscale_repeats_whole_pixels():
    pixels = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    big = np.asarray(generation.upscale(pixels, 4))
    assert big.shape == (8, 12, 3) and np.array_equal(big, pixels.repeat(4, 0).repeat(4, 1))
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(generation.png_bytes(Image.fromarray(pixels))))), pixels)


@pytest.mark.parametrize(
    "text, expected",
    [("2.5", 2.5), ("9", 3.0), ("-1e9", -3.0), ("nan", 0.0), ("inf", 0.0), ("", 0.0), (None, 0.0), ("abc", 0.0), (["1"], 0.0)],
)
def test_url_numbers_are_clamped_or_defaulted(text, expected):
    assert generation.parse_number(text, 0.0, -3.0, 3.0) == expected


def test_whole_url_numbers():
    assert generation.parse_number("12.7", 0, 0, 100, whole=True) == 12 and isinstance(
        generation.parse_number("5", 0, 0, 9, whole=True), int
    )


def test_seeds_are_whole_numbers_and_anything_else_is_named():
    assert generation.parse_seeds("1, 2 7,,") == [1, 2, 7] and generation.parse_seeds("  ") == []
    for text, bad in [("3, x", "'x'"), ("-1", "'-1'"), ("2.5", "'2.5'")]:
        with pytest.raises(ValueError, match=bad):
            generation.parse_seeds(text)


def test_a_stored_latent_becomes_a_batch_of_one(generator):
    stored = np.zeros((generator.num_ws, 8), np.float64)
    ws = generation.ws_tensor(stored)
    assert ws.shape == (1, generator.num_ws, 8) and ws.dtype == torch.float32
    assert generation.synthesise(generator, ws).shape == (16, 16, 3)


def test_walk_params_name_each_domain():
    income, health = Direction("income", np.eye(8)[0], 1.0), Direction("health", np.eye(8)[1], 1.0)
    assert generation.walk_params([(income, 0.25), (health, -1.5)]) == {"income": 0.25, "health": -1.5}


def test_images_are_enlarged_for_display_by_what_their_size_needs():
    import numpy as np

    from thisineq.app.generation import upscale

    assert upscale(np.zeros((64, 64, 3), np.uint8)).size == (256, 256)
    assert upscale(np.zeros((512, 512, 3), np.uint8)).size == (512, 512)  # a big generator's image as it is
    assert upscale(np.zeros((32, 32, 3), np.uint8), scale=2).size == (64, 64)
