"""Shared test fixtures (the official London files in ../shared, skipped where absent) and the markers that pick a quick loop."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
LONDON = SHARED / "data" / "london"


@dataclass(frozen=True)
class LondonFiles:
    file2_england: Path
    file2_london: Path
    file6_england: Path
    file6_london: Path
    boundaries_shp: Path
    boundaries_geojson: Path
    boroughs_geojson: Path


def _london_files() -> LondonFiles:
    iod, bnd = LONDON / "iod2019", LONDON / "boundaries"
    return LondonFiles(
        file2_england=iod / "File_2_-_IoD2019_Domains_of_Deprivation.csv",
        file2_london=iod / "File_2_-_IoD2019_Domains_of_Deprivation_London.csv",
        file6_england=iod / "File_6_-_IoD2019_Population_Denominators.csv",
        file6_london=iod / "File_6_-_IoD2019_Population_Denominators_London.csv",
        boundaries_shp=bnd / "london-2011-lsoa-gen20.shp",
        boundaries_geojson=bnd / "london_lsoa11_bgc20m_wgs84.geojson",
        boroughs_geojson=bnd / "london_boroughs_from_lsoa11_wgs84.geojson",
    )


@pytest.fixture(scope="session")
def london() -> LondonFiles:
    """The official IoD2019 and LSOA 2011 files for London, or a skip saying why not."""
    files = _london_files()
    missing = [str(p) for p in vars(files).values() if not p.exists()]
    if missing:
        pytest.skip(f"official London data not found beside the repo (../shared/data/london): missing {missing[0]}")
    return files


@pytest.fixture(scope="module")
def tiny_models():
    """An untrained 16-px generator with e4e and ReStyle encoders and an MSE 'perceptual' distance: every inversion method runs."""
    from thisineq.invert.api import InversionModels
    from thisineq.models.encoders import E4EEncoder, EncoderConfig, ReStyleEncoder
    from thisineq.models.stylegan2 import Generator, StyleGAN2Config

    torch.manual_seed(0)
    g = Generator(StyleGAN2Config(size=16, style_dim=16, n_mlp=2, channels={4: 16, 8: 16, 16: 8})).eval().requires_grad_(False)
    config = EncoderConfig.for_generator(g, widths=(8, 8, 16))
    mse = lambda a, b: (a - b).square().mean(dim=(1, 2, 3))  # noqa: E731
    return InversionModels(
        g, {"e4e": E4EEncoder(config, g.w_avg).eval(), "restyle": ReStyleEncoder(config).eval()}, perceptual=mse
    )


def pytest_collection_modifyitems(config, items):
    """`browser` and `london` follow from where a test runs and what it reads; `slow` is set by each test file."""
    for item in items:
        if item.path.name == "test_browser.py":
            item.add_marker(pytest.mark.browser)
        if "london" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.london)
