"""LPIPS: behaves as a perceptual distance, and its weights are converted without running code."""

from __future__ import annotations

import io
import pickle

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from thisineq.artifacts import demo_set
from thisineq.data.dataset import load_dataset
from thisineq.metrics import lpips


@pytest.fixture(scope="module", params=["alex", "vgg"])
def metric(request):
    if not lpips.weights_path(request.param).is_file():
        pytest.skip(f"LPIPS-{request.param} weights not converted yet: run `python -m thisineq.metrics.lpips` (make test does)")
    return lpips.LPIPS(request.param)


@pytest.fixture(scope="module")
def photos():
    data = load_dataset(demo_set().dataset)
    return torch.from_numpy(np.array(data.images()[:6])).permute(0, 3, 1, 2).float() / 127.5 - 1


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    radius = int(3 * sigma + 0.5)
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-(t**2) / (2 * sigma**2))
    k = (k / k.sum()).to(x)
    x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="reflect"), k.view(1, 1, 1, -1).expand(3, 1, 1, -1), groups=3)
    return F.conv2d(F.pad(x, (0, 0, radius, radius), mode="reflect"), k.view(1, 1, -1, 1).expand(3, 1, -1, 1), groups=3)


def test_identical_images_are_at_distance_zero(metric, photos):
    assert torch.allclose(metric(photos, photos), torch.zeros(len(photos)), atol=1e-6)


def test_distance_grows_with_noise_and_blur(metric, photos):
    generator = torch.Generator().manual_seed(0)
    noise = torch.randn(photos.shape, generator=generator)
    by_noise = [metric(photos, (photos + s * noise).clamp(-1, 1)).mean().item() for s in (0.02, 0.1, 0.3)]
    by_blur = [metric(photos, gaussian_blur(photos, s)).mean().item() for s in (0.5, 1.0, 2.0)]
    assert by_noise == sorted(by_noise) and by_noise[0] > 0
    assert by_blur == sorted(by_blur) and by_blur[0] > 0


def test_distance_is_symmetric_and_differentiable(metric, photos):
    a, b = photos[:3], photos[3:6]
    assert torch.allclose(metric(a, b), metric(b, a), atol=1e-5)
    x = a.clone().requires_grad_(True)
    metric(x, b).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_converter_refuses_code_in_pickles_and_altered_files():
    class Exploit:
        def __reduce__(self):
            return (print, ("ran code",))

    hostile = pickle.dumps({"AlexNet_0": Exploit()})
    with pytest.raises(lpips.LPIPSWeightsError, match="sha256"):
        lpips.convert(hostile, "alex")
    with pytest.raises(pickle.UnpicklingError, match="only numpy arrays"):
        lpips._NumpyOnlyUnpickler(io.BytesIO(hostile)).load()
    safe = pickle.dumps({"k": np.arange(3.0)})
    assert np.array_equal(lpips._NumpyOnlyUnpickler(io.BytesIO(safe)).load()["k"], np.arange(3.0))


def test_wrong_weights_file_is_named(tmp_path):
    torch.save({"something": torch.zeros(2)}, tmp_path / "w.pt")
    with pytest.raises(lpips.LPIPSWeightsError, match="does not hold LPIPS-alex weights"):
        lpips.LPIPS("alex", weights=tmp_path / "w.pt")
