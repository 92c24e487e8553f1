"""Export a GAN run folder as a demo artifact (generator, samples, metrics, model card)."""

from __future__ import annotations

import argparse
from pathlib import Path

from thisineq.artifacts import REBUILD_COMMANDS
from thisineq.training.export import export_gan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("artifacts/demo/gan"))
    parser.add_argument("--hardware", help="where it was trained, if not on this machine")
    args = parser.parse_args()
    print(f"wrote {export_gan(args.run_dir, args.out, rebuild=REBUILD_COMMANDS['demo/gan'], trained_on=args.hardware)}")


if __name__ == "__main__":
    main()
