"""Provenance inside exported PNGs: written, read back, printed by the CLI, refused in plain words, and reopened by the
Generator page as the very same image."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from thisineq.cli import main
from thisineq.provenance import ProvenanceError, describe, png_bytes, read_provenance, record, sidecar_bytes

ROOT = Path(__file__).resolve().parents[1]


def _record(**view) -> dict:
    return record(
        image="generated image",
        artifact_set="demo",
        files={"generator": "ab" * 32},
        view={"seed": 7, "psi": 0.7, "income": 2.5, **view},
        band="unusual",
        synthetic=True,
    )


def test_a_png_carries_its_record_and_its_pixels_unchanged(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    made = _record()
    data = png_bytes(pixels, made)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(data))), pixels)
    assert read_provenance(data) == made
    (tmp_path / "edit.png").write_bytes(data)
    (tmp_path / "edit.json").write_bytes(sidecar_bytes(made))
    assert read_provenance(tmp_path / "edit.png") == read_provenance(tmp_path / "edit.json") == made
    words = describe(made)
    assert "synthetic data" in words and "seed=7" in words and "unusual" in words and "generator: sha256 abab" in words


def test_the_provenance_command_prints_the_record_and_names_what_is_wrong(tmp_path, capsys):
    (tmp_path / "edit.png").write_bytes(png_bytes(np.zeros((8, 8, 3), np.uint8), _record()))
    assert main(["provenance", str(tmp_path / "edit.png")]) == 0
    assert "view: seed=7, psi=0.7, income=2.5" in capsys.readouterr().out
    assert main(["provenance", str(tmp_path / "edit.png"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["view"]["seed"] == 7
    Image.new("RGB", (8, 8)).save(tmp_path / "plain.png")
    Image.new("RGB", (8, 8)).save(tmp_path / "photo.jpg")
    (tmp_path / "other.json").write_text('{"format": "something-else", "view": {}}', encoding="utf-8")
    (tmp_path / "junk.png").write_bytes(b"\x89PNG not really")
    for name, message in (
        ("plain.png", "carries no thisineq provenance"),
        ("photo.jpg", "is a JPEG image, not a PNG"),
        ("other.json", "not a thisineq provenance record"),
        ("junk.png", "neither a PNG nor a provenance JSON file"),
        ("missing.png", "does not exist"),
    ):
        assert main(["provenance", str(tmp_path / name)]) == 2, name
        assert message in capsys.readouterr().err, name


def test_a_record_must_hold_a_view():
    with pytest.raises(ProvenanceError, match="no view"):
        read_provenance(b'{"format": "thisineq-provenance"}')


def test_the_generator_page_reopens_an_exported_image_exactly():
    from streamlit.testing.v1 import AppTest

    shown = AppTest.from_file(str(ROOT / "app_pages/generator.py"), default_timeout=120)
    for key, value in {"seed": "11", "psi": "0.65", "income": "2.5", "health": "-1"}.items():
        shown.query_params[key] = value
    shown.run()
    assert not shown.exception
    original, edited = image_urls(shown)
    view = {k: (v[0] if isinstance(v, list) else v) for k, v in shown.query_params.items()}
    exported = png_bytes(np.zeros((8, 8, 3), np.uint8), _record() | {"view": view})
    fresh = AppTest.from_file(str(ROOT / "app_pages/generator.py"), default_timeout=120).run()
    assert image_urls(fresh)[1] != edited  # another view to begin with
    fresh.file_uploader(key="generator_provenance").set_value(("thisineq-edit.png", exported, "image/png")).run()
    assert not fresh.exception
    assert image_urls(fresh) == [original, edited]
    assert fresh.number_input(key="generator_seed").value == 11 and fresh.slider(key="generator_slider_health").value == -1
    fresh.file_uploader(key="generator_provenance").set_value(("plain.png", png_bytes_plain(), "image/png")).run()
    assert not fresh.exception and any("plain.png carries no thisineq provenance" in e.value for e in fresh.error)


def image_urls(at) -> list[str]:
    return [element.proto.imgs[0].url for element in at.get("image")]


def png_bytes_plain() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_publication_figures_come_as_vector_pdf_and_svg_and_a_300_dpi_png_carrying_their_provenance():
    from thisineq import provenance
    from thisineq.latent.figures import publication_bytes, walk_matrix_figure

    tiles = np.random.default_rng(1).integers(0, 256, (2, 3, 16, 16, 3), dtype=np.uint8)
    figure = walk_matrix_figure(tiles, ["income", "health"], [-3.0, 0.0, 3.0], "walks", "synthetic city: no real place")
    described = provenance.sidecar_bytes(_record()).decode("utf-8")
    pdf, svg, png = (publication_bytes(figure, fmt, described) for fmt in ("pdf", "svg", "png"))
    assert pdf.startswith(b"%PDF") and b"/Subject" in pdf
    text = svg.decode("utf-8")
    assert "<svg" in text and "thisineq-provenance" in text and "synthetic city: no real place" in text and "+3.0σ" in text
    picture = Image.open(io.BytesIO(png))
    assert round(picture.info["dpi"][0]) == 300 and picture.width > 1000
    assert read_provenance(provenance.png_bytes(picture, _record()))["view"]["seed"] == 7
    with pytest.raises(ValueError, match="one of pdf, svg, png"):
        publication_bytes(figure, "jpg")
