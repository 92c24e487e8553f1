"""The inversion entry point: every method runs, unavailable ones and bad photos are named."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from thisineq.errors import ConfigError
from thisineq.images import to_tensor, to_uint8
from thisineq.invert.api import InversionModels, invert, invert_image


def test_every_method_gives_latents_and_reconstructions(tiny_models):
    photos = torch.rand(2, 3, 16, 16) * 2 - 1
    assert tiny_models.available() == ("e4e", "restyle", "projector", "hybrid")
    for method in tiny_models.available():
        result = invert(photos, method, tiny_models, projector_steps=20, hybrid_steps=10, restyle_iterations=2)
        assert result.ws.shape == (2, tiny_models.generator.num_ws, 16), method
        assert result.reconstruction.shape == (2, 3, 16, 16) and result.seconds > 0
    assert invert(photos, "projector", tiny_models, projector_steps=7).steps == 7


def test_projector_progress_can_stop(tiny_models):
    photo = np.zeros((16, 16, 3), np.uint8)
    result = invert_image(photo, "projector", tiny_models, progress=lambda step, total, loss: step < 3, projector_steps=50)
    assert result.steps == 3


def test_a_method_is_available_when_its_encoder_and_distance_are_loaded(tiny_models):
    generator, encoders, distance = tiny_models.generator, tiny_models.encoders, tiny_models.perceptual
    assert InversionModels(generator).available() == ()
    assert InversionModels(generator, perceptual=distance).available() == ("projector",)
    assert InversionModels(generator, {"restyle": encoders["restyle"]}, distance).available() == ("restyle", "projector")
    assert InversionModels(generator, {"e4e": encoders["e4e"]}).available() == ("e4e",)  # the hybrid also optimises


def test_unavailable_methods_and_bad_photos_are_named(tiny_models):
    bare = InversionModels(tiny_models.generator)
    with pytest.raises(ConfigError, match="e4e is not available: these models offer nothing"):
        invert(torch.zeros(1, 3, 16, 16), "e4e", bare)
    with pytest.raises(ConfigError, match="no inversion method 'magic'"):
        invert(torch.zeros(1, 3, 16, 16), "magic", tiny_models)
    with pytest.raises(ConfigError, match=r"must be 16×16"):
        invert_image(np.zeros((32, 32, 3), np.uint8), "e4e", tiny_models)
    with pytest.raises(ValueError, match="uint8"):
        to_tensor(np.zeros((16, 16, 3), np.float32))


def test_uint8_round_trip():
    photos = np.random.default_rng(0).integers(0, 256, (2, 8, 8, 3), dtype=np.uint8)
    assert np.array_equal(to_uint8(to_tensor(photos)), photos)
