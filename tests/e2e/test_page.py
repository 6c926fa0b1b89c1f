"""The web page in headless Chromium (Debian's package), against the real stack: submit the
Bell circuit, watch the state change, see the histogram; a screenshot is saved."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.stack import Stack

CHROMIUM = shutil.which("chromium")
SCREENSHOTS = Path(__file__).parents[1] / "perf" / "out"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium package")
def test_page_submits_bell_and_shows_a_histogram(stack: Stack) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page()
            page.goto(stack.url + "/")
            page.fill("#shots", "500")
            page.click("#submit")
            expect(page.locator("#state")).to_have_text("completed", timeout=60_000)
            bars = page.locator("#histogram .bar")
            expect(bars).to_have_count(2)
            labels = sorted(bars.nth(i).locator("span").first.inner_text() for i in range(2))
            assert labels == ["00", "11"]
            counts = [int(bars.nth(i).locator(".n").inner_text()) for i in range(2)]
            assert sum(counts) == 500
            expect(page.locator("#recent tr").first).to_contain_text("completed")

            page.fill("#qc", "OPENQASM 3.0;\nqubit q;\nfoo q;\n")
            page.click("#submit")
            expect(page.locator("#problem")).to_contain_text("line 3, column 1")

            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "page.png"), full_page=True)
        finally:
            browser.close()
