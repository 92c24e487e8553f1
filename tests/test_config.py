"""Configs as the single source of defaults: command-line options made from the fields, strict JSON config files."""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass

import pytest

from thisineq.config import add_options, command_options, from_options, load_config, option, option_values
from thisineq.errors import ConfigError


@dataclass
class Inner:
    n_mlp: int = option(8, "mapping depth")
    channels: dict[int, int] = option({}, "width per resolution")


@dataclass
class Example:
    run_dir: str = option(help="run folder")
    steps: int = option(100, "total steps")
    lr: float = option(0.5, "rate, 50% of nothing")
    widths: tuple[int, ...] = option((8, 16), "widths")
    betas: tuple[float, float] = option((0.0, 0.99), "Adam betas")
    gamma: float | None = option(None, "R1 weight (default: from the size)")
    xflip: bool = option(True, "mirror images")
    kind: str = option("e4e", "encoder kind", choices=("e4e", "restyle"))
    model: Inner = option(help="architecture", default_factory=Inner)

    def __post_init__(self):
        if self.steps < 1:
            raise ConfigError(f"steps must be at least 1, got {self.steps}")


def parser_for(**kwargs) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(exit_on_error=False)
    add_options(parser, Example, exclude=("model",), **kwargs)
    return parser


def test_options_take_the_fields_defaults_and_types():
    args = parser_for().parse_args(["--run-dir", "r"])
    assert from_options(Example, args, model=Inner(n_mlp=2)) == Example(run_dir="r", model=Inner(n_mlp=2))
    given = [
        *("--run-dir", "r", "--steps", "5", "--widths", "1", "2", "3", "--betas", "0.5", "0.9"),
        *("--gamma", "2", "--no-xflip", "--kind", "restyle", "--lr", "-1"),
    ]
    config = from_options(Example, parser_for().parse_args(given))
    assert (config.steps, config.widths, config.betas, config.gamma, config.xflip, config.kind, config.lr) == (
        5,
        (1, 2, 3),
        (0.5, 0.9),
        2.0,
        False,
        "restyle",
        -1.0,
    )


def test_options_refuse_what_the_fields_refuse():
    for bad in (["--steps", "5"], ["--run-dir", "r", "--kind", "psp"], ["--run-dir", "r", "--betas", "0.5"]):
        with pytest.raises((argparse.ArgumentError, SystemExit)):
            parser_for().parse_args(bad)
    with pytest.raises(ConfigError, match="steps must be at least 1"):
        from_options(Example, parser_for().parse_args(["--run-dir", "r", "--steps", "0"]))


def test_command_options_repeat_a_config_on_the_command_line():
    config = Example(run_dir="runs/a b", steps=7, widths=(4, 8, 8), xflip=False, kind="restyle")
    options = command_options(config)
    assert options == ["--run-dir", "runs/a b", "--steps", "7", "--widths", "4", "8", "8", "--no-xflip", "--kind", "restyle"]
    assert from_options(Example, parser_for().parse_args(options)) == config
    assert command_options(Example(run_dir="r")) == ["--run-dir", "r"]  # defaults are left out
    with pytest.raises(ValueError, match="model .* has no command-line form"):
        command_options(Example(run_dir="r", model=Inner(n_mlp=2)))


def test_help_comes_from_the_fields():
    text = " ".join(parser_for().format_help().split())
    assert "--steps STEPS total steps (default: 100)" in text and "rate, 50% of nothing (default: 0.5)" in text
    assert "--xflip, --no-xflip mirror images (default: on)" in text and "widths (default: 8 16)" in text
    assert "{e4e,restyle}" in text and "R1 weight (default: from the size)" in text  # no "(default: None)"


def test_flags_prefixes_and_fields_without_a_command_line_form():
    parser = argparse.ArgumentParser()
    add_options(parser, Inner, exclude=("channels",), prefix="g-", flags={"n_mlp": "depth"})
    assert vars(parser.parse_args(["--g-depth", "4"])) == {"g_n_mlp": 4}
    assert from_options(Inner, parser.parse_args([]), prefix="g-", channels={4: 8}) == Inner(8, {4: 8})
    with pytest.raises(TypeError, match="Inner has no fields \\['depth'\\]"):
        add_options(argparse.ArgumentParser(), Inner, flags={"depth": "d"})
    with pytest.raises(TypeError, match="field channels of type dict\\[int, int\\] has no command-line form"):
        add_options(argparse.ArgumentParser(), Inner)


