"""Print the dashboard's speed in a real browser (the system Chromium, driven by Playwright).

- slider move → new image on screen, on the generator page: median and p95 over many moves
  (target: median ≤ 250 ms);
- the map's first render with every London LSOA (4,835): page load until the deck.gl canvas is
  drawn and the script idle (target ≤ 3 s), beside a text-only page's load for scale. It needs the official London files in
  ../shared/data/london (or --boundaries/--imd); a temporary artifact set of synthetic photos on
  the real London map is built for it;
- an optimiser in the app against the same call to the library (the 100-step hybrid and the
  500-step projector on one photo, the browser open; target: within 1.5×);
- load: 5 browser sessions moving sliders while a sixth runs the hybrid (target: slider p95
  ≤ 300 ms), then 10 sessions on the generator page for --load-minutes (errors, slider p95, the
  server's memory after warm-up and at the end). Everything stays on the loopback interface.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from thisineq.app.serve import IDLE, chromium_path, running_app, wait_for_app
from thisineq.app.widgets import method_label
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


RAMP_SECONDS = 3.0  # between the load scenario's sessions starting
UPLOAD_INPUT = '[data-testid="stFileUploaderDropzoneInput"]'
DOWNLOAD = '[data-testid="stMain"] [data-testid="stDownloadButton"]'


def bench_photo(path: Path) -> Path:
    """A held-out demo photo, written as a PNG to upload."""
    from PIL import Image

    from thisineq.data.dataset import load_dataset

    data = load_dataset(demo_set().dataset)
    held_out = data.photos.index[data.photos["split"] == "test"][0]
    Image.fromarray(data.image(held_out)).save(path)
    return path


def inversion_in_app(page, url: str, photo: Path, method_label: str) -> float:
    """Seconds from pressing an optimiser's button on the Your-photo page until its result is on screen."""
    page.goto(f"{url}/upload")
    wait_for_app(page)
    page.locator(UPLOAD_INPUT).set_input_files(str(photo))
    page.wait_for_selector('[data-testid="stMain"] [role="radiogroup"]', timeout=60000)
    wait_for_app(page)
    page.get_by_role("radio", name=method_label, exact=True).check(force=True)
    button = page.get_by_role("button", name=f"Invert with the {method_label}")
    button.wait_for(timeout=60000)
    start = time.perf_counter()
    button.click()
    page.wait_for_selector(DOWNLOAD, timeout=600000)
    return time.perf_counter() - start


def inversion_in_library(photo: Path, method: str, steps: int) -> float:
    """Seconds the same inversion takes as a library call, under the app's thread budget, in this process."""
    import numpy as np
    import torch
    from PIL import Image

    from thisineq.app.jobs import thread_budget
    from thisineq.invert.api import InversionModels, invert_image
    from thisineq.metrics import lpips

    artifacts = demo_set()
    models = InversionModels.load(
        artifacts.generator, e4e=artifacts.encoder("e4e"), restyle=artifacts.encoder("restyle"), lpips_net="alex"
    )
    for encoder in models.encoders.values():
        encoder.eval().requires_grad_(False)
    assert lpips.weights_path("alex").is_file(), "convert the LPIPS weights first (make test does)"
    image = np.asarray(Image.open(photo).convert("RGB"))
    budget = {"hybrid_steps": steps} if method == "hybrid" else {"projector_steps": steps}
    before = torch.get_num_threads()
    torch.set_num_threads(thread_budget())
    try:
        start = time.perf_counter()
        invert_image(image, method, models, **budget)
        return time.perf_counter() - start
    finally:
        torch.set_num_threads(before)


