"""scripts/walk_visibility.py: the visibility/separation trade-off of principal-axis boundaries, on the demo set."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_script():
    spec = importlib.util.spec_from_file_location("walk_visibility", ROOT / "scripts" / "walk_visibility.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_prints_a_row_per_axis_count_and_the_pick(tmp_path, capsys):
    script = load_script()
    code = script.main(
        [
            "--set",
            str(ROOT / "artifacts" / "demo"),
            "--work",
            str(tmp_path / "none"),
            "--methods",
            "e4e",
            "--domains",
            "health",
            "--axes",
            "8",
            "--bootstrap",
            "10",
            "--images",
            "2",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    rows = [line.split() for line in out.splitlines() if line.startswith("e4e ")]
    assert [row[2] for row in rows[:2]] == ["8", "all"] and rows[2][2] in ("→8", "→all")
    for row in rows:
        f1, auc, sigma, change = float(row[4]), float(row[6]), float(row[7]), float(row[8].rstrip("%"))
        assert 0 < f1 <= 1 and 0 < auc <= 1 and sigma > 0 and change > 0
    assert float(rows[0][7]) > float(rows[1][7])  # W spreads wider along its first 8 axes than along the full-space normal


def test_a_missing_set_is_named(tmp_path, capsys):
    code = load_script().main(["--set", str(tmp_path / "nowhere"), "--work", str(tmp_path / "none")])
    assert code == 2 and "nowhere" in capsys.readouterr().err


def test_more_axes_than_latent_dimensions_are_named(tmp_path, capsys):
    code = load_script().main(["--set", str(ROOT / "artifacts" / "demo"), "--work", str(tmp_path / "none"), "--axes", "8", "300"])
    assert code == 2 and re.search(r"300 exceeds the generator's \d+ latent dimensions", capsys.readouterr().err)
