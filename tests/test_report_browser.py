"""The run report opened in headless Chromium: no console errors, every chart drawn, the
sample's edits marked, filtering works. Set ERRATA_WRITE_SCREENSHOT=1 to refresh
docs/report.png (the README shows it)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from errata.flows.batches import generate_locally
from errata.store.report import write_report
from tests.conftest import GSM8K_TEST, REPO

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DOCS_SCREENSHOT = REPO / "docs" / "report.png"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("browser") / "shards"
    generate_locally(workers=1, source="synthetic", limit=60, shards=str(root))
    generate_locally(workers=1, source="gsm8k", path=str(GSM8K_TEST), limit=20, shards=str(root))
    return write_report(root, root.parent / "export", sample_rows=30)


def test_the_report_renders_offline_in_chromium(report: Path, tmp_path: Path) -> None:
    # CI installs Chromium; a missing one is a broken setup, not a reason to skip.
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} not found: install Debian's Chromium with `apt-get install -y chromium` "
            "(never a Playwright browser download)"
        )
    errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(report.as_uri())
            page.wait_for_load_state("load")

            images = page.locator(".charts img")
            assert images.count() == 3
            for i in range(images.count()):
                image = images.nth(i)
                assert image.is_visible()
                assert image.evaluate("img => img.complete && img.naturalWidth") > 0
                assert image.get_attribute("alt")

            first = page.locator(".mistake:visible").first
            marks = first.locator("mark")
            assert marks.count() == 2
            assert all(text for text in marks.all_inner_texts())
            assert "rows, page 1 of" in page.locator("#page-status").inner_text()
            assert page.locator(".mistake:visible").count() == 10  # one page of the 30

            page.screenshot(path=str(tmp_path / "report.png"), full_page=False)
            if os.environ.get("ERRATA_WRITE_SCREENSHOT") == "1":
                DOCS_SCREENSHOT.parent.mkdir(exist_ok=True)
                shutil.copyfile(tmp_path / "report.png", DOCS_SCREENSHOT)

            error_type = page.locator("#filter-type option").nth(1).get_attribute("value")
            page.select_option("#filter-type", error_type)
            shown = page.locator(".mistake:visible")
            assert shown.count() >= 1
            types = {shown.nth(i).get_attribute("data-error-type") for i in range(shown.count())}
            assert types == {error_type}
        finally:
            browser.close()
    assert errors == []
    assert all(url.startswith(("file:", "data:")) for url in requests), requests
