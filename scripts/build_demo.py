"""Rebuild the committed demo artifacts from nothing, then rewrite artifacts/manifest.json."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys

from thisineq.artifacts import REBUILD_COMMANDS, artifacts_root, write_manifest


def committed_files() -> list:
    """Every file under artifacts/ that git tracks or would track (caches are git-ignored)."""
    root = artifacts_root()
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "--", str(root)],
        capture_output=True, text=True, check=True, cwd=root.parent,
    ).stdout.split()  # fmt: skip
    return [root.parent / p for p in listed if not p.endswith("manifest.json")]


def main() -> None:
    root = artifacts_root()
    for target, command in REBUILD_COMMANDS.items():
        shutil.rmtree(root / target, ignore_errors=True)
        print(f"$ {command}", flush=True)
        argv = shlex.split(command)
        subprocess.run([sys.executable, "-m", "thisineq.cli", *argv[1:]], check=True, cwd=root.parent)
    manifest = write_manifest(committed_files())
    print(f"{len(manifest['artifacts'])} artifacts, {manifest['total_bytes'] / 2**20:.1f} MiB of {manifest['budget_bytes'] / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