def server_rss_mb(url: str) -> float:
    """Resident memory of the Streamlit server listening on `url`'s port (Linux /proc), in MB (NaN where not found)."""
    port = url.rsplit(":", 1)[1]
    for status in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            command = status.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"streamlit" in b" ".join(command) and port.encode() in command:
            for line in (status.parent / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    return float("nan")


def slider_session(url: str, executable: str, seconds: float, results: dict, name: str, seed: int) -> None:
    """One browser session moving a slider on the generator page for `seconds`: latencies and errors into `results`."""
    from playwright.sync_api import sync_playwright

    times, errors = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        try:
            # Ten headless browsers starting at once on two cores take their time: the load is what follows.
            page.goto(f"{url}/generator?seed={seed}", timeout=180000)
            wait_for_app(page, timeout_ms=180000)
            slider, end, k = page.locator(SLIDER).first, time.monotonic() + seconds, 0
            while time.monotonic() < end:
                before = page.locator(IMAGES).nth(1).get_attribute("src")
                slider.focus()
                start = time.perf_counter()
                page.keyboard.press("ArrowRight" if (k // 10) % 2 == 0 else "ArrowLeft")
                try:
                    page.wait_for_function(
                        f"before => document.querySelectorAll('{IMAGES}')[1]?.getAttribute('src') !== before",
                        arg=before,
                        timeout=30000,
                    )
                    times.append(time.perf_counter() - start)
                except Exception as error:  # a timeout is a failed move, counted
                    errors.append(f"move {k}: {type(error).__name__}")
                if page.locator('[data-testid="stException"]').count():
                    errors.append(f"move {k}: an exception on the page")
                k += 1
                time.sleep(0.2)  # a person moves a slider a few times a second at most
        except Exception as error:
            errors.append(f"session: {type(error).__name__}: {error}")
        finally:
            browser.close()
    results[name] = (times, errors)


def hybrid_session(url: str, executable: str, photo: Path, until: threading.Event, results: dict) -> None:
    """A session running the hybrid on the Your-photo page again and again until `until` is set."""
    from playwright.sync_api import sync_playwright

    runs = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            while not until.is_set():
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                runs.append(inversion_in_app(page, url, photo, method_label("hybrid")))
                page.close()  # one session at a time, as one visitor inverting again and again
        finally:
            browser.close()
    results["hybrid"] = runs


def load_scenario(url: str, executable: str, sessions: int, seconds: float, photo: Path | None) -> dict:
    """`sessions` slider sessions for `seconds` (with a hybrid-running session beside them where `photo` is given)."""
    results: dict = {}
    stop = threading.Event()
    threads = [
        threading.Thread(target=slider_session, args=(url, executable, seconds, results, f"s{i}", 100 + i))
        for i in range(sessions)
    ]
    if photo is not None:
        threads.append(threading.Thread(target=hybrid_session, args=(url, executable, photo, stop, results)))
    for thread in threads:
        thread.start()
        time.sleep(RAMP_SECONDS)  # visitors arrive one after another, as they would
    for thread in threads[:sessions]:
        thread.join()
    stop.set()
    for thread in threads[sessions:]:
        thread.join()
    return results


def report_load(label: str, results: dict) -> None:
    times = [t for name, (ts, _) in results.items() if name != "hybrid" for t in ts]
    errors = [e for name, (_, es) in results.items() if name != "hybrid" for e in es]
    if times:
        print(
            f"{label}: slider move → new image median {1000 * statistics.median(times):.0f} ms, "
            f"p95 {1000 * percentile(times, 0.95):.0f} ms over {len(times)} moves; {len(errors)} errors"
            + (f" ({'; '.join(errors[:3])})" if errors else "")
        )
    else:
        print(f"{label}: no slider move finished; errors: {'; '.join(errors[:5])}")
    if "hybrid" in results:
        runs = results["hybrid"]
        print(f"  meanwhile the hybrid ran {len(runs)} times: " + ", ".join(f"{r:.1f} s" for r in runs))


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
    parser.add_argument("--load-minutes", type=float, default=5.0, help="length of the 10-session load test")
    parser.add_argument("--skip", nargs="*", default=[], choices=["map", "inversion", "load"], help="parts not to run")
    args = parser.parse_args()

    executable = chromium_path()
    if executable is None:
        sys.exit("no system Chromium found: install Debian's `chromium` or set THISINEQ_CHROMIUM")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "demo").symlink_to(demo_set().root.resolve())
        london = "map" not in args.skip and args.boundaries.is_file() and args.imd.is_file()
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
            if "inversion" not in args.skip:
                photo = bench_photo(root / "held-out.png")
                for method, steps in (("hybrid", 100), ("projector", 500)):
                    label = method_label(method)
                    in_app = inversion_in_app(browser.new_page(viewport={"width": 1280, "height": 900}), url, photo, label)
                    direct = inversion_in_library(photo, method, steps)
                    print(
                        f"{label} ({steps} steps) in the app {in_app:.1f} s, as a library call {direct:.1f} s: "
                        f"{in_app / direct:.2f}× (target ≤ 1.5×)"
                    )
            if "load" not in args.skip:
                photo = bench_photo(root / "held-out.png")
                report_load(
                    "5 sessions moving sliders while a sixth runs the hybrid", load_scenario(url, executable, 5, 90, photo)
                )
                warm = server_rss_mb(url)
                report_load(
                    f"10 sessions on the generator page for {args.load_minutes:g} min",
                    load_scenario(url, executable, 10, 60 * args.load_minutes, None),
                )
                print(f"server memory: {warm:.0f} MB after warm-up, {server_rss_mb(url):.0f} MB after the load")
            if "map" in args.skip:
                pass  # asked not to
            elif london:
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
