"""Print the exhibition site's figures (issue 18's targets): export time and size of 60 streets, and slider → image
latency in headless Chromium opened from disk.

    python scripts/bench_site.py [--set artifacts/demo] [--streets 60] [--out data/site] [--moves 40]

Targets: the export of 60 streets at 64 px in ≤ 10 minutes, 60 streets × 3 domains in ≤ 200 MB, and the image
on screen ≤ 50 ms after a slider moves (median over `--moves` moves; each move's image is decoded, as a visitor
would see it).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from thisineq.app.serve import chromium_path
from thisineq.artifacts import demo_set
from thisineq.exhibition.site import SiteConfig, export_site

# A slider move in the page, timed from the input event to the new image decoded.
MOVE = """async ([id, value]) => {
  const slider = document.getElementById(id), image = document.getElementById("street-image");
  const start = performance.now();
  slider.value = String(value);
  slider.dispatchEvent(new Event("input", {bubbles: true}));
  await image.decode();
  return performance.now() - start;
}"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, default=demo_set().root)
    parser.add_argument("--streets", type=int, default=60)
    parser.add_argument("--out", type=Path, default=Path("data/site"))
    parser.add_argument("--moves", type=int, default=40)
    args = parser.parse_args()
    report = export_site(SiteConfig(artifact_set=str(args.set), out=str(args.out), streets=args.streets))
    print(f"export: {report.images:,} images of {args.streets} streets in {report.seconds:.1f} s, {report.bytes / 2**20:.1f} MB")
    executable = chromium_path()
    if executable is None:
        print("no Chromium: the latency is not measured", file=sys.stderr)
        return 0
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto((report.folder.resolve() / "index.html").as_uri() + "?street=0")
        page.wait_for_selector("#street-image")
        times = [page.evaluate(MOVE, ["slider-income", i % 13]) for i in range(1, args.moves + 1)]
        browser.close()
    print(
        f"slider → image decoded: median {statistics.median(times):.1f} ms, max {max(times):.1f} ms over {len(times)} moves "
        "(target ≤ 50 ms)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
