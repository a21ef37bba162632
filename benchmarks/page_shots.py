"""Screenshots of app pages in headless Chromium: for the record (any URLs), or the README's pictures (``--docs``).

    python -m benchmarks.page_shots --out artifacts/browser/filters "/filters?f_src=learned&f_run=24&f_layer=1"
    python -m benchmarks.page_shots --docs            # refresh docs/images/*.png (about 10 minutes on 2 cores)

With paths: starts the app on the current data folder (GRAPHCONV_DATA_DIR), opens each path, waits for the page to
finish running, saves ``page-<i>.png`` and ``page-<i>-chart-<j>.png``, and prints the page's captions and tables'
first rows so the figures can be read without the images.

``--docs``: the pictures the README and docs/ show, made from the running app as a visitor would see it. In a fresh
temporary data folder, in quick mode, with no starter set, the CLI trains what the pictured pages need (a CNN and a
ChebNet, and a C8 steerable net on rotated digits); the app then runs the ChebNet-against-CNN lesson from its
button, a 6 is drawn on the Playground's canvas with the mouse, and each page in ``DOCS_SHOTS`` is shot at a
modest viewport once its content is there. Each picture is stored as a palette PNG of at most ``MAX_BYTES``
(``tests/test_docs.py`` holds the bound); a page that shows an error, or never shows its content, stops the script
with that page named. ``--data DIR`` keeps the folder (and its runs) for a rerun.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from benchmarks.browser_helpers import ROOT, chromium, draw_six, start_app

DOCS_IMAGES = ROOT / "docs" / "images"
MAX_BYTES = 300_000  # a docs picture's bound: small enough to check in
VIEWPORT = {"width": 1280, "height": 820}  # wide enough for the sidebar and two columns, small enough to read
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
# an element to the top of the view, below Streamlit's header bar (which covers the top 60 pixels of what scrolls)
SCROLL_TO_TOP = """e => { e.scrollIntoView({block: 'start'});
  let p = e.parentElement; while (p && p.scrollTop === 0) p = p.parentElement; if (p) p.scrollTop -= 70; }"""
# what the CLI trains for the Playground and Results pictures (quick data, seed 0)
DOCS_RUNS = {
    "cheb": ["--model", "cheb", "--graph", "grid", "--neighbours", "8", "--K", "5", "--epochs", "8"],
    "cnn": ["--model", "cnn", "--epochs", "8"],
    "c8": ["--model", "escnn", "--group", "C8", "--data", "mnist-rot", "--epochs", "12"],
}


@dataclass(frozen=True)
class DocShot:
    """One picture: ``docs/images/<name>.png`` of ``path`` (``{cheb}``, ``{cnn}``, ``{c8}``, ``{lesson}`` filled
    in), taken once ``ready`` (a text of the page's content) shows and the page has stopped running."""

    name: str
    path: str
    ready: str
    scroll_to: str = ""  # a text to bring to the top of the viewport first ("" : the page's top)
    draw_six: bool = False  # draw a 6 on the page's canvas with the mouse first, as a visitor does


DOCS_SHOTS = (
    DocShot("playground", "/playground?pg_src=draw&pg_runs={cnn},{cheb},{c8}", "Every run at", draw_six=True),
    DocShot("lesson", "/lessons?lesson=cheb-cnn&ls_show={lesson}", "Reopen this lesson"),
    DocShot("graph-builder", "/graph?kind=knn", "mean weighted degree", scroll_to="Directed edges"),
    DocShot("results", "/results?run={cheb}", "Confusion matrix"),
)


def shrink_png(png: bytes, limit: int = MAX_BYTES) -> bytes:
    """A screenshot as a palette PNG (Pillow's median-cut quantiser, optimised): the app's flat colours survive 256
    entries. Fewer colours until it fits ``limit``; ``ValueError`` when even 32 do not."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    for colours in (256, 128, 64, 32):
        out = io.BytesIO()
        image.quantize(colors=colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
            out, format="PNG", optimize=True
        )
        if out.tell() <= limit:
            return out.getvalue()
    raise ValueError(f"a screenshot does not fit {limit:,} bytes even at 32 colours")


def _train(name: str, env: dict) -> int:
    """Train one of ``DOCS_RUNS`` through the CLI; its run id."""
    done = subprocess.run(
        [sys.executable, "-m", "core", "train", *DOCS_RUNS[name], "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    if summary["status"] != "finished":
        raise SystemExit(f"the {name} run ended {summary['status']}: {summary.get('error')}")
    print(f"trained {name}: run {summary['run_id']}, test accuracy {summary['test_accuracy']:.1%}", flush=True)
    return int(summary["run_id"])


def _run_lesson(page, url: str) -> str:
    """Press the ChebNet-against-CNN lesson's Run button (quick mode); once its table is settled, the launch's
    ``ls_show`` value from the page's Reopen link."""
    from urllib.parse import parse_qs, urlparse

    page.goto(url + "/lessons?lesson=cheb-cnn&ls_mode=quick")
    page.get_by_role("button", name="Run this lesson").click()
    reopen = page.get_by_role("link", name="Reopen this lesson")
    reopen.wait_for(timeout=900_000)
    return parse_qs(urlparse(reopen.get_attribute("href")).query)["ls_show"][0]


def docs_shots(data: Path | None) -> None:
    """Make every ``DOCS_SHOTS`` picture into docs/images (see the module docstring)."""
    from playwright.sync_api import sync_playwright

    folder = Path(data) if data else Path(tempfile.mkdtemp(prefix="graphconv-docs-"))
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GRAPHCONV_DATA_DIR": str(folder), "GRAPHCONV_QUICK": "1", "GRAPHCONV_STARTER": "0"}
    known = folder / "docs-runs.json"  # a kept folder's runs, so that a rerun trains nothing
    ids = json.loads(known.read_text()) if known.exists() else {}
    for name in DOCS_RUNS:
        if name not in ids:
            ids[name] = _train(name, env)
            known.write_text(json.dumps(ids))
    fill = dict(ids)
    DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
    server, url = start_app(
        ROOT, env={k: env[k] for k in ("GRAPHCONV_DATA_DIR", "GRAPHCONV_QUICK", "GRAPHCONV_STARTER")}
    )
    try:
        with sync_playwright() as pw:
            browser, page = chromium(pw)
            page.set_viewport_size(VIEWPORT)
            fill["lesson"] = _run_lesson(page, url)
            for shot in DOCS_SHOTS:
                page.goto(url + shot.path.format(**fill))
                if shot.draw_six:
                    canvas = page.locator("canvas").last
                    canvas.wait_for(state="visible")
                    draw_six(page, canvas)
                page.get_by_text(shot.ready).first.wait_for(timeout=300_000)
                page.wait_for_selector(IDLE, timeout=300_000)
                page.wait_for_timeout(2500)  # charts draw after the script ends
                errors = [
                    t.inner_text()
                    for t in page.locator('[data-testid="stAlertContentError"], [data-testid="stException"]').all()
                ]
                if errors:
                    raise SystemExit(f"{shot.path}: the page shows an error: {errors[0][:200]}")
                if shot.scroll_to:
                    page.get_by_text(shot.scroll_to).first.evaluate(SCROLL_TO_TOP)
                    page.wait_for_timeout(500)
                png = shrink_png(page.screenshot())
                (DOCS_IMAGES / f"{shot.name}.png").write_bytes(png)
                print(f"docs/images/{shot.name}.png: {len(png):,} bytes ({shot.path.format(**fill)[:80]})", flush=True)
            browser.close()
    finally:
        server.terminate()
        server.wait(10)


def record_shots(paths: list[str], out: Path, settle_ms: int) -> None:
    """Each path's page and its charts one by one into ``out``, with the page's captions and errors printed."""
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    server, url = start_app(ROOT)
    try:
        with sync_playwright() as pw:
            browser, page = chromium(pw)
            for i, path in enumerate(paths):
                page.goto(url + path)
                page.wait_for_selector(IDLE, timeout=300_000)
                page.wait_for_timeout(settle_ms)
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


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.page_shots", description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="*", help="paths with query strings, e.g. /filters?f_src=learned")
    ap.add_argument("--out", default=str(ROOT / "artifacts" / "browser" / "pages"))
    ap.add_argument("--settle-ms", type=int, default=4000, help="wait after the page stops running")
    ap.add_argument("--docs", action="store_true", help="refresh docs/images/*.png (trains its own runs)")
    ap.add_argument("--data", help="with --docs: the data folder to train in and keep (default: a new temporary one)")
    args = ap.parse_args()
    if args.docs == bool(args.paths):
        ap.error("give paths, or --docs (not both)")
    if args.docs:
        docs_shots(Path(args.data) if args.data else None)
    else:
        record_shots(args.paths, Path(args.out), args.settle_ms)


if __name__ == "__main__":
    main()
