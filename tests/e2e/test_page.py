"""The web page in headless Chromium (Debian's package), against the real stack: submit the
Bell circuit, watch the state change, see the histogram; submit a sweep with observables and
see it plotted, each point's histogram beside; screenshots are saved."""

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
def test_page_submits_bell_shows_a_histogram_and_plots_a_sweep(stack: Stack) -> None:
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

            # A sweep with observables: one task, plotted, each point's histogram beside.
            expect(page.locator("#noise option")).not_to_have_count(2)  # devices were listed
            page.select_option("#example", "sweep")
            page.fill("#shots", "400")
            page.fill("#seed", "9")
            page.click("#submit")
            expect(page.locator("#state")).to_have_text("completed", timeout=60_000)
            expect(page.locator("#plot polyline.series")).to_have_count(3)
            expect(page.locator("#plot .legend")).to_contain_text("0.5*ZZ+0.5*YY")
            expect(page.locator("#point")).to_have_attribute("max", "20")
            expect(page.locator("#pointlabel")).to_contain_text('1 of 21: {"theta":0}')
            expect(page.locator("#histogram .bar")).to_have_count(1)  # theta = 0: only 00
            expect(page.locator("#values tr")).to_have_count(3)
            expect(page.locator("#values tr").first).to_contain_text("1.000000")  # <IZ> = cos 0
            page.locator("#point").fill("10")  # theta = pi: only 11
            expect(page.locator("#pointlabel")).to_contain_text("11 of 21")
            expect(page.locator("#histogram .bar span").first).to_have_text("11")
            page.screenshot(path=str(SCREENSHOTS / "page-sweep.png"), full_page=True)
        finally:
            browser.close()
