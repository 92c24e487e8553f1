"""The command line: clear one-line errors for bad input, and a working synth → dataset."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from thisineq.cli import build_parser, channel_widths, main, named_command
from thisineq.config import from_options
from thisineq.data.dataset import load_dataset
from thisineq.errors import ConfigError
from thisineq.pipeline import PipelineConfig


def ingest_args(city, out, *flags) -> list[str]:
    """`thisineq data ingest` of a synthetic city's raw files into `out`."""
    raw = {"--photos": city, "--meta": city / "metadata.csv", "--imd": city / "synthetic_deciles_file2.csv"}
    raw |= {"--boundaries": city / "lsoa_boundaries.geojson", "--out": out}
    return ["data", "ingest", *[str(part) for pair in raw.items() for part in pair], *flags]


def test_synth_then_ingest_again_from_the_command_line(tmp_path, capsys):
    city = tmp_path / "city"
    assert main(["data", "synth", "--out", str(city), "--photos", "24", "--areas", "40", "--workers", "1"]) == 0
    assert load_dataset(city / "dataset").manifest["counts"]["photos_usable"] == 24
    code = main(ingest_args(city, tmp_path / "again", "--workers", "1"))
    assert code == 0
    again = load_dataset(tmp_path / "again").photos
    pd.testing.assert_frame_equal(again, load_dataset(city / "dataset").photos)


