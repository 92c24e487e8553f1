"""Print the dashboard's speed in a real browser (the system Chromium, driven by Playwright).

- slider move → new image on screen, on the generator page: median and p95 over many moves
  (target: median ≤ 250 ms);
- the map's first render with every London LSOA (4,835): page load until the deck.gl canvas is
  drawn and the script idle (target ≤ 3 s), beside a text-only page's load for scale. It needs the official London files in
  ../shared/data/london (or --boundaries/--imd); a temporary artifact set of synthetic photos on
  the real London map is built for it.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from thisineq.app.serve import IDLE, chromium_path, running_app, wait_for_app
from thisineq.artifacts import REPO_ROOT, demo_set

LONDON = REPO_ROOT.parent / "shared" / "data" / "london"
SLIDER = '[data-testid="stMain"] [data-testid="stSlider"] input[type="range"]'
IMAGES = '[data-testid="stMain"] [data-testid="stImage"] img'


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def slider_latency(page, url: str, moves: int) -> list[float]:
    page.goto(f"{url}/generator?seed=11")
    wait_for_app(page)
    slider = page.locator(SLIDER).first
    times = []
    for k in range(moves):
        before = page.locator(IMAGES).nth(1).get_attribute("src")
        slider.focus()
        start = time.perf_counter()
        page.keyboard.press("ArrowRight" if (k // 10) % 2 == 0 else "ArrowLeft")  # sweep right and back
        page.wait_for_function(
            f"before => document.querySelectorAll('{IMAGES}')[1]?.getAttribute('src') !== before", arg=before, timeout=30000
        )
        page.wait_for_function(f"() => document.querySelectorAll('{IMAGES}')[1]?.complete", timeout=30000)
        times.append(time.perf_counter() - start)
    return times


def map_first_render(page, url: str, artifact_set: str = "london") -> tuple[float, float]:
    """(seconds until the deck's canvas has drawn a frame, seconds until the page's script is idle too)."""
    start = time.perf_counter()
    page.goto(f"{url}/map?set={artifact_set}")
    page.wait_for_selector('[data-testid="stDeckGlJsonChart"] canvas', timeout=60000)
    # deck.gl draws on an animation frame: two frames after the canvas appears, one has been drawn
    page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
    drawn = time.perf_counter() - start
    page.wait_for_function(IDLE, arg='[data-testid="stMain"] h1', timeout=60000)
    idle = time.perf_counter() - start
    wait_for_app(page)
    return drawn, idle


def text_page_load(page, url: str) -> float:
    """Seconds until the About page (text only) is on screen and idle: the browser's own cost of a Streamlit page."""
    start = time.perf_counter()
    page.goto(f"{url}/about")
    page.wait_for_function(IDLE, arg='[data-testid="stMain"] h1', timeout=60000)
    return time.perf_counter() - start


def demo_areas() -> int:
    from thisineq.data.dataset import load_dataset

    return len(load_dataset(demo_set().dataset).lsoas)


def build_london_set(root: Path, boundaries: Path, imd: Path, photos: int) -> None:
    command = [
        sys.executable,
        "-m",
        "thisineq.cli",
        "data",
        "synth",
        "--out",
        str(root / "london" / "city"),
        "--photos",
        str(photos),
        "--boundaries",
        str(boundaries),
        "--imd",
        str(imd),
    ]
    subprocess.run(command, check=True, cwd=REPO_ROOT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=40, help="slider moves to time")
    parser.add_argument("--boundaries", type=Path, default=LONDON / "boundaries" / "london-2011-lsoa-gen20.shp")
    parser.add_argument("--imd", type=Path, default=LONDON / "iod2019" / "File_2_-_IoD2019_Domains_of_Deprivation_London.csv")
    parser.add_argument("--photos", type=int, default=2000, help="synthetic photos placed on the London map")
    args = parser.parse_args()

    executable = chromium_path()
    if executable is None:
        sys.exit("no system Chromium found: install Debian's `chromium` or set THISINEQ_CHROMIUM")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "demo").symlink_to(demo_set().root.resolve())
        london = args.boundaries.is_file() and args.imd.is_file()
        if london:
            print(f"building a London set: {args.photos} synthetic photos on the {args.boundaries.name} LSOAs …")
            build_london_set(root, args.boundaries, args.imd, args.photos)
        with running_app(env={"THISINEQ_ARTIFACTS": str(root)}) as url, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            slider_latency(page, url, 3)  # warm the caches
            times = slider_latency(page, url, args.moves)
            print(
                f"slider move → new image: median {1000 * statistics.median(times):.0f} ms, p95 {1000 * percentile(times, 0.95):.0f} ms "
                f"over {len(times)} moves (target: median ≤ 250 ms)"
            )
            print(
                f"for scale, a text-only page (About) is on screen and idle after {text_page_load(browser.new_page(), url):.2f} s"
            )
            drawn, _ = map_first_render(browser.new_page(viewport={"width": 1280, "height": 900}), url, "demo")
            print(f"for scale, the demo's map ({demo_areas()} areas) is drawn after {drawn:.2f} s")
            if london:
                page.goto(f"{url}/")  # let the server load the London tables once, as a visitor before would have
                for session in ("a new session", "another"):
                    drawn, idle = map_first_render(browser.new_page(viewport={"width": 1280, "height": 900}), url)
                    print(
                        f"map first render, all London LSOAs, {session}: drawn after {drawn:.2f} s, page idle after {idle:.2f} s (target ≤ 3 s)"
                    )
            else:
                print(f"map benchmark skipped: official London files not found ({args.boundaries}, {args.imd})")
            browser.close()


if __name__ == "__main__":
    main()
