"""The command line: clear one-line errors for bad input, and a working synth → dataset."""

from __future__ import annotations

import pandas as pd

from thisineq.cli import main
from thisineq.data.dataset import load_dataset


def test_synth_then_ingest_again_from_the_command_line(tmp_path, capsys):
    city = tmp_path / "city"
    assert main(["data", "synth", "--out", str(city), "--photos", "24", "--areas", "40", "--workers", "1"]) == 0
    assert load_dataset(city / "dataset").manifest["counts"]["photos_usable"] == 24
    code = main([
        "data", "ingest", "--photos", str(city), "--meta", str(city / "metadata.csv"), "--imd", str(city / "synthetic_deciles_file2.csv"),
        "--boundaries", str(city / "lsoa_boundaries.geojson"), "--out", str(tmp_path / "again"), "--workers", "1",
    ])  # fmt: skip
    assert code == 0
    again = load_dataset(tmp_path / "again").photos
    pd.testing.assert_frame_equal(again, load_dataset(city / "dataset").photos)


def test_bad_iod_file_is_one_clear_line(tmp_path, capsys):
    (tmp_path / "meta.csv").write_text("image,lat,lon\n")
    (tmp_path / "imd.csv").write_text("LSOA code (2011),something\nE01000001,3\n")
    code = main([
        "data", "ingest", "--photos", str(tmp_path), "--meta", str(tmp_path / "meta.csv"), "--imd", str(tmp_path / "imd.csv"),
        "--boundaries", str(tmp_path / "none.geojson"), "--out", str(tmp_path / "out"),
    ])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("thisineq: error:") and "imd.csv" in err
    assert "Traceback" not in err and not (tmp_path / "out").exists()


def test_missing_photo_folder(tmp_path, capsys):
    code = main(["data", "ingest", "--photos", str(tmp_path / "nope"), "--meta", "m.csv", "--imd", "i.csv",
                 "--boundaries", "b.shp", "--out", str(tmp_path / "out")])  # fmt: skip
    assert code == 2 and "photo folder not found" in capsys.readouterr().err