def test_bad_iod_file_is_one_clear_line(tmp_path, capsys):
    (tmp_path / "meta.csv").write_text("image,lat,lon\n")
    (tmp_path / "imd.csv").write_text("LSOA code (2011),something\nE01000001,3\n")
    code = main(
        [
            "data",
            "ingest",
            "--photos",
            str(tmp_path),
            "--meta",
            str(tmp_path / "meta.csv"),
            "--imd",
            str(tmp_path / "imd.csv"),
            "--boundaries",
            str(tmp_path / "none.geojson"),
            "--out",
            str(tmp_path / "out"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("thisineq: error:") and "imd.csv" in err
    assert "Traceback" not in err and not (tmp_path / "out").exists()


def test_missing_photo_folder(tmp_path, capsys):
    code = main(
        [
            "data",
            "ingest",
            "--photos",
            str(tmp_path / "nope"),
            "--meta",
            "m.csv",
            "--imd",
            "i.csv",
            "--boundaries",
            "b.shp",
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert code == 2 and "photo folder not found" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("{bad", "is not valid JSON"),
        ("[1, 2]", "must hold a JSON object"),
        ('{"nope": 1}', "unknown PipelineConfig fields ['nope']"),
        ('{"seed": "7"}', "seed must be int"),
        ('{"seed": null}', "seed cannot be null"),
        ('{"walk_steps": 3}', "walk_steps must be a list"),
        ('{"walk_steps": [1, "a"]}', "walk_steps[1] must be float"),
        ('{"domains": ["income", "welth"]}', "unknown IoD2019 domains ['welth']"),
        ('{"projector_steps": 0, "encoder_lr": -1}', "must be positive: encoder_lr=-1.0, projector_steps=0"),
        ('{"demo_photos": 500, "train_photos": 400}', "demo_photos (500) cannot exceed train_photos (400)"),
    ],
)
def test_bad_pipeline_config_is_one_clear_line_and_runs_nothing(tmp_path, capsys, text, named):
    config = tmp_path / "config.json"
    config.write_text(text)
    code = main(["pipeline", "--config", str(config), "--out", str(tmp_path / "set"), "--work", str(tmp_path / "work")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("thisineq: error:") and named in err, err
    assert "Traceback" not in err and not (tmp_path / "set").exists() and not (tmp_path / "work").exists()


def test_pipeline_config_reads_nulls_lists_and_whole_numbers_as_their_fields_types(tmp_path):
    config = tmp_path / "config.json"
    config.write_text('{"boundary_photos": null, "encoder_lr": 1, "walk_steps": [-1, 1], "domains": ["crime"], "out": "x"}')
    read = PipelineConfig.from_json(config)
    assert read.boundary_photos is None and read.encoder_lr == 1.0 and isinstance(read.encoder_lr, float)
    assert read.walk_steps == (-1.0, 1.0) and read.domains == ("crime",) and read.out == "x"
    assert read.seed == PipelineConfig().seed  # fields left out keep their defaults


def test_an_unknown_pipeline_step_is_named_with_the_real_ones(tmp_path, capsys):
    code = main(
        ["pipeline", "--tiny", "--out", str(tmp_path / "set"), "--work", str(tmp_path / "work"), "--only", "walks", "walk"]
    )
    err = capsys.readouterr().err
    assert code == 2 and "no pipeline step named walk;" in err and "known_answer" in err
    assert not (tmp_path / "set").exists()


@pytest.mark.parametrize(
    ("flags", "named"), [(["--areas", "0"], "at least 10 areas"), (["--photos", "0"], "n_photos must be at least 1")]
)
def test_impossible_city_is_one_clear_line_and_writes_nothing(tmp_path, capsys, flags, named):
    code = main(["data", "synth", "--out", str(tmp_path / "city"), "--photos", "10", *flags])
    err = capsys.readouterr().err
    assert code == 2 and named in err and not (tmp_path / "city").exists()


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--batch", "0"], "batch=0"),
        (["--lr", "-1"], "lr=-1.0"),
        (["--augment", "bogus"], "unknown augmentation ['bogus']"),
        (["--channels", "abc"], "comma-separated whole numbers"),
    ],
)
def test_impossible_gan_training_is_named_before_a_run_folder_is_made(tmp_path, capsys, flags, named):
    city = tmp_path / "city"
    assert main(["data", "synth", "--out", str(city), "--photos", "12", "--areas", "12", "--size", "16", "--workers", "1"]) == 0
    capsys.readouterr()
    code = main(
        ["train", "gan", "--dataset", str(city / "dataset"), "--run-dir", str(tmp_path / "run"), "--channels", "8,8,8", *flags]
    )
    err = capsys.readouterr().err
    assert code == 2 and named in err, err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("flags", "named"),
    [(["--size", "100000"], "image size must be within 16–1024"), (["--workers", "0"], "workers must be at least 1")],
)
def test_impossible_ingest_is_named_before_anything_is_written(tmp_path, capsys, flags, named):
    city = tmp_path / "city"
    assert main(["data", "synth", "--out", str(city), "--photos", "12", "--areas", "12", "--workers", "1"]) == 0
    capsys.readouterr()
    code = main(ingest_args(city, tmp_path / "again", *flags))
    assert code == 2 and named in capsys.readouterr().err
    assert not (tmp_path / "again").exists()


def parsed(argv: list[str]):
    return build_parser(argv).parse_args(argv)


def test_train_encoder_options_are_the_config_fields_under_the_names_users_know():
    from thisineq.training.encoders import EncoderTrainConfig

    base = ["train", "encoder", "--kind", "restyle", "--generator", "g.pt", "--dataset", "d", "--run-dir", "r"]
    assert from_options(EncoderTrainConfig, parsed(base)) == EncoderTrainConfig(
        kind="restyle", generator="g.pt", dataset="d", run_dir="r"
    )
    changed = from_options(
        EncoderTrainConfig, parsed([*base, "--lpips", "vgg", "--iterations", "3", "--encoder-widths", "8", "16"])
    )
    assert (changed.lpips_net, changed.restyle_iterations, changed.encoder_widths) == ("vgg", 3, (8, 16))


def test_train_gan_takes_the_architecture_defaults_from_the_model_config():
    from thisineq.models.stylegan2 import StyleGAN2Config
    from thisineq.training.gan import GANTrainConfig

    args = parsed(["train", "gan", "--dataset", "d", "--run-dir", "r", "--no-xflip", "--r1-gamma", "0.5"])
    model = from_options(StyleGAN2Config, args, size=32, channels=channel_widths("32,32,16,8", 32))
    assert model == StyleGAN2Config(size=32, channels={4: 32, 8: 32, 16: 16, 32: 8}) and model.n_mlp == 8
    config = from_options(GANTrainConfig, args, model=model)
    assert config == GANTrainConfig(dataset="d", run_dir="r", model=model, xflip=False, r1_gamma=0.5)
    assert args.channels is None  # no --channels: StyleGAN2Config's default widths for the dataset's size


def test_pipeline_options_override_the_config_they_start_from(tmp_path, monkeypatch):
    import thisineq.pipeline

    ran = []
    monkeypatch.setattr(
        thisineq.pipeline, "run_pipeline", lambda config, only, lanes: ran.append((config, only, lanes)) or config.out
    )
    out, work = str(tmp_path / "set"), str(tmp_path / "work")
    assert main(["pipeline", "--tiny", "--out", out, "--work", work, "--encoder-steps", "2", "--walk-steps", "-1", "1"]) == 0
    assert ran[-1] == (replace(PipelineConfig.tiny(out=out, work=work), encoder_steps=2, walk_steps=(-1.0, 1.0)), None, 1)
    assert main(["pipeline", "--only", "gan", "--lanes", "2"]) == 0 and ran[-1] == (PipelineConfig(), ["gan"], 2)


@pytest.mark.slow
def test_only_the_named_command_imports_its_config():
    import subprocess
    import sys

    code = "import sys; from thisineq.cli import build_parser; build_parser(['data', 'synth', '--photos', '3']); print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
    assert named_command(["train", "gan", "--steps", "3"]) == ("train", "gan") and named_command(["pipeline", "--out", "x"]) == (
        "pipeline",
    )
    assert named_command(["--help"]) == () and named_command(["train", "nothing"]) == ()


def test_channel_widths_are_one_per_resolution():
    assert channel_widths("256,128,64", 16) == {4: 256, 8: 128, 16: 64}
    with pytest.raises(ConfigError, match=r"--channels needs 3 widths for \[4, 8, 16\] px, got 2"):
        channel_widths("256,128", 16)
