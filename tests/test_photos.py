"""Tests for thisineq.data.photos (metadata, checks, decoding, cache, splits) on small real images made in tmp_path."""

from __future__ import annotations

import json
import os
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from thisineq.data.photos import (
    PhotoCollectionError,
    PhotoReadError,
    build_image_cache,
    cache,
    cache_fingerprint,
    check_files,
    decode,
    load_photo,
    read_metadata,
    split_by_group,
)

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 200, 0), (0, 0, 255), (255, 255, 255)


def _rgb(width: int, height: int, colour: tuple[int, int, int]) -> np.ndarray:
    """A solid (height, width, 3) uint8 array."""
    out = np.zeros((height, width, 3), dtype=np.uint8)
    out[:] = colour
    return out


def _close(pixel: np.ndarray, colour: tuple[int, ...], tol: int = 40) -> bool:
    return bool(np.all(np.abs(pixel.astype(int) - np.asarray(colour)) <= tol))


def _noise_jpeg(path: Path, side: int = 256, seed: int = 0) -> Path:
    """A JPEG of random pixels: big enough that half of it cuts into the scan data."""
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(path, "JPEG", quality=90)
    return path


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _bomb_png(path: Path, side: int = 30000) -> Path:
    """A tiny PNG whose header claims side x side pixels."""
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    body = _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + _png_chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)
    return path


def _write_csv(path: Path, rows: list[dict], encoding: str = "utf-8") -> Path:
    pd.DataFrame(rows).to_csv(path, index=False, encoding=encoding)
    return path


# --------------------------------------------------------------------------- load_photo


def test_exif_orientation_is_honoured(tmp_path):
    stored = _rgb(64, 64, BLUE)
    stored[:32, :32] = RED  # red top-left as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # display = stored rotated 90 degrees clockwise
    path = tmp_path / "rotated.jpg"
    Image.fromarray(stored).save(path, "JPEG", exif=exif, quality=95)

    out = load_photo(path, 32)

    assert out.shape == (32, 32, 3) and out.dtype == np.uint8
    assert _close(out[4, 27], RED)  # top-right once rotated
    assert _close(out[4, 4], BLUE)
    assert _close(out[27, 27], BLUE)


def test_rgba_transparency_goes_white(tmp_path):
    rgba = np.zeros((32, 32, 4), dtype=np.uint8)  # transparent black on the left
    rgba[:, 16:] = (*BLUE, 255)
    path = tmp_path / "alpha.png"
    Image.fromarray(rgba, "RGBA").save(path)

    out = load_photo(path, 32)

    assert _close(out[16, 3], WHITE, tol=2)
    assert _close(out[16, 28], BLUE, tol=2)


def test_sixteen_bit_grey_is_scaled_not_clipped(tmp_path):
    gradient = np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (64, 1))
    path = tmp_path / "grey16.png"
    Image.fromarray(gradient).save(path)
    assert Image.open(path).mode.startswith("I")

    out = load_photo(path, 64)

    assert out[..., 0].min() <= 5 and out[..., 0].max() >= 250
    assert 100 <= out[32, 32, 0] <= 155
    assert np.all(np.diff(out[32, :, 0].astype(int)) >= -2)  # still a rising ramp
    assert np.array_equal(out[..., 0], out[..., 1])


def test_cmyk_jpeg(tmp_path):
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (32, 32), (0, 255, 255, 0)).save(path, "JPEG", quality=95)
    assert _close(load_photo(path, 16)[8, 8], RED)


