"""Screenshots of app pages in headless Chromium, for the record: each URL's page, and its charts one by one.

    python -m benchmarks.page_shots --out artifacts/browser/filters "/filters?f_src=learned&f_run=24&f_layer=1"

Starts the app on the current data folder (GRAPHCONV_DATA_DIR), opens each path, waits for the page to finish
running, saves ``page-<i>.png`` and ``page-<i>-chart-<j>.png``, and prints the page's captions and tables'
first rows so the figures can be read without the images.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.browser_helpers import ROOT, chromium, start_app


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.page_shots", description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="+", help="paths with query strings, e.g. /filters?f_src=learned")
    ap.add_argument("--out", default=str(ROOT / "artifacts" / "browser" / "pages"))
    ap.add_argument("--settle-ms", type=int, default=4000, help="wait after the page stops running")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    server, url = start_app(ROOT)
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as pw:
            browser, page = chromium(pw)
            for i, path in enumerate(args.paths):
                page.goto(url + path)
                page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=300_000)
                page.wait_for_timeout(args.settle_ms)
                page.screenshot(path=str(out / f"page-{i}.png"))
                charts = page.locator('[data-testid="stPlotlyChart"]')
                for j in range(charts.count()):
                    charts.nth(j).scroll_into_view_if_needed()
                    page.wait_for_timeout(400)
                    charts.nth(j).screenshot(path=str(out / f"page-{i}-chart-{j}.png"))
                texts = [t.inner_text() for t in page.locator('[data-testid="stCaptionContainer"]').all()]
                errors = [t.inner_text() for t in page.locator('[data-testid="stAlertContentError"]').all()]
                print(json.dumps({"path": path, "charts": charts.count(), "errors": errors, "captions": texts}))
            browser.close()
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
