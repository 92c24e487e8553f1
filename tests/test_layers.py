"""Data flows one way: raw files → dataset → models → inversions → latents → edits → pages. Inference never imports
training, the app never imports the pipeline, and the lower layers import nothing above them."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "thisineq"
# Only these may import training (the GAN and encoder trainers) or the pipeline (which trains).
BUILDERS = {"training", "pipeline", "cli"}
# The one reach upwards, lazy and used only when the demo's manifest is written: each step's rebuild command.
LAZY_PIPELINE_IMPORTS = {"artifacts"}
# What a lower layer may import, besides itself.
LOWER_LAYERS = {
    "errors": set(),
    "io": set(),
    "config": {"errors"},
    "data": {"config", "errors", "io"},
    "models": {"config", "errors", "images", "io"},
    "metrics": {"errors", "io", "models"},
}


def layer(path: Path) -> str:
    """A file's layer: its folder under thisineq/, or its module name at the top level; app pages are the app."""
    if PACKAGE not in path.parents:
        return "app"
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def imported_layers(path: Path) -> set[str]:
    """Every thisineq layer a file imports anywhere in it, lazy imports inside functions included."""
    layers = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names if node.module == "thisineq"]
        layers |= {name.split(".")[1] for name in names if name.startswith("thisineq.")}
    return {name for name in layers if (PACKAGE / name).is_dir() or (PACKAGE / f"{name}.py").is_file()}  # not __version__


SOURCES = sorted([*PACKAGE.rglob("*.py"), *(ROOT / "app_pages").glob("*.py"), ROOT / "streamlit_app.py"])


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_each_file_imports_only_what_its_layer_may(path):
    own = layer(path)
    imports = imported_layers(path) - {own}
    if own not in BUILDERS:
        assert "training" not in imports, f"{own} imports training: inference never does"
        if own not in LAZY_PIPELINE_IMPORTS:
            assert "pipeline" not in imports, f"{own} imports the pipeline, which trains"
    if own in LOWER_LAYERS:
        assert imports <= LOWER_LAYERS[own], f"{own} reaches up to {sorted(imports - LOWER_LAYERS[own])}"


def test_the_rule_sees_lazy_and_package_imports(tmp_path):
    source = tmp_path / "module.py"
    source.write_text("from thisineq import training\n\ndef f():\n    import thisineq.pipeline.steps\n")
    assert imported_layers(source) == {"training", "pipeline"}
    source.write_text("from thisineq import __version__\nfrom thisineq.data.votes import WINNERS\n")
    assert imported_layers(source) == {"data"}
    assert layer(PACKAGE / "data" / "votes.py") == "data" and layer(PACKAGE / "headline.py") == "headline"
    assert layer(ROOT / "app_pages" / "home.py") == "app"


def test_loading_the_app_and_every_inference_module_loads_no_trainer():
    """At run time too: importing every module the app and inference can reach leaves training and the pipeline unloaded."""
    modules = [
        ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        for parts in (path.relative_to(ROOT).with_suffix("").parts for path in SOURCES if PACKAGE in path.parents)
        if parts[1] not in BUILDERS
    ]
    assert "thisineq.app.state" in modules and not any(m.startswith("thisineq.training") for m in modules)
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[:2] in (['thisineq', 'training'], ['thisineq', 'pipeline'])))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
