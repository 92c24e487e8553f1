"""The exhibition site: exported whole from an artifact set, resumable, refusing broken sets by name, and working from
disk in a real browser with no request leaving the page."""

from __future__ import annotations

import json
import shutil

import pytest

from thisineq.app.serve import chromium_path
from thisineq.artifacts import demo_set
from thisineq.cli import main
from thisineq.exhibition.site import SiteConfig, export_site


def _site_data(folder) -> dict:
    text = (folder / "data.js").read_text(encoding="utf-8")
    return json.loads(text.removeprefix("window.THISINEQ_SITE = ").rstrip().removesuffix(";"))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("exhibition") / "site"
    report = export_site(SiteConfig(artifact_set=str(demo_set().root), out=str(out), streets=3, workers=2), log=lambda _: None)
    return out, report


def test_the_site_holds_every_street_domain_and_step_with_the_synthetic_label(site):
    out, report = site
    data = _site_data(out)
    assert len(data["streets"]) == 3 and data["synthetic"] and data["steps"][0] == -3 and 0 in data["steps"]
    assert [d["key"] for d in data["domains"]] == ["income", "health", "education"]
    images = {name for street in data["streets"] for walk in street["walks"].values() for name in walk["images"]}
    assert len(images) == report.images == 3 * 3 * len(data["steps"]) and all((out / name).is_file() for name in images)
    assert data["streets"][0]["label"].startswith("photo ")  # held-out photos first, seeds after
    assert not (out.parent / "site.partial").exists()
    for name in ("index.html", "kiosk.html", "about.html", "app.js", "style.css"):
        text = (out / name).read_text(encoding="utf-8")
        assert "http://" not in text and "https://" not in text, name  # nothing to fetch from elsewhere


def test_a_stopped_export_resumes_and_a_broken_set_is_named_with_nothing_written(site, tmp_path, capsys):
    out, _ = site
    partial = tmp_path / "again.partial"
    shutil.copytree(out, partial)  # as a stopped export leaves its working folder
    kept = partial / _site_data(out)["streets"][0]["walks"]["income"]["images"][0]
    stamp = kept.stat().st_mtime_ns
    export_site(SiteConfig(artifact_set=str(demo_set().root), out=str(tmp_path / "again"), streets=3), log=lambda _: None)
    assert (tmp_path / "again" / kept.relative_to(partial)).stat().st_mtime_ns == stamp  # kept, not drawn again
    broken = tmp_path / "broken"
    shutil.copytree(demo_set().root / "gan", broken / "gan")
    (broken / "gan" / "generator.pt").write_bytes(b"not a generator")
    assert main(["export", "site", "--set", str(broken), "--out", str(tmp_path / "nothing")]) == 2
    assert "generator.pt" in capsys.readouterr().err
    assert not (tmp_path / "nothing").exists() and not (tmp_path / "nothing.partial").exists()
    shutil.rmtree(broken / "gan")
    assert main(["export", "site", "--set", str(broken), "--out", str(tmp_path / "nothing")]) == 2
    assert "generator.pt is missing" in capsys.readouterr().err and not (tmp_path / "nothing.partial").exists()


@pytest.mark.browser
def test_the_site_works_from_disk_in_a_browser_and_asks_no_host_for_anything(site):
    executable = chromium_path()
    if executable is None:
        pytest.skip("no system Chromium (install Debian's `chromium`, as .ci/run does, or set THISINEQ_CHROMIUM)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in requirements.txt: run `make test`")
    out, _ = site
    requests = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1200, "height": 800})
        page.on("request", lambda request: requests.append(request.url))
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto((out / "index.html").as_uri())
        assert page.locator(".streets a").count() == 3 and page.locator("#synthetic").is_visible()
        page.locator(".streets a").first.click()
        page.wait_for_selector("#street-image")
        before = page.locator("#street-image").get_attribute("src")
        page.locator("#slider-income").focus()
        page.keyboard.press("ArrowRight")
        after = page.locator("#street-image").get_attribute("src")
        assert after != before and page.locator("#street-image").get_attribute("data-step") == "+0.5σ"
        page.wait_for_function("() => document.getElementById('street-image').complete")
        assert page.evaluate("document.getElementById('street-image').naturalWidth") == 64
        page.goto((out / "kiosk.html").as_uri())
        page.wait_for_selector("#street-image")
        page.goto((out / "about.html").as_uri())
        assert "synthetic city" in page.locator("main").inner_text()
        browser.close()
    assert not errors, errors
    assert requests and all(url.startswith("file://") for url in requests), [u for u in requests if not u.startswith("file://")]