def test_palette_png_with_and_without_transparency(tmp_path):
    pixels = _rgb(32, 32, RED)
    pixels[:, 16:] = BLUE
    plain = Image.fromarray(pixels).convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    plain.save(tmp_path / "p.png")
    transparent = plain.copy()
    transparent.info["transparency"] = plain.getpixel((0, 0))  # the red entry
    transparent.save(tmp_path / "pt.png", transparency=plain.getpixel((0, 0)))

    out = load_photo(tmp_path / "p.png", 32)
    assert _close(out[16, 3], RED, 2) and _close(out[16, 28], BLUE, 2)
    out = load_photo(tmp_path / "pt.png", 32)
    assert _close(out[16, 3], WHITE, 2) and _close(out[16, 28], BLUE, 2)


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_animation_uses_first_frame(tmp_path, fmt):
    frames = [Image.fromarray(_rgb(32, 32, c)) for c in (RED, GREEN, BLUE)]
    path = tmp_path / f"anim.{fmt.lower()}"
    extra = {"lossless": True} if fmt == "WEBP" else {}
    frames[0].save(path, fmt, save_all=True, append_images=frames[1:], duration=100, loop=0, **extra)
    assert getattr(Image.open(path), "n_frames", 1) == 3

    assert _close(load_photo(path, 16)[8, 8], RED, 10)


def test_non_square_is_centre_cropped(tmp_path):
    landscape = _rgb(96, 64, GREEN)
    landscape[:, :16] = RED
    landscape[:, 80:] = RED
    path = tmp_path / "wide.png"
    Image.fromarray(landscape).save(path)

    out = load_photo(path, 32)

    assert np.all(out[..., 0] <= 2)  # no red left anywhere, edges included
    assert _close(out[16, 16], GREEN, 2)


