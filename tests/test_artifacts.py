"""The committed demo artifacts: all listed in the manifest, unchanged since, within the size budget."""

from __future__ import annotations

import json

from thisineq.artifacts import (
    BUDGET_BYTES,
    HANDOFF,
    HANDOFF_BUDGET_BYTES,
    MANIFEST,
    REBUILD_COMMANDS,
    artifacts_root,
    demo_set,
    rebuild_command,
)
from thisineq.io import sha256_file

DERIVED = ("images_", "reconstructions.npy")  # caches rebuilt on first use, never committed (see .gitignore)
NOT_COMMITTED = ("demo/walks/*.png",)  # outputs the pipeline writes but the demo's budget leaves out (see .gitignore)


def on_disk() -> set[str]:
    """The files of the committed sets (sets a user builds beside them, like `london`, are theirs and git-ignored)."""
    root = artifacts_root()
    committed_sets = {prefix.split("/")[0] for prefix in REBUILD_COMMANDS}
    return {
        p.relative_to(root).as_posix()
        for name in committed_sets
        for p in (root / name).rglob("*")
        if p.is_file()
        and not p.name.startswith(DERIVED)
        and not p.name.endswith(".tmp")
        and "parts" not in p.parts
        and not any(p.relative_to(root).match(pattern) for pattern in NOT_COMMITTED)
    }


def test_manifest_lists_every_artifact_with_its_hash_and_command():
    manifest = json.loads((artifacts_root() / MANIFEST).read_text())
    listed = {entry["path"]: entry for entry in manifest["artifacts"]}
    assert set(listed) == on_disk()
    for path, entry in listed.items():
        assert sha256_file(artifacts_root() / path) == entry["sha256"], f"{path} changed since the manifest was written"
        assert entry["rebuild"] == rebuild_command(path, REBUILD_COMMANDS), f"{path}'s rebuild command changed"
    assert manifest["total_bytes"] == sum(e["bytes"] for e in listed.values())
    demo = sum(e["bytes"] for path, e in listed.items() if path.startswith("demo/"))
    assert manifest["demo_bytes"] == demo <= BUDGET_BYTES
    # Only a rebuild's hand-off between sittings may take the total past the demo's budget, up to 40 MiB.
    carried = any(path.startswith(f"{HANDOFF}/") for path in listed)
    assert manifest["budget_bytes"] == (HANDOFF_BUDGET_BYTES if carried else BUDGET_BYTES)
    assert manifest["total_bytes"] <= manifest["budget_bytes"]


def test_the_demo_set_is_the_synthetic_city():
    demo = demo_set()
    assert demo.exists()
    assert json.loads((demo.dataset / "dataset.json").read_text())["synthetic"] is True
