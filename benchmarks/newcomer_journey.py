"""A newcomer's journey through the app in headless Chromium, with a screenshot at every step.

    python -m benchmarks.newcomer_journey --out artifacts/browser/newcomer

Starts the app on a fresh, empty data folder (a temp dir as GRAPHCONV_DATA_DIR) in quick mode (GRAPHCONV_QUICK=1)
and walks what a newcomer would do:

1. the Start page and the Playground of an empty server;
2. from the Start page, "A CNN (the baseline)", Start, a screenshot ~2 s after Start and one when finished;
   then a ChebNet (/train?model=cheb) and a C8 steerable net on rotated digits, each to its end;
3. the finished ChebNet's Train page, and each of its "Open this run on:" links (Equivariance measures on opening;
   an older version's Measure button is pressed);
4. a "6" drawn on the Playground at desktop size;
5. the Playground link (with the drawing, pg_ink) opened on a 390x844 phone, before and after a stroke.

Prints one JSON line per step (what it did, timings, the page's errors and notices, the screenshot's path) and
keeps going when a step fails (the failure is printed and saved as ``<step>-FAILED.png``). The server's log is
``<out>/server.log``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import tempfile
import time
import traceback
from pathlib import Path

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

from benchmarks.browser_helpers import ROOT, chromium, draw_six, screenshot, start_app

IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
MAIN = '[data-testid="stMain"]'
PHONE = {"width": 390, "height": 844}
# Seen from inside the page (every 50 ms and on every DOM change), in seconds after Start was pressed: when a new
# chart first showed, when it first had a drawn trace (before that: empty axes), and each distinct progress text.
WATCH_JS = """(before) => {
  const t0 = performance.now(), seen = window.__gclSeen = {chart: null, chart_with_trace: null, progress: []};
  const main = document.querySelector('[data-testid="stMain"]');
  const look = () => {
    const s = +((performance.now() - t0) / 1000).toFixed(2);
    const charts = main.querySelectorAll('[data-testid="stPlotlyChart"]');
    if (seen.chart === null && charts.length > before) seen.chart = s;
    if (seen.chart_with_trace === null && charts.length > before
        && charts[charts.length - 1].querySelector('.scatterlayer .trace')) seen.chart_with_trace = s;
    const p = document.querySelector('[data-testid="stProgress"]');
    const text = p ? p.innerText.trim().replace(/\\s+/g, ' ') : null;
    const last = seen.progress.length ? seen.progress[seen.progress.length - 1][1] : undefined;
    if (text && text !== last && seen.progress.length < 40) seen.progress.push([s, text]);
    if (s > 900) { clearInterval(timer); observer.disconnect(); }
  };
  const timer = setInterval(look, 50);
  const observer = new MutationObserver(look);
  observer.observe(main, {childList: true, subtree: true, characterData: true});
}"""


class Journey:
    def __init__(self, out: Path, url: str, settle_ms: int):
        self.out, self.url, self.settle_ms = out, url, settle_ms
        self.shots: list[str] = []
        self.failures: list[str] = []
        self.runs: dict[str, int | None] = {}

    # -- helpers ---------------------------------------------------------------------------------------------
    def say(self, **fields) -> None:
        print(json.dumps(fields, default=str), flush=True)

    def idle(self, pg, timeout_ms: int = 300_000, settle_ms: int | None = None) -> None:
        pg.wait_for_timeout(400)
        pg.wait_for_selector(IDLE, timeout=timeout_ms)
        pg.wait_for_timeout(self.settle_ms if settle_ms is None else settle_ms)

    def notes(self, pg) -> dict:
        """What a reader would look for besides the picture: errors, warnings, tracebacks, raw 'None' cells."""

        def texts(sel):
            return [t.inner_text().strip()[:300] for t in pg.locator(sel).all()]

        body = pg.locator(MAIN).first.inner_text() if pg.locator(MAIN).count() else ""
        return {
            "errors": texts('[data-testid="stAlertContentError"]'),
            "warnings": texts('[data-testid="stAlertContentWarning"]'),
            "infos": texts('[data-testid="stAlertContentInfo"]'),
            "exceptions": texts('[data-testid="stException"]'),
            "charts": pg.locator('[data-testid="stPlotlyChart"]').count(),
            "page_not_found": "Page not found" in body,
            "None_in_text": len(re.findall(r"\bNone\b", body)),
            "nan_in_text": len(re.findall(r"\bnan\b", body)),
        }

    def shot(self, pg, name: str, full_page: bool = True, **extra) -> str:
        """A screenshot; ``full_page``: the viewport grown to the page's whole height for it, then put back."""
        path = self.out / f"{name}.png"
        if not extra.pop("hover", False):
            pg.mouse.move(1, 1)  # no hover state (Plotly's toolbar, tooltips) left where the last click was
            pg.wait_for_timeout(200)
        screenshot(pg, path, full_page)
        self.shots.append(str(path))
        self.say(shot=str(path), url=pg.url.replace(self.url, ""), full_page=full_page, **self.notes(pg), **extra)
        return str(path)

    def step(self, name: str, fn, *args) -> None:
        t0 = time.perf_counter()
        try:
            fn(*args)
            self.say(step=name, ok=True, seconds=round(time.perf_counter() - t0, 1))
        except Exception as exc:  # noqa: BLE001 - whatever a step trips on is its failure: the journey goes on
            self.failures.append(f"{name}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
            self.say(
                step=name,
                ok=False,
                seconds=round(time.perf_counter() - t0, 1),
                error=self.failures[-1],
                trace=traceback.format_exc(limit=3),
            )
            for pg in args:
                if hasattr(pg, "screenshot"):
                    # best effort inside a failed step, whatever it was: the page may be gone with the step
                    with contextlib.suppress(Exception):
                        pg.screenshot(path=str(self.out / f"{name}-FAILED.png"), full_page=True)
                    break

    def wait_text(self, pg, text: str, timeout_ms: int = 120_000) -> None:
        """Wait until ``text`` shows; fail at once (with the traceback's last line) when the page shows an exception."""
        crash = pg.locator('[data-testid="stException"]')
        pg.get_by_text(text).first.or_(crash.first).wait_for(timeout=timeout_ms)
        if crash.count() and not pg.get_by_text(text).count():
            raise RuntimeError(
                f"the page shows an exception instead of {text!r}: "
                + crash.first.inner_text().strip().splitlines()[0][:300]
            )

    def link(self, pg, label: str):
        return pg.locator(f'{MAIN} a[data-testid="stPageLink-NavLink"]', has_text=label).first

    # -- 1. the empty server ---------------------------------------------------------------------------------
    def empty_server(self, pg) -> None:
        pg.goto(self.url + "/")
        self.wait_text(pg, "Three steps")
        self.idle(pg)
        links = [a.inner_text().strip() for a in pg.locator(f'{MAIN} a[data-testid="stPageLink-NavLink"]').all()]
        self.shot(pg, "01-start-empty", links=links)
        pg.goto(self.url + "/playground")
        self.idle(pg)
        train_links = [
            a.inner_text().strip()
            for a in pg.locator(f"{MAIN} a").all()
            if "train" in (a.get_attribute("href") or "").lower()
        ]
        self.shot(pg, "02-playground-empty", links_to_train=train_links)

    # -- 2. training -----------------------------------------------------------------------------------------
    def train(self, pg, name: str, open_how, timeout_s: float) -> None:
        """Open the Train page (``open_how(pg)``), press Start, watch it to the end; screenshots at ~2 s and done."""
        open_how(pg)
        self.wait_text(pg, "What Start trains")
        start = pg.get_by_role("button", name="Start").first
        start.wait_for()
        self.idle(pg, settle_ms=1000)
        charts_before = pg.locator(f'{MAIN} [data-testid="stPlotlyChart"]').count()
        pg.evaluate(WATCH_JS, charts_before)  # the page itself notes when the chart and each progress text show
        start.click()
        t0 = time.perf_counter()
        first_chart = first_progress = None
        progress_texts: list[tuple[float, str]] = []
        shot_2s = False
        while True:
            now = time.perf_counter() - t0
            charts = pg.locator(f'{MAIN} [data-testid="stPlotlyChart"]').count()
            if first_chart is None and charts > charts_before:
                first_chart = now
            prog = pg.locator('[data-testid="stProgress"]')
            if prog.count():
                try:
                    text = prog.first.inner_text(timeout=1000).strip().replace("\n", " ")
                except PlaywrightError:  # the bar went away between count() and inner_text()
                    text = ""
                if first_progress is None:
                    first_progress = now
                if text and (not progress_texts or progress_texts[-1][1] != text):
                    progress_texts.append((round(now, 2), text))
            if not shot_2s and now >= 2.0:
                shot_2s = True
                self.shot(
                    pg,
                    f"{name}-at-2s",
                    full_page=False,
                    seconds_after_start=round(now, 2),
                    chart_shown=charts > charts_before,
                    progress=progress_texts[-1][1] if progress_texts else None,
                )
            if pg.get_by_text("Finished: test accuracy").count():
                break
            failed = pg.get_by_text(re.compile(r"^Run (failed|interrupted)")).count()
            if failed or now > timeout_s:
                raise RuntimeError(f"{name}: {'failed' if failed else f'not finished after {timeout_s:.0f} s'}")
            pg.wait_for_timeout(150)
        finished = time.perf_counter() - t0
        m = re.search(r"[?&]run=(\d+)", pg.url)
        run_id = int(m.group(1)) if m else None
        self.runs[name] = run_id
        self.idle(pg)
        seen = pg.evaluate("() => window.__gclSeen")
        self.say(
            run=name,
            run_id=run_id,
            in_page=seen,
            seconds_to_first_chart=first_chart and round(first_chart, 2),
            seconds_to_progress_bar=first_progress and round(first_progress, 2),
            seconds_to_finished=round(finished, 1),
            progress_texts=progress_texts[:6] + progress_texts[-2:],
            finished_text=pg.get_by_text("Finished: test accuracy").first.inner_text(),
        )
        self.shot(pg, f"{name}-finished", stop_disabled=self.stop_disabled(pg))
        pg.wait_for_timeout(10_000)  # does the rest of the page (runs table, Stop) catch up with the finished run?
        self.shot(pg, f"{name}-finished-10s-later", stop_disabled=self.stop_disabled(pg))

    def stop_disabled(self, pg):
        stop = pg.get_by_role("button", name="Stop").first
        return stop.is_disabled() if stop.count() else None

    def train_cnn_from_start(self, pg) -> None:
        def how(p):
            p.goto(self.url + "/")
            self.idle(p, settle_ms=500)
            self.link(p, "A CNN (the baseline)").click()
            p.wait_for_url(re.compile(r"/train"))

        self.train(pg, "03-cnn", how, 300)

    def train_cheb(self, pg) -> None:
        self.train(pg, "04-cheb", lambda p: p.goto(self.url + "/train?model=cheb"), 300)

    def train_c8(self, pg) -> None:
        self.train(pg, "05-c8", lambda p: p.goto(self.url + "/train?model=escnn&group=C8&data=mnist-rot"), 480)

    # -- 3. the finished ChebNet on every insight page --------------------------------------------------------
    def insight_pages(self, pg) -> None:
        run_id = self.runs.get("04-cheb")
        if run_id is None:
            raise RuntimeError("no finished ChebNet run to open")
        train_url = f"{self.url}/train?run={run_id}"
        pg.goto(train_url)
        pg.get_by_text("Open this run on:").first.wait_for()
        self.idle(pg)
        box = pg.locator('[data-testid="stCaptionContainer"]', has_text="Open this run on:").first
        box.scroll_into_view_if_needed()
        labels = [a.inner_text().strip() for a in pg.locator(f'{MAIN} a[data-testid="stPageLink-NavLink"]').all()]
        self.shot(pg, "06-cheb-train-page", open_links=labels)
        wanted = ["Results", "Playground", "Filters", "Spectral view", "Equivariance"]
        for i, label in enumerate(wanted):
            pg.goto(train_url)
            pg.get_by_text("Open this run on:").first.wait_for()
            self.idle(pg, settle_ms=500)
            exact = pg.locator(f'{MAIN} a[data-testid="stPageLink-NavLink"]').filter(  # text is "<icon name><label>"
                has_text=re.compile(rf"{re.escape(label)}\s*$")
            )
            try:  # the row of links may still be drawing
                exact.first.wait_for(timeout=30_000)
            except PlaywrightError:  # a timeout: no such link
                self.say(step=f"open on {label}", ok=False, error="no such link after 'Open this run on:'")
                continue
            href = exact.first.get_attribute("href")
            t0 = time.perf_counter()
            exact.first.click()
            pg.wait_for_timeout(500)
            pg.wait_for_selector(IDLE, timeout=300_000)
            ready = time.perf_counter() - t0
            pg.wait_for_timeout(3000)
            slug = label.lower().replace(" ", "-")
            self.shot(pg, f"07-{i}-cheb-on-{slug}", href=href, seconds_to_idle=round(ready, 1))
            if label == "Equivariance":
                measure = pg.get_by_role("button", name=re.compile(r"^Measure"))
                if measure.count():
                    t0 = time.perf_counter()
                    measure.first.click()
                    pg.wait_for_timeout(1000)
                    pg.wait_for_selector(IDLE, timeout=300_000)
                    self.say(step="Measure pressed", seconds_to_idle=round(time.perf_counter() - t0, 1))
                    pg.wait_for_timeout(3000)
                    self.shot(pg, f"07-{i}-cheb-on-{slug}-measured")
                else:  # the page measures what it shows as it opens (issue 30): its chart, not a button
                    shown = pg.get_by_text("Accuracy of rotated digits").count() > 0
                    self.say(
                        step="measured on opening",
                        ok=shown,
                        **({} if shown else {"error": "no 'Accuracy of rotated digits' chart on Equivariance"}),
                    )

    # -- 4. drawing a digit, desktop ---------------------------------------------------------------------------
    def draw_six(self, pg) -> None:
        pg.goto(self.url + "/playground")
        self.idle(pg, settle_ms=500)
        canvas = pg.locator("canvas").last
        canvas.wait_for(state="visible")
        canvas.scroll_into_view_if_needed()
        draw_six(pg, canvas)
        t0 = time.perf_counter()
        pg.get_by_text("answered in").first.wait_for()
        answered = time.perf_counter() - t0
        try:
            pg.get_by_text("Every run at").first.wait_for(timeout=60_000)
            sweep = time.perf_counter() - t0
        except PlaywrightError:  # a timeout: no sweep line within a minute
            sweep = None
        self.idle(pg, settle_ms=2500)
        body = pg.locator(MAIN).first.inner_text()
        answer = pg.get_by_text("answered in").first.inner_text()
        self.say(
            step="draw a 6",
            seconds_to_answer=round(answered, 2),
            seconds_to_every_angle_plot=sweep and round(sweep, 2),
            answer=answer,
            mentions_6_and_9=bool(re.search(r"6 from a 9|6 or 9|6 and 9", body)),
            six_nine_lines=[ln for ln in body.splitlines() if re.search(r"\b6\b.*\b9\b", ln)][:3],
            has_pg_ink="pg_ink=" in pg.url,
        )
        self.shot(pg, "08-playground-desktop-drawn-6")
        self.shot(pg, "08-playground-desktop-drawn-6-first-screen", full_page=False)

    # -- 5. phone ----------------------------------------------------------------------------------------------
    def phone(self, desktop, browser) -> None:
        desktop.wait_for_function("() => new URLSearchParams(location.search).has('pg_ink')", timeout=30_000)
        link = desktop.url
        ctx = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
        try:
            pg = ctx.new_page()
            pg.set_default_timeout(300_000)
            pg.goto(link)
            pg.get_by_text("answered in").first.wait_for()
            self.idle(pg, settle_ms=3000)
            self.shot(
                pg,
                "09-phone-link-first-screen",
                full_page=False,
                link=link.replace(self.url, ""),
                **self.answer_in_view(pg),
            )
            self.shot(pg, "09-phone-link-full-page")
            charts = pg.locator('[data-testid="stPlotlyChart"]')
            for j in range(charts.count()):
                charts.nth(j).scroll_into_view_if_needed()
                pg.wait_for_timeout(500)
                path = self.out / f"09-phone-chart-{j}.png"
                charts.nth(j).screenshot(path=str(path))
                self.shots.append(str(path))
                self.say(shot=str(path), chart=j)
            pg.evaluate("() => window.scrollTo(0, 0)")
            canvas = pg.locator("canvas").last
            canvas.scroll_into_view_if_needed()
            box = canvas.bounding_box()
            before = pg.get_by_text("answered in").first.inner_text()
            x = box["x"] + box["width"] * 0.5
            pg.mouse.move(x, box["y"] + box["height"] * 0.15)
            pg.mouse.down()
            pg.mouse.move(x, box["y"] + box["height"] * 0.85, steps=12)
            t0 = time.perf_counter()
            pg.mouse.up()
            pg.wait_for_function(
                "([t]) => [...document.querySelectorAll('p')].some(p => p.innerText.includes('answered in') "
                "&& p.innerText !== t)",
                arg=[before],
                timeout=60_000,
            )
            answered = time.perf_counter() - t0
            pg.wait_for_timeout(1500)
            self.shot(
                pg,
                "10-phone-after-stroke-first-screen",
                full_page=False,
                seconds_to_answer=round(answered, 2),
                scroll_y=pg.evaluate("() => window.scrollY"),
                **self.answer_in_view(pg),
            )
            self.idle(pg, settle_ms=2000)
            self.shot(pg, "10-phone-after-stroke-full-page")
        finally:
            ctx.close()

    def answer_in_view(self, pg) -> dict:
        line = pg.get_by_text("answered in").first
        if not line.count():
            return {"answer_line": None}
        b = line.bounding_box()
        vh = pg.viewport_size["height"]
        return {
            "answer_line": line.inner_text()[:160],
            "answer_line_box": b,
            "answer_in_view": bool(b and b["y"] >= 0 and b["y"] + b["height"] <= vh),
        }


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.newcomer_journey", description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "artifacts" / "browser" / "newcomer"))
    ap.add_argument("--settle-ms", type=int, default=3000, help="wait after a page stops running, before a shot")
    ap.add_argument("--data-dir", default=None, help="data folder (default: a fresh temp dir)")
    ap.add_argument("--root", default=str(ROOT), help="the checkout whose app.py is served (default: this one)")
    ap.add_argument(
        "--snapshot",
        action="store_true",
        help="serve a frozen copy of --root's working tree (tracked and untracked, not ignored files, "
        "copied into a temp dir): edits made in the checkout during the journey do not reach it",
    )
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = Path(args.data_dir or tempfile.mkdtemp(prefix="graphconv-newcomer-"))
    if args.snapshot:
        import shutil
        import subprocess

        copy = Path(tempfile.mkdtemp(prefix="graphconv-tree-"))
        names = (
            subprocess.run(
                ["git", "-C", args.root, "ls-files", "-z", "-co", "--exclude-standard"], capture_output=True, check=True
            )
            .stdout.decode()
            .split("\0")
        )
        n = 0
        for name in filter(None, names):
            src = Path(args.root) / name
            if src.is_file():  # a tracked file deleted in the checkout is left out
                (copy / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, copy / name)
                n += 1
        head = subprocess.run(
            ["git", "-C", args.root, "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        print(
            json.dumps({"snapshot_of": f"{args.root} (HEAD {head} + edits)", "files": n, "served_from": str(copy)}),
            flush=True,
        )
        args.root = str(copy)
    with open(out / "server.log", "w") as log:
        t0 = time.perf_counter()
        server, url = start_app(
            args.root, env={"GRAPHCONV_DATA_DIR": str(data), "GRAPHCONV_QUICK": "1"}, log=log, timeout=120
        )
        print(
            json.dumps(
                {
                    "server": url,
                    "root": args.root,
                    "data_dir": str(data),
                    "seconds_to_healthy": round(time.perf_counter() - t0, 1),
                }
            ),
            flush=True,
        )
        j = Journey(out, url, args.settle_ms)
        try:
            with sync_playwright() as pw:
                browser, page = chromium(pw)
                j.step("1-empty-server", j.empty_server, page)
                j.step("2a-train-cnn", j.train_cnn_from_start, page)
                j.step("2b-train-cheb", j.train_cheb, page)
                j.step("2c-train-c8", j.train_c8, page)
                j.step("3-insight-pages", j.insight_pages, page)
                j.step("4-draw-six", j.draw_six, page)
                j.step("5-phone", j.phone, page, browser)
                browser.close()
        finally:
            server.terminate()
            server.wait(10)
    print(
        json.dumps(
            {
                "runs": j.runs,
                "failures": j.failures,
                "screenshots": j.shots,
                "total_seconds": round(time.perf_counter() - t0, 1),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