def test_large_jpeg_is_downscaled_correctly(tmp_path):
    big = _rgb(1600, 1200, GREEN)
    big[:600, 200:800] = RED  # top-left quarter of the centre square
    path = tmp_path / "big.jpg"
    Image.fromarray(big).save(path, "JPEG", quality=90)

    out = load_photo(path, 32)

    assert _close(out[4, 4], RED) and _close(out[28, 28], GREEN)


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda p: p.write_bytes(b""), "empty file"),
        (lambda p: p.write_text("hello, I am not a photo"), "not an image"),
        (lambda p: p.write_bytes(_noise_jpeg(p).read_bytes()[: p.stat().st_size // 2]), "truncated"),
        (lambda p: _bomb_png(p), "decompression bomb"),
    ],
    ids=["empty", "text", "truncated", "bomb"],
)
def test_load_photo_bad_inputs_raise_clear_errors(tmp_path, make, reason):
    path = tmp_path / "bad.jpg"
    make(path)
    with pytest.raises(PhotoReadError, match=reason) as info:
        load_photo(path, 16)
    assert info.value.path == str(path)
    with pytest.raises(PhotoReadError, match="file not found"):
        load_photo(tmp_path / "nowhere.jpg", 16)


def test_pixel_limit_is_enforced(tmp_path, monkeypatch):
    path = tmp_path / "ok.png"
    Image.fromarray(_rgb(64, 64, RED)).save(path)
    monkeypatch.setattr(decode, "MAX_PIXELS", 1000)
    with pytest.raises(PhotoReadError, match="decompression bomb: 64x64"):
        load_photo(path, 16)


# --------------------------------------------------------------------------- metadata


def test_read_metadata_normalises_and_keeps_everything(tmp_path):
    path = tmp_path / "meta.csv"
    path.write_text(
        " Image ,LAT,Lon,Heading,captured,notes\n"
        "a.jpg,51.5,-0.1,90,2020-01-01,x\n"
        "b.jpg,not a number,-0.2,,2020-01-02,\n"
        "c.jpg,51.6,,abc,,y\n",
        encoding="utf-8",
    )
    meta = read_metadata(path)

    assert list(meta.columns) == ["photo_id", "image", "lat", "lon", "heading", "captured", "notes"]
    assert meta["photo_id"].tolist() == ["000001", "000002", "000003"]
    assert meta["image"].tolist() == ["a.jpg", "b.jpg", "c.jpg"]
    assert meta["lat"].iloc[0] == 51.5 and np.isnan(meta["lat"].iloc[1])
    assert np.isnan(meta["lon"].iloc[2]) and np.isnan(meta["heading"].iloc[2])
    assert meta["captured"].iloc[0] == "2020-01-01"


def test_read_metadata_bom_and_lsoa_only(tmp_path):
    path = _write_csv(tmp_path / "m.csv", [{"image": "a.jpg", "LSOA_code": " E01000001 "}], encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    meta = read_metadata(path)
    assert list(meta.columns) == ["photo_id", "image", "lsoa_code"]
    assert meta["lsoa_code"].iloc[0] == "E01000001"


def test_missing_image_column_names_it_and_the_file(tmp_path):
    path = _write_csv(tmp_path / "m.csv", [{"filename": "a.jpg", "lat": 1, "lon": 2}])
    with pytest.raises(PhotoCollectionError) as info:
        read_metadata(path)
    message = str(info.value)
    assert "'image'" in message and str(path) in message and "filename" in message
    assert "perhaps rename 'filename' -> 'image'" in message


def test_no_coordinates_nor_lsoa(tmp_path):
    path = _write_csv(tmp_path / "m.csv", [{"image": "a.jpg", "lat": 1}])
    with pytest.raises(PhotoCollectionError, match="not both 'lat' and 'lon', and no 'lsoa_code'"):
        read_metadata(path)
    path = _write_csv(tmp_path / "m.csv", [{"image": "a.jpg", "town": "x"}])
    with pytest.raises(PhotoCollectionError, match="neither coordinates"):
        read_metadata(path)


@pytest.mark.parametrize(
    "content, match",
    [
        (None, "not found"),
        (b"", "empty"),
        (b"image,lat,lon\n", "no photo rows"),
        (b"image,lat,lon\ncaf\xe9.jpg,1,2\n", "not UTF-8"),
        (b"image,Image,lsoa_code\na,b,c\n", "more than once"),
    ],
    ids=["missing", "empty", "header-only", "latin-1", "repeated-column"],
)
def test_unusable_metadata_files(tmp_path, content, match):
    path = tmp_path / "m.csv"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(PhotoCollectionError, match=match):
        read_metadata(path)


# --------------------------------------------------------------------------- check_files


def test_check_files_reports_every_problem_and_drops_nothing(tmp_path):
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    good = _noise_jpeg(folder / "good.jpg", 64, seed=1)
    Image.fromarray(_rgb(40, 30, BLUE)).save(folder / "sub" / "blue.png")
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "text.jpg").write_text("not a jpeg")
    whole = _noise_jpeg(tmp_path / "whole.jpg", 256, seed=2).read_bytes()
    (folder / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    (folder / "trailer.jpg").write_bytes(_noise_jpeg(tmp_path / "t.jpg", 64, seed=3).read_bytes() + b"SEFT" * 50)
    _bomb_png(folder / "bomb.png")
    shutil.copy(good, folder / "copy.jpg")
    _noise_jpeg(tmp_path / "outside.jpg", 32)  # exists, but outside the folder
    rows = [
        ("good.jpg", None),
        ("sub/blue.png", None),
        ("empty.jpg", "unreadable"),
        ("text.jpg", "unreadable"),
        ("truncated.jpg", "unreadable"),
        ("trailer.jpg", None),
        ("bomb.png", "unreadable"),
        ("copy.jpg", "duplicate content"),
        ("./good.jpg", "duplicate row"),
        ("missing.jpg", "missing file"),
        ("../outside.jpg", "path outside folder"),
        ("/etc/passwd", "path outside folder"),
        ("sub\\blue.png", "duplicate row"),
        ("", "missing file"),
    ]
    csv = _write_csv(tmp_path / "meta.csv", [{"image": image, "lat": 51.5, "lon": -0.1} for image, _ in rows])
    meta = read_metadata(csv)

    ok, problems = check_files(meta, folder)

    assert list(problems.columns) == ["photo_id", "image", "problem", "detail"]
    assert sorted(ok["photo_id"].tolist() + problems["photo_id"].tolist()) == meta["photo_id"].tolist()
    expected = {f"{i + 1:06d}": kind for i, (_, kind) in enumerate(rows) if kind}
    assert dict(zip(problems["photo_id"], problems["problem"], strict=True)) == expected
    assert ok["image"].tolist() == ["good.jpg", "sub/blue.png", "trailer.jpg"]
    assert ok.loc[ok["image"] == "sub/blue.png", ["width", "height", "format"]].iloc[0].tolist() == [40, 30, "PNG"]
    assert Path(ok["path"].iloc[0]) == folder / "good.jpg"
    detail = dict(zip(problems["image"], problems["detail"], strict=True))
    assert "0 bytes" in detail["empty.jpg"]
    assert "not an image" in detail["text.jpg"]
    assert "truncated" in detail["truncated.jpg"]
    assert "decompression bomb" in detail["bomb.png"]
    assert "000001" in detail["copy.jpg"] and "good.jpg" in detail["copy.jpg"]
    assert "000001" in detail["./good.jpg"]


def test_check_files_needs_the_folder(tmp_path):
    meta = pd.DataFrame({"photo_id": ["000001"], "image": ["a.jpg"]})
    with pytest.raises(PhotoCollectionError, match="photos folder not found"):
        check_files(meta, tmp_path / "nope")


# --------------------------------------------------------------------------- cache


@pytest.fixture
def photo_paths(tmp_path) -> list[Path]:
    """Nine varied photos and one broken file (index 4)."""
    folder = tmp_path / "cache_photos"
    folder.mkdir()
    paths = []
    for i in range(10):
        path = folder / f"p{i}.jpg"
        if i == 4:
            path.write_text("broken")
        else:
            _noise_jpeg(path, 48 + 8 * i, seed=i)
        paths.append(path)
    return paths


def _spy(monkeypatch, fail_at: int | None = None) -> list[str]:
    """Count load_photo calls (workers=1 runs in-process); optionally die on call `fail_at`."""
    calls: list[str] = []
    real = cache.load_photo

    def spy(path, size):
        calls.append(str(path))
        if fail_at is not None and len(calls) == fail_at:
            raise RuntimeError("simulated interruption")
        return real(path, size)

    monkeypatch.setattr(cache, "load_photo", spy)
    return calls


def test_cache_builds_and_reports_failures(tmp_path, photo_paths):
    out = tmp_path / "cache.npy"
    failures = build_image_cache(photo_paths, 16, out, workers=1, chunk=4, progress=False)

    array = np.load(out)
    assert array.shape == (10, 16, 16, 3) and array.dtype == np.uint8
    for i, path in enumerate(photo_paths):
        if i != 4:
            assert np.array_equal(array[i], load_photo(path, 16))
    assert not array[4].any()
    assert list(failures.columns) == ["index", "path", "problem", "detail"]
    assert failures["index"].tolist() == [4] and failures["problem"].tolist() == ["unreadable"]
    assert "not an image" in failures["detail"].iloc[0]
    assert not Path(f"{out}.partial").exists() and not Path(f"{out}.partial.json").exists()


def test_cache_resumes_after_interruption(tmp_path, photo_paths, monkeypatch):
    reference = tmp_path / "reference.npy"
    build_image_cache(photo_paths, 16, reference, workers=1, chunk=3, progress=False)
    out = tmp_path / "cache.npy"

    _spy(monkeypatch, fail_at=7)  # chunks 0 and 1 (6 photos) finish, chunk 2 dies
    with pytest.raises(RuntimeError, match="simulated"):
        build_image_cache(photo_paths, 16, out, workers=1, chunk=3, progress=False)
    assert not out.exists() and Path(f"{out}.partial").exists()
    assert json.loads(Path(f"{out}.partial.json").read_text())["done"] == [True, True, False, False]

    calls = _spy(monkeypatch)
    failures = build_image_cache(photo_paths, 16, out, workers=1, chunk=3, progress=False)

    assert calls == [str(p) for p in photo_paths[6:]]
    assert np.array_equal(np.load(out), np.load(reference))
    assert failures["index"].tolist() == [4]  # failure from a chunk done before the interruption


def test_cache_starts_over_when_partial_does_not_match(tmp_path, photo_paths, monkeypatch):
    out = tmp_path / "cache.npy"
    _spy(monkeypatch, fail_at=5)
    with pytest.raises(RuntimeError):
        build_image_cache(photo_paths, 16, out, workers=1, chunk=2, progress=False)

    calls = _spy(monkeypatch)
    build_image_cache(photo_paths, 8, out, workers=1, chunk=2, progress=False)  # different size
    assert len(calls) == 10 and np.load(out).shape == (10, 8, 8, 3)

    _spy(monkeypatch, fail_at=5)
    with pytest.raises(RuntimeError):
        build_image_cache(photo_paths, 8, out, workers=1, chunk=2, progress=False)
    Path(f"{out}.partial").write_bytes(b"garbage")  # damaged partial
    calls = _spy(monkeypatch)
    build_image_cache(photo_paths, 8, out, workers=1, chunk=2, progress=False)
    assert len(calls) == 10


@pytest.mark.slow
def test_cache_with_worker_pool_matches_in_process(tmp_path, photo_paths):
    one = tmp_path / "one.npy"
    two = tmp_path / "two.npy"
    build_image_cache(photo_paths, 16, one, workers=1, chunk=4, progress=False)
    failures = build_image_cache(photo_paths, 16, two, workers=2, chunk=4, progress=False)
    assert np.array_equal(np.load(one), np.load(two))
    assert failures["index"].tolist() == [4]


def test_cache_fingerprint_tracks_files_and_size(tmp_path, photo_paths):
    base = cache_fingerprint(photo_paths, 16)
    assert base == cache_fingerprint([str(p) for p in photo_paths], 16)
    assert base != cache_fingerprint(photo_paths, 32)
    assert base != cache_fingerprint(photo_paths[::-1], 16)
    stat = photo_paths[0].stat()
    os.utime(photo_paths[0], ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert base != cache_fingerprint(photo_paths, 16)


# --------------------------------------------------------------------------- split


def _groups(n_groups: int = 500, seed: int = 1) -> pd.Series:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 12, n_groups)
    return pd.Series(np.repeat([f"E01{i:06d}" for i in range(n_groups)], sizes), name="lsoa_code")


def test_split_is_grouped_deterministic_and_order_free():
    groups = _groups()
    split = split_by_group(groups, seed=3)

    assert split.index.equals(groups.index) and set(split) == {"train", "val", "test"}
    assert (split.groupby(groups).nunique() == 1).all()
    assert split.equals(split_by_group(groups, seed=3))
    shuffled = groups.sample(frac=1, random_state=7)
    assert split_by_group(shuffled, seed=3).sort_index().equals(split)
    assert not split.equals(split_by_group(groups, seed=4))
    shares = split.value_counts(normalize=True)
    assert abs(shares["train"] - 0.8) < 0.03 and abs(shares["val"] - 0.1) < 0.03 and abs(shares["test"] - 0.1) < 0.03


def test_split_edge_cases():
    one = pd.Series(["E01000001"] * 5, index=range(10, 15))
    assert split_by_group(one).tolist() == ["train"] * 5
    assert set(split_by_group(_groups(50), fractions=(0, 0, 1))) == {"test"}
    with pytest.raises(ValueError, match="2 of 4 photos have no group"):
        split_by_group(pd.Series(["a", None, np.nan, "b"]))
    for bad in [(0.5, 0.5), (0.8, 0.1, 0.2), (1.2, -0.1, -0.1), (float("nan"), 0.5, 0.5)]:
        with pytest.raises(ValueError, match="fractions must be three non-negative numbers"):
            split_by_group(one, fractions=bad)
