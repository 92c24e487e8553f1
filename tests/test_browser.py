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

PAGES = ["", "generator", "map", "metrics", "walks", "upload", "dataset", "kiosk", "about"]


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
    wait_for_app(
        page, ready='[data-testid="stMain"] [data-testid="stImage"] img' if path == "kiosk" else '[data-testid="stMain"] h1'
    )
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
