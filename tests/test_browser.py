"""A real browser on the real server: every page loads without an exception, a slider moves the image.

Chromium comes from the operating system (`.ci/run` installs Debian's `chromium` where it is
missing); Playwright drives it and never downloads a browser. Screenshots go to
`$THISINEQ_SCREENSHOTS` (default: a pytest temporary folder).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from thisineq.app.serve import chromium_path, running_app, wait_for_app

PAGES = ["", "generator", "map", "metrics", "walks", "predictions", "upload", "dataset", "kiosk", "about"]
# What shows that a page has drawn: its title, or the kiosk's image, or the map's canvas (a deck the
# browser refuses to draw leaves an error box where the canvas would be).
READY = {"kiosk": '[data-testid="stMain"] [data-testid="stImage"] img', "map": '[data-testid="stDeckGlJsonChart"] canvas'}
TITLE = '[data-testid="stMain"] h1'


@pytest.fixture(scope="module")
def browser_page():
    executable = chromium_path()
    if executable is None:
        pytest.skip("no system Chromium (install Debian's `chromium`, as .ci/run does, or set THISINEQ_CHROMIUM)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in requirements.txt: run `make test`")
    with running_app() as url, sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        yield url, page
        browser.close()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("THISINEQ_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_a_first_deep_link_opens_its_page_in_the_apps_navigation(browser_page, screenshots):
    """The fresh server's first request is a shared link (this test runs first): streamlit_app.py's st.navigation
    serves it, with its page titles and sections in the menu, and the link's state on the page."""
    url, page = browser_page
    page.goto(f"{url}/generator?seed=7")
    wait_for_app(page)
    assert page.locator('[data-testid="stMain"] h1').first.inner_text() == "Generator"
    menu = page.locator('[data-testid="stSidebarNav"]').inner_text()
    assert "Walk matrix" in menu and "Your photo" in menu  # the titles given to st.Page, not the file names
    assert page.locator('[data-testid="stSidebar"] input[type="number"]').input_value() == "7"
    assert "seed=7" in page.url
    page.screenshot(path=str(screenshots / "generator-deep-link.png"), full_page=True)


@pytest.mark.parametrize("path", PAGES)
def test_page_loads_in_a_browser(browser_page, screenshots, path):
    url, page = browser_page
    page.goto(f"{url}/{path}")
    wait_for_app(page, ready=READY.get(path, TITLE))
    assert page.locator('[data-testid="stException"]').count() == 0, page.locator(
        '[data-testid="stException"]'
    ).first.inner_text()
    page.screenshot(path=str(screenshots / f"{path or 'home'}.png"), full_page=True)


def test_generator_slider_changes_the_image(browser_page, screenshots):
    url, page = browser_page
    page.goto(f"{url}/generator?seed=3")
    wait_for_app(page)
    edited = page.locator('[data-testid="stMain"] [data-testid="stImage"] img').nth(1)
    before = edited.get_attribute("src")
    page.locator('[data-testid="stMain"] [data-testid="stSlider"] input[type="range"]').first.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "before => document.querySelectorAll('[data-testid=\"stMain\"] [data-testid=\"stImage\"] img')[1]?.getAttribute('src') !== before",
        arg=before,
        timeout=30000,
    )
    page.wait_for_function("() => location.search.includes('income=0.25')", timeout=10000)  # the view is shareable
    page.screenshot(path=str(screenshots / "generator-slider-moved.png"), full_page=True)


def test_no_page_requests_anything_from_another_host(browser_page):
    """Offline at a conference, private on a network: every request of every page goes to the app's own server."""
    from urllib.parse import urlsplit

    url, page = browser_page
    own = urlsplit(url).netloc
    requests: list[tuple[str, str]] = []

    def record(request) -> None:
        requests.append((page.url, request.url))

    page.on("request", record)
    try:
        for path in PAGES:
            page.goto(f"{url}/{path}")
            wait_for_app(page, ready=READY.get(path, TITLE))
            page.wait_for_timeout(1500)  # late requests: the map's style and tiles, fonts, the page icon
    finally:
        page.remove_listener("request", record)
    foreign = sorted(
        {
            (urlsplit(on).path, target)
            for on, target in requests
            if urlsplit(target).scheme in ("http", "https", "ws", "wss") and urlsplit(target).netloc != own
        }
    )
    assert not foreign, "requests to other hosts (page, URL): " + "; ".join(f"{p} → {t}" for p, t in foreign)
    assert len(requests) > len(PAGES)  # the recorder saw the pages' own traffic


def test_the_chosen_artifact_set_stays_chosen_across_pages_and_in_the_url(tmp_path, browser_page):
    """Pick a set in the sidebar, change page from the menu: the same set, in the sidebar and in the URL."""
    from thisineq.artifacts import demo_set

    _, page = browser_page  # the module's browser, on a second server whose artifacts are two sets
    for name in ("demo", "twin"):
        (tmp_path / name).symlink_to(demo_set().root.resolve())
    with running_app(env={"THISINEQ_ARTIFACTS": str(tmp_path)}) as url:
        page.goto(url)
        wait_for_app(page)
        sidebar = page.locator('[data-testid="stSidebar"]')
        sidebar.locator('[data-testid="stSelectbox"]').click()
        page.get_by_role("option", name="twin").click()
        page.wait_for_function("() => location.search.includes('set=twin')", timeout=20000)
        for title in ("Map", "Dataset", "Generator"):
            sidebar.locator('[data-testid="stSidebarNavLink"]', has_text=title).click()
            wait_for_app(page, ready=READY.get(title.lower(), TITLE))
            assert page.locator('[data-testid="stMain"] h1').first.inner_text() == title
            assert sidebar.get_by_role("combobox", name="Artifact set").input_value() == "twin", title
            assert "set=twin" in page.url, (title, page.url)
        page.goto(f"{url}/map?set=nowhere")
        wait_for_app(page, ready='[data-testid="stMain"] [data-testid="stAlertContentError"]')
        message = page.locator('[data-testid="stMain"] [data-testid="stAlertContentError"]').inner_text()
        assert "nowhere" in message and "demo, twin" in message


def test_the_kiosk_fits_a_1280_by_720_screen_without_scrolling(browser_page):
    url, page = browser_page
    page.set_viewport_size({"width": 1280, "height": 720})
    try:
        page.goto(f"{url}/kiosk")
        wait_for_app(page, ready=READY["kiosk"])
        scrolling = page.evaluate(
            """() => [...document.querySelectorAll('*')]
                .filter(e => e.scrollHeight > e.clientHeight + 2 && ['auto', 'scroll'].includes(getComputedStyle(e).overflowY))
                .map(e => `${e.dataset.testid || e.tagName}: ${e.scrollHeight} > ${e.clientHeight}`)"""
        )
        assert not scrolling, scrolling
        box = page.locator(READY["kiosk"]).bounding_box()
        assert box["height"] > 400 and box["y"] + box["height"] <= 720  # large, and all of it on screen
    finally:
        page.set_viewport_size({"width": 1280, "height": 900})