def test_override_options_are_only_those_given():
    parser = parser_for(overrides=True)
    assert option_values(Example, parser.parse_args([])) == {}
    assert option_values(Example, parser.parse_args(["--steps", "7", "--no-xflip"])) == {"steps": 7, "xflip": False}


def test_a_config_file_converts_only_what_its_fields_say(tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{"run_dir": "r", "lr": 1, "widths": [1, 2], "gamma": null, "model": {"channels": {"4": 8}}}')
    config = load_config(Example, path)
    assert config == Example(run_dir="r", lr=1.0, widths=(1, 2), model=Inner(channels={4: 8}))
    assert isinstance(config.lr, float) and config.steps == 100  # fields left out keep their defaults
    with pytest.raises(FileNotFoundError):
        load_config(Example, tmp_path / "none.json")


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("{bad", "is not valid JSON: Expecting property name"),
        (b"\xff{}", "is not UTF-8 text (invalid start byte at byte 0)"),
        ("[1]", "must hold a JSON object of Example fields, not a list"),
        ('{"run_dir": "r", "nope": 1}', "unknown Example fields ['nope']; known: ['betas', 'gamma',"),
        ('{"run_dir": "r", "model": {"depth": 1}}', "unknown Inner fields ['depth'] in model; known: ['channels', 'n_mlp']"),
        ('{"run_dir": "r", "steps": "abc"}', "steps must be int, got 'abc'"),
        ('{"run_dir": "r", "steps": true}', "steps must be int, got True"),
        ('{"run_dir": "r", "lr": false}', "lr must be float, got False"),
        ('{"run_dir": "r", "steps": null}', "steps cannot be null"),
        ('{"run_dir": "r", "gamma": "x"}', "gamma must be float or null, got 'x'"),
        ('{"run_dir": "r", "widths": 3}', "widths must be a list, got 3"),
        ('{"run_dir": "r", "widths": [1, "a"]}', "widths[1] must be int, got 'a'"),
        ('{"run_dir": "r", "betas": [0.5]}', "betas must be a list of 2 values, got 1: [0.5]"),
        ('{"run_dir": "r", "model": {"channels": {"x": 1}}}', "model.channels has the key 'x', which is not int"),
        ('{"run_dir": "r", "model": {"n_mlp": 2.5}}', "model.n_mlp must be int, got 2.5"),
        ('{"steps": 5}', "run_dir is missing, and it has no default"),
        ('{"run_dir": "r", "steps": 0}', "steps must be at least 1, got 0"),
    ],
)
def test_a_bad_config_file_is_one_line_naming_the_file_and_the_field(tmp_path, text, named):
    path = tmp_path / "config.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ConfigError) as error:
        load_config(Example, path)
    message = str(error.value)
    assert message.startswith(str(path)) and named in message and "\n" not in message, message


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('{"nope": 1}', "unknown PipelineConfig fields ['nope']"),
        ('{"seed": "7"}', "seed must be int"),
        ('{"seed": null}', "seed cannot be null"),
        ('{"walk_steps": 3}', "walk_steps must be a list"),
        ('{"walk_steps": [1, "a"]}', "walk_steps[1] must be float"),
        ('{"boundary_photos": "all"}', "boundary_photos must be int or null, got 'all'"),
    ],
)
def test_the_pipeline_config_file_gets_the_messages_the_command_line_promises(tmp_path, text, named):
    from thisineq.pipeline import PipelineConfig

    (tmp_path / "config.json").write_text(text)
    with pytest.raises(ConfigError, match=f"config.json: .*{re.escape(named)}"):
        load_config(PipelineConfig, tmp_path / "config.json")


def test_the_pipeline_config_file_reads_nulls_lists_and_whole_numbers_as_their_fields_types(tmp_path):
    from thisineq.pipeline import PipelineConfig

    (tmp_path / "config.json").write_text(
        '{"boundary_photos": null, "encoder_lr": 1, "walk_steps": [-1, 1], "domains": ["crime"]}'
    )
    read = load_config(PipelineConfig, tmp_path / "config.json")
    assert read.boundary_photos is None and read.encoder_lr == 1.0 and isinstance(read.encoder_lr, float)
    assert read.walk_steps == (-1.0, 1.0) and read.domains == ("crime",) and read.seed == PipelineConfig().seed
