"""Rebuild committed demo artifacts from nothing, then rewrite artifacts/manifest.json.

`python scripts/build_demo.py` rebuilds the quick ones (the synthetic city); name targets to
rebuild others, e.g. `demo/gan`, which trains the GAN for many hours on a CPU.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys

from thisineq.artifacts import REBUILD_COMMANDS, artifacts_root, write_manifest


def committed_files() -> list:
    """Every file under artifacts/ that git tracks or would track (caches are git-ignored)."""
    root = artifacts_root()
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "--", str(root)],
        capture_output=True,
        text=True,
        check=True,
        cwd=root.parent,
    ).stdout.split()
    return [root.parent / p for p in listed if not p.endswith("manifest.json") and (root.parent / p).is_file()]


QUICK = ("demo/city",)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("targets", nargs="*", default=list(QUICK), help=f"artifacts to rebuild, of {sorted(REBUILD_COMMANDS)}")
    parser.add_argument("--manifest-only", action="store_true", help="rebuild nothing; rewrite the manifest of what is there")
    args = parser.parse_args()
    unknown = set(args.targets) - set(REBUILD_COMMANDS)
    if unknown:
        parser.error(f"unknown targets {sorted(unknown)}")
    if args.manifest_only:
        args.targets = []
    root = artifacts_root()
    env = {**os.environ, "PATH": f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ['PATH']}"}
    for target in args.targets:
        command = REBUILD_COMMANDS[target]
        shutil.rmtree(root / target, ignore_errors=True)
        print(f"$ {command}", flush=True)
        subprocess.run(["bash", "-c", command], check=True, cwd=root.parent, env=env)
    manifest = write_manifest(committed_files())
    print(
        f"{len(manifest['artifacts'])} artifacts, {manifest['total_bytes'] / 2**20:.1f} MiB of {manifest['budget_bytes'] / 2**20:.0f} MiB"
    )


if __name__ == "__main__":
    main()
