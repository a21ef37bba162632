"""A teacher's and a student's journey through the teaching features in headless Chromium, a screenshot at each step.

    python -m benchmarks.teaching_journey --out artifacts/browser/teaching

Starts the app on a fresh, empty data folder (a temp dir as GRAPHCONV_DATA_DIR) in quick mode (GRAPHCONV_QUICK=1)
with the starter set off (GRAPHCONV_STARTER=0: it would take training slots; the first visit is measured by
``benchmarks/first_visit.py``), then:

1. Lessons: /lessons?lesson=cheb-cnn, quick mode, "Run this lesson", waits for both runs; records the table (the
   ChebNet's and the CNN's accuracy), the epoch-time line, the why-they-differ caption and the explanation links;
   follows "Reopen this lesson" in a fresh browser context and compares its table;
2. Continue/Step: a 1-epoch mlp on /train, then "Step (1 epoch)": the new run says "Continued from run N" and
   finishes at epoch 2;
3. One node: /node for the lesson's ChebNet run, a click on a cell of the feature map, the "network's own
   activation ... difference" line and nd_row/nd_col in the address;
4. Classroom: /train?model=cheb&lr=0.01&hide=model,lr ("Fixed by this link"), the Classroom link builder (one more
   control ticked, "Copy classroom link"), that link in a fresh context; /lessons?lesson=cheb-cnn&hide=lesson;
5. a 390x844 phone: the Lessons page and the One node page.

Every step's events carry seconds since that step started. Writes ``<out>/result.json`` (what each step saw, its
timings, failures, screenshots) and numbered screenshots; a failed step is recorded and the journey goes on (its
page is saved as ``<step>-FAILED.png``). The server's log is ``<out>/server.log``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

from benchmarks.browser_helpers import ROOT, chromium, screenshot, start_app
from benchmarks.newcomer_journey import IDLE, MAIN, PHONE
from benchmarks.teaching_class import SIZES, ClassSteps, server_log

RUN_LESSON = re.compile(r"Run this lesson|Run your own copy")  # the launch button, before and after issue 30
LESSON = "cheb-cnn"  # core/analysis/lessons.py: "ChebNet against the CNN on the 8-neighbour grid"
DESKTOP = {"width": 1400, "height": 1000}
SIDEBAR = '[data-testid="stSidebar"]'

# The rows of every st.dataframe on the page as text (glide-data-grid keeps an accessible table in the DOM).
GRID_JS = """() => [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stDataFrame"]')].map(df => {
  const rows = [...df.querySelectorAll('[role="row"], tr')];
  return rows.map(r => [...r.querySelectorAll('[role="gridcell"], [role="columnheader"], td, th')]
                        .map(c => (c.innerText || c.textContent || '').trim()));
})"""

# Page coordinates of cell (row, col) of the i-th Plotly chart in the main area (the node map's axes: x = column,
# y = row), and the map's side.
CELL_JS = """([i, row, col]) => {
  const gd = document.querySelectorAll('[data-testid="stMain"] [data-testid="stPlotlyChart"] .js-plotly-plot')[i];
  if (!gd || !gd._fullLayout) return null;
  const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, box = gd.getBoundingClientRect();
  const t = gd._fullData && gd._fullData[0];
  const n = t ? (t._length || (t.customdata || []).length || 0) : 0;
  return {x: box.left + xa._offset + xa.l2p(col), y: box.top + ya._offset + ya.l2p(row),
          side: Math.round(Math.sqrt(n))};
}"""


class Journey(ClassSteps):
    def __init__(self, out: Path, url: str, settle_ms: int, lesson_timeout_s: float):
        self.out, self.url, self.settle_ms, self.lesson_timeout_s = out, url, settle_ms, lesson_timeout_s
        self.raw_hits: list[dict] = []
        self.cheb_run: int | None = None  # the lesson's ChebNet (step 1)
        self.c8_run: int | None = None  # the C8 net of step 30.3
        self.n = 0
        self.shots: list[dict] = []
        self.failures: list[str] = []
        self.steps: dict[str, dict] = {}
        self.t0 = 0.0  # this step's start
        self.cur: dict = {}

    # -- helpers ---------------------------------------------------------------------------------------------
    def now(self) -> float:
        return round(time.perf_counter() - self.t0, 2)

    def note(self, **fields) -> None:
        """Record what this step saw (with seconds since the step started for events)."""
        self.cur.update(fields)
        print(json.dumps({"t": self.now(), **fields}, default=str), flush=True)

    def idle(self, pg, timeout_ms: int = 300_000, settle_ms: int | None = None) -> None:
        pg.wait_for_timeout(400)
        pg.wait_for_selector(IDLE, timeout=timeout_ms)
        pg.wait_for_timeout(self.settle_ms if settle_ms is None else settle_ms)

    def texts(self, pg, sel: str) -> list[str]:
        return [t.inner_text().strip()[:400] for t in pg.locator(sel).all()]

    def page_notes(self, pg) -> dict:
        body = pg.locator(MAIN).first.inner_text() if pg.locator(MAIN).count() else ""
        return {
            "errors": self.texts(pg, '[data-testid="stAlertContentError"]'),
            "warnings": self.texts(pg, '[data-testid="stAlertContentWarning"]'),
            "exceptions": self.texts(pg, '[data-testid="stException"]'),
            "page_not_found": "Page not found" in body,
            "None_in_text": len(re.findall(r"\bNone\b", body)),
            "nan_in_text": len(re.findall(r"\bnan\b", body)),
        }

    def shot(self, pg, name: str, full_page: bool = True, **extra) -> str:
        """A numbered screenshot; ``full_page``: the viewport grown to the page's whole height, then put back."""
        self.n += 1
        path = self.out / f"{self.n:02d}-{name}.png"
        pg.mouse.move(1, 1)
        pg.wait_for_timeout(200)
        screenshot(pg, path, full_page)
        entry = {
            "shot": str(path),
            "t": self.now(),
            "url": pg.url.replace(self.url, ""),
            **self.page_notes(pg),
            **extra,
        }
        self.shots.append(entry)
        print(json.dumps(entry, default=str), flush=True)
        return str(path)

    def in_context(self, name: str, browser, size: str, fn, *args) -> None:
        """``step(name, fn, page, *args)`` on a page of a fresh browser context of ``size`` (desktop or phone)."""
        ctx = browser.new_context(**SIZES[size])
        ctx.grant_permissions(["clipboard-read", "clipboard-write"])
        pg = ctx.new_page()
        pg.set_default_timeout(300_000)
        try:
            self.step(name, fn, pg, *args)
        finally:
            ctx.close()

    def step(self, name: str, fn, *args) -> None:
        self.t0 = time.perf_counter()
        self.cur = self.steps.setdefault(name, {})
        try:
            fn(*args)
            self.cur.update(ok=True, seconds=self.now())
        except Exception as exc:  # noqa: BLE001 - whatever a step trips on is its failure: the journey goes on
            msg = f"{name}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            self.failures.append(msg)
            self.cur.update(ok=False, seconds=self.now(), error=msg, trace=traceback.format_exc(limit=4))
            for pg in args:
                if hasattr(pg, "screenshot"):
                    # best effort inside a failed step, whatever it was: the page may be gone with the step
                    with contextlib.suppress(Exception):
                        pg.screenshot(path=str(self.out / f"{name}-FAILED.png"), full_page=True)
                    break
        print(
            json.dumps(
                {
                    "step": name,
                    "ok": self.cur.get("ok"),
                    "seconds": self.cur.get("seconds"),
                    "error": self.cur.get("error"),
                }
            ),
            flush=True,
        )

    def wait_text(self, pg, text, timeout_ms: int = 120_000) -> None:
        # the main area's text only: the sidebar's folded Classroom link builder names controls too ("Run this lesson
        # and Run your own copy"), hidden, and a hidden first match would never become visible
        crash, main = pg.locator('[data-testid="stException"]'), pg.locator(MAIN)
        main.get_by_text(text).first.or_(crash.first).wait_for(timeout=timeout_ms)
        if crash.count() and not main.get_by_text(text).count():
            raise RuntimeError(
                f"the page shows an exception instead of {text!r}: "
                + crash.first.inner_text().strip().splitlines()[0][:300]
            )

    def main_links(self, pg) -> list[dict]:
        return [
            {"text": a.inner_text().strip(), "href": (a.get_attribute("href") or "").replace(self.url, "")}
            for a in pg.locator(f'{MAIN} a[data-testid="stPageLink-NavLink"]').all()
        ]

    def grid(self, pg) -> list[list[list[str]]]:
        return pg.evaluate(GRID_JS)

    def fresh(self, browser, viewport=DESKTOP, **kw):
        ctx = browser.new_context(viewport=viewport, **kw)
        pg = ctx.new_page()
        pg.set_default_timeout(300_000)
        return ctx, pg

    # -- 1. a lesson -------------------------------------------------------------------------------------------
    def lesson(self, pg, browser) -> None:
        pg.goto(f"{self.url}/lessons?lesson={LESSON}&ls_mode=quick")
        self.wait_text(pg, RUN_LESSON)
        self.idle(pg, settle_ms=1000)
        self.note(
            opened=self.now(), planned_caption=pg.get_by_text(re.compile(r"mode trains \d+ run")).first.inner_text()
        )
        self.shot(pg, "lesson-before-run")
        pg.get_by_role("button", name=RUN_LESSON).first.click()
        pressed = self.now()
        statuses: list[tuple[float, str]] = []
        reopen = pg.locator(f'{MAIN} a[data-testid="stPageLink-NavLink"]', has_text="Reopen this lesson")
        shot_running = False
        while not reopen.count():
            t = self.now()
            if t - pressed > self.lesson_timeout_s:
                raise RuntimeError(f"the lesson did not finish within {self.lesson_timeout_s:.0f} s")
            try:
                tables = self.grid(pg)
                status = " | ".join(",".join(c for c in r[1:4]) for r in (tables[0][1:] if tables else []))
            except PlaywrightError:  # the page reran while its tables were read: no status this second
                status = ""
            if status and (not statuses or statuses[-1][1] != status):
                statuses.append((t, status))
            if not shot_running and "running" in status:
                shot_running = True
                self.shot(pg, "lesson-running", full_page=False)
            if pg.locator('[data-testid="stException"]').count():
                raise RuntimeError(
                    "exception on the Lessons page: "
                    + pg.locator('[data-testid="stException"]').first.inner_text()[:300]
                )
            pg.wait_for_timeout(1000)
        finished = self.now()
        self.idle(pg)
        body = pg.locator(MAIN).first.inner_text()
        table = self.grid(pg)
        epoch_line = next((ln for ln in body.splitlines() if "ChebNet epoch =" in ln), None)
        acc_line = next((ln for ln in body.splitlines() if "against the CNN's" in ln), None)
        why = pg.locator('[data-testid="stCaptionContainer"]', has_text="Why they differ").first
        links = self.main_links(pg)
        m = re.search(r"ChebNet ([\d.]+)% against the CNN's ([\d.]+)%", acc_line or "")
        rows = table[0] if table else []
        by_row = {r[0]: r for r in rows[1:] if r}
        self.note(
            pressed=pressed,
            finished=finished,
            status_changes=statuses[:30],
            table=rows,
            cheb_accuracy=m and float(m.group(1)),
            cnn_accuracy=m and float(m.group(2)),
            accuracy_line=acc_line,
            epoch_time_line=epoch_line,
            why_caption=why.inner_text() if why.count() else None,
            explanation_links=[a for a in links if "Reopen" not in a["text"]],
            reopen_link=next((a["href"] for a in links if "Reopen" in a["text"]), None),
            lesson_url=pg.url.replace(self.url, ""),
        )
        self.shot(pg, "lesson-finished")
        spectral = next((a["href"] for a in links if "s_run=" in a["href"]), "")
        cheb = re.search(r"s_run=(\d+)", spectral)
        self.cheb_run = int(cheb.group(1)) if cheb else None
        self.note(cheb_run=self.cheb_run, table_rows_seen=list(by_row))

        # the link a teacher keeps, opened by a student: a fresh context
        href = reopen.first.get_attribute("href")
        link = href if href.startswith("http") else self.url + "/" + href.lstrip("/")
        ctx, p2 = self.fresh(browser)
        try:
            t = self.now()
            p2.goto(link)
            self.wait_text(p2, "This lesson's numbers")
            p2.locator(f'{MAIN} [data-testid="stDataFrame"]').first.wait_for()
            self.idle(p2)
            again = self.grid(p2)
            rows2 = again[0] if again else []
            self.note(
                reopen={
                    "opened_at": t,
                    "seconds_to_table": round(self.now() - t, 2),
                    "link": link,
                    "same_table": rows2 == rows,
                    "table": rows2,
                    "run_button": p2.get_by_role("button", name=re.compile("Run this lesson")).count(),
                    "own_copy": p2.get_by_role("button", name=re.compile("own copy")).count(),
                    "url": p2.url.replace(self.url, ""),
                }
            )
            self.shot(p2, "lesson-reopened-fresh-context")
        finally:
            ctx.close()

    # -- 2. continue / step --------------------------------------------------------------------------------------
    def run_id(self, pg) -> int | None:
        m = re.search(r"[?&]run=(\d+)", pg.url)
        return int(m.group(1)) if m else None

    def wait_finished(self, pg, timeout_s: float = 300) -> str:
        t = time.perf_counter()
        fin = pg.get_by_text("Finished: test accuracy")
        while not fin.count():
            if pg.get_by_text(re.compile(r"^Run (failed|interrupted)")).count():
                raise RuntimeError(pg.get_by_text(re.compile(r"^Run (failed|interrupted)")).first.inner_text())
            if time.perf_counter() - t > timeout_s:
                raise RuntimeError(f"not finished after {timeout_s:.0f} s")
            pg.wait_for_timeout(250)
        return fin.first.inner_text()

    def step_run(self, pg) -> None:
        pg.goto(f"{self.url}/train?model=mlp&epochs=1")
        self.wait_text(pg, "What Start trains")
        self.idle(pg, settle_ms=1000)
        pg.get_by_role("button", name="Start").first.click()
        started = self.now()
        pg.wait_for_function("() => /[?&]run=\\d+/.test(location.search)", timeout=60_000)
        first = self.run_id(pg)
        text1 = self.wait_finished(pg)
        fin1 = self.now()
        self.idle(pg)
        step_btn = pg.get_by_role("button", name=re.compile(r"Step \(1 epoch\)")).first
        step_btn.wait_for()
        self.note(
            first_run=first,
            started=started,
            first_finished=fin1,
            first_finished_text=text1,
            first_accuracy=_pct(text1),
            step_enabled=step_btn.is_enabled(),
            continue_label=pg.get_by_role("button", name=re.compile(r"^Continue \d+ more")).first.inner_text(),
        )
        self.shot(pg, "train-mlp-1-epoch-finished")
        step_btn.click()
        pressed = self.now()
        pg.wait_for_function(
            "([r]) => { const m = location.search.match(/[?&]run=(\\d+)/); return m && +m[1] !== r; }",
            arg=[first],
            timeout=60_000,
        )
        second = self.run_id(pg)
        opened = self.now()
        cont = pg.get_by_text(re.compile(r"Continued from run \d+")).first
        cont.wait_for(timeout=60_000)
        text2 = self.wait_finished(pg)
        fin2 = self.now()
        self.idle(pg)
        caption = pg.get_by_text(re.compile(r"Continued from run \d+")).first.inner_text()
        metric = pg.locator('[data-testid="stMetric"]').first
        parent = re.search(r"Continued from run (\d+)", caption)
        self.note(
            second_run=second,
            step_pressed=pressed,
            second_run_opened=opened,
            second_finished=fin2,
            continued_caption=caption,
            continued_from=parent and int(parent.group(1)),
            continued_from_first=bool(parent and int(parent.group(1)) == first),
            ends_at_epoch_2=bool(re.search(r"\bepoch 2\b|epochs? 2\b|–2\b", caption)),
            second_finished_text=text2,
            second_accuracy=_pct(text2),
            metric=metric.inner_text().replace("\n", " ") if metric.count() else None,
            subheader=pg.locator(f"{MAIN} h3").first.inner_text(),
        )
        self.shot(pg, "train-mlp-stepped-run")

    # -- 3. one node ---------------------------------------------------------------------------------------------
    def one_node(self, pg) -> None:
        run = getattr(self, "cheb_run", None)
        pg.goto(f"{self.url}/node" + (f"?nd_run={run}" if run else ""))
        self.wait_text(pg, "The network's own activation", timeout_ms=180_000)
        self.idle(pg)
        before = pg.get_by_text("The network's own activation").first.inner_text()
        heading = pg.locator(f"{MAIN} h3", has_text="Node ").first.inner_text()
        self.note(run=run, opened=self.now(), default_heading=heading, default_line=before)
        self.shot(pg, "node-default-cell")
        info = pg.evaluate(CELL_JS, [0, 0, 0])
        if not info:
            raise RuntimeError("no Plotly node map found")
        side = info["side"]
        row, col = side // 2 - 4, side // 2 + 3  # a cell away from the centre (the default)
        cell = pg.evaluate(CELL_JS, [0, row, col])
        pg.locator(f'{MAIN} [data-testid="stPlotlyChart"]').first.scroll_into_view_if_needed()
        cell = pg.evaluate(CELL_JS, [0, row, col])
        pg.mouse.click(cell["x"], cell["y"])
        clicked = self.now()
        pg.wait_for_function(
            "([r, c]) => { const q = new URLSearchParams(location.search); "
            "return q.get('nd_row') === String(r) && q.get('nd_col') === String(c); }",
            arg=[row, col],
            timeout=60_000,
        )
        in_url = self.now()
        pg.locator(f"{MAIN} h3", has_text=f"(row {row}, column {col})").first.wait_for(timeout=60_000)
        self.idle(pg)
        line = pg.get_by_text("The network's own activation").first.inner_text()
        q = parse_qs(urlparse(pg.url).query)
        diff = re.search(r"difference ([0-9.e+-]+)", line)
        self.note(
            side=side,
            clicked_cell=[row, col],
            clicked=clicked,
            address_updated=in_url,
            nd_row=q.get("nd_row", [None])[0],
            nd_col=q.get("nd_col", [None])[0],
            address=pg.url.replace(self.url, ""),
            heading=pg.locator(f"{MAIN} h3", has_text="Node ").first.inner_text(),
            activation_line=line,
            difference=diff and float(diff.group(1).rstrip(".")),
        )
        self.shot(pg, "node-clicked-cell")

    # -- 4. classroom links ----------------------------------------------------------------------------------
    def classroom(self, pg, browser) -> None:
        pg.context.grant_permissions(["clipboard-read", "clipboard-write"])
        pg.goto(f"{self.url}/train?model=cheb&lr=0.01&hide=model,lr")
        self.wait_text(pg, "What Start trains")
        self.idle(pg)
        fixed = pg.locator(SIDEBAR).get_by_text("Fixed by this link", exact=False).first
        fixed.wait_for(timeout=30_000)
        self.note(
            fixed_caption=fixed.inner_text(),
            layer_type_drawn=_has(pg, "stSelectbox", "Layer type"),
            lr_drawn=_has(pg, "stSlider", "Learning rate"),
        )
        self.shot(pg, "classroom-train-fixed-by-link", full_page=False)
        exp = pg.locator(f'{SIDEBAR} [data-testid="stExpander"]', has_text="Classroom link").first
        exp.locator("summary").first.click()
        builder = pg.locator("#gcl-classroom")
        builder.wait_for(state="visible", timeout=30_000)
        boxes = builder.locator('input[type="checkbox"]')
        offered = [b.get_attribute("value") for b in boxes.all()]
        ticked_before = [b.get_attribute("value") for b in boxes.all() if b.is_checked()]
        builder.locator('input[value="epochs"]').check()
        builder.locator('input[value="epochs"]').scroll_into_view_if_needed()
        pg.locator("#gcl-class-button").click()
        field = pg.locator("#gcl-class-link")
        field.wait_for(state="visible")
        link = field.input_value()
        status = pg.locator("#gcl-class-status").inner_text()
        self.note(
            builder_offers=offered,
            ticked_on_open=ticked_before,
            ticked_extra="epochs",
            classroom_link=link,
            copy_status=status,
        )
        pg.locator("#gcl-class-button").scroll_into_view_if_needed()
        self.shot(pg, "classroom-builder-copied", full_page=False)
        ctx, p2 = self.fresh(browser)
        try:
            p2.goto(link)
            self.wait_text(p2, "What Start trains")
            self.idle(p2)
            labels = [t.strip() for t in p2.locator(f'{SIDEBAR} [data-testid="stWidgetLabel"]').all_text_contents()]
            fixed2 = p2.locator(SIDEBAR).get_by_text("Fixed by this link", exact=False)
            q = parse_qs(urlparse(link).query)
            self.note(
                fresh={
                    "hide": q.get("hide"),
                    "fixed_caption": fixed2.first.inner_text() if fixed2.count() else None,
                    "hidden": {
                        lbl: not _has(p2, kind, lbl)
                        for kind, lbl in (
                            ("stSelectbox", "Layer type"),
                            ("stSlider", "Learning rate"),
                            ("stSlider", "Epochs"),
                            ("stNumberInput", "Seed"),
                        )
                    },
                    "sidebar_controls_shown": labels,
                    "url": p2.url.replace(self.url, ""),
                }
            )
            self.shot(p2, "classroom-link-fresh-context", full_page=False)
        finally:
            ctx.close()
        pg.goto(f"{self.url}/lessons?lesson={LESSON}&hide=lesson")
        self.wait_text(pg, RUN_LESSON)
        self.idle(pg)
        fixed3 = pg.locator(SIDEBAR).get_by_text("Fixed by this link", exact=False)
        self.note(
            lesson_hidden={
                "picker_drawn": _has(pg, "stSelectbox", "Lesson"),
                "fixed_caption": fixed3.first.inner_text() if fixed3.count() else None,
                "title_in_main": pg.locator(MAIN).get_by_text("ChebNet against the CNN").count() > 0,
                "url_after_load": pg.url.replace(self.url, ""),
                "question": pg.locator(f"{MAIN} p", has_text="The question.").first.inner_text()[:200],
                "reopen_selector_drawn": _has(pg, "stSelectbox", "Reopen a launched lesson"),
            }
        )
        self.shot(pg, "classroom-lesson-picker-hidden", full_page=False)

    # -- 5. phone ----------------------------------------------------------------------------------------------
    def phone(self, browser, lesson_url: str | None) -> None:
        ctx, pg = self.fresh(browser, PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
        try:
            pg.goto(self.url + (lesson_url or f"/lessons?lesson={LESSON}"))
            self.wait_text(pg, "This lesson's numbers")
            self.idle(pg)
            widths = pg.evaluate("() => ({doc: document.documentElement.scrollWidth, view: innerWidth})")
            self.note(lessons_widths=widths)
            self.shot(pg, "phone-lessons-first-screen", full_page=False)
            self.shot(pg, "phone-lessons-full-page")
            run = getattr(self, "cheb_run", None)
            pg.goto(f"{self.url}/node" + (f"?nd_run={run}" if run else ""))
            self.wait_text(pg, "The network's own activation", timeout_ms=180_000)
            self.idle(pg)
            widths = pg.evaluate("() => ({doc: document.documentElement.scrollWidth, view: innerWidth})")
            self.note(node_widths=widths)
            self.shot(pg, "phone-node-first-screen", full_page=False)
            self.shot(pg, "phone-node-full-page")
        finally:
            ctx.close()


def _has(pg, testid: str, label: str) -> bool:
    exact = re.compile(rf"^\s*{re.escape(label)}\s*$")
    return (
        pg.locator(f'[data-testid="{testid}"]')
        .filter(has=pg.locator('[data-testid="stWidgetLabel"]', has_text=exact))
        .count()
        > 0
    )


def _pct(text: str) -> float | None:
    m = re.search(r"test accuracy\s*([\d.]+)%", text or "")
    return float(m.group(1)) if m else None


STEPS = [
    "1-lesson",
    "2-continue-step",
    "3-one-node",
    "4-classroom",
    "5-phone",
    "30.1-sigma-desktop",
    "30.1-sigma-phone",
    "30.10-steps-desktop",
    "30.2-reopen-desktop",
    "30.2-reopen-phone",
    "30.3-playground-before-desktop",
    "30.3-playground-before-phone",
    "30.3-train-c8",
    "30.3-playground-c8-desktop",
    "30.3-playground-c8-phone",
    "30.4-one-node-desktop",
    "30.4-one-node-phone",
    "30.5-equivariance-desktop",
    "30.5-equivariance-phone",
    "30.6-names-desktop",
    "30.6-names-phone",
    "30.8-leak-desktop",
    "30.8-leak-phone",
    "30.11-server-log",
]
STATE_KEYS = ("reopen_path", "lesson_url", "teacher_table", "cheb_run", "c8_run", "drawn_path")


def _path(link: str | None) -> str | None:
    """A link's path and query, without the server (each journey's server has its own port)."""
    if not link:
        return None
    return "/" + link.split("/", 3)[-1].lstrip("/") if link.startswith("http") else "/" + link.lstrip("/")


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.teaching_journey", description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "artifacts" / "browser" / "teaching"))
    ap.add_argument(
        "--root",
        default=str(ROOT),
        help="the checkout whose app.py is served (default: this one; e.g. a git worktree of an older "
        "commit for a before picture, with this checkout's journey)",
    )
    ap.add_argument("--settle-ms", type=int, default=2000, help="wait after a page stops running, before a shot")
    ap.add_argument(
        "--data-dir",
        default=None,
        help="data folder (default: a fresh temp dir; with --steps: the one of the last journey into --out)",
    )
    ap.add_argument("--lesson-timeout", type=float, default=1800, help="seconds to wait for the lesson's runs")
    ap.add_argument("--c8-timeout", type=float, default=1800, help="seconds to wait for the C8 net to train")
    ap.add_argument(
        "--steps",
        default=None,
        help="comma-separated prefixes of the steps to walk (default: all): "
        + ", ".join(STEPS)
        + ". A partial walk reuses the data folder and what earlier steps found (the lesson's "
        "link, the runs) from <out>/state.json, and merges its steps into result.json",
    )
    ap.add_argument("--graph-steps", type=int, default=10, help="keyboard steps per Graph Builder slider")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    wanted = [w.strip() for w in args.steps.split(",")] if args.steps else None
    chosen = [s for s in STEPS if wanted is None or any(s == w or s.startswith(w + "-") for w in wanted)]
    state_file = out / "state.json"
    state = json.loads(state_file.read_text()) if wanted and state_file.exists() else {}
    if wanted is None:
        for old in out.glob("*.png"):
            old.unlink()
    data = Path(args.data_dir or state.get("data_dir") or tempfile.mkdtemp(prefix="graphconv-teaching-"))
    root = Path(args.root).resolve()
    head = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    log_path = out / ("server.log" if wanted is None else "server-partial.log")
    with open(log_path, "w") as log:
        t0 = time.perf_counter()
        server, url = start_app(
            root,
            env={"GRAPHCONV_DATA_DIR": str(data), "GRAPHCONV_QUICK": "1", "GRAPHCONV_STARTER": "0"},
            log=log,
            timeout=300,
        )
        healthy = round(time.perf_counter() - t0, 1)
        print(
            json.dumps(
                {
                    "server": url,
                    "root": str(root),
                    "head": head,
                    "data_dir": str(data),
                    "steps": chosen,
                    "seconds_to_healthy": healthy,
                }
            ),
            flush=True,
        )
        j = Journey(out, url, args.settle_ms, args.lesson_timeout)
        j.cheb_run, j.c8_run = state.get("cheb_run"), state.get("c8_run")
        if wanted is not None:  # a partial walk numbers its screenshots after the last one's
            j.n = max([int(m.group(1)) for f in out.glob("*.png") if (m := re.match(r"(\d+)-", f.name))] + [0])

        def save_state() -> None:
            seen = j.steps.get("1-lesson", {})
            new = {
                "data_dir": str(data),
                "root": str(root),
                "reopen_path": _path(seen.get("reopen_link")) or state.get("reopen_path"),
                "lesson_url": seen.get("lesson_url") or state.get("lesson_url"),
                "teacher_table": seen.get("table") or state.get("teacher_table"),
                "cheb_run": j.cheb_run,
                "c8_run": j.c8_run,
                "drawn_path": state.get("drawn_path"),
            }
            state.update(new)
            state_file.write_text(json.dumps(state, indent=1))

        def run(name: str, fn, *a) -> None:
            if name in chosen:
                fn(name, *a)
                save_state()

        try:
            with sync_playwright() as pw:
                browser, page = chromium(pw)
                run("1-lesson", j.step, j.lesson, page, browser)
                run("2-continue-step", j.step, j.step_run, page)
                run("3-one-node", j.step, j.one_node, page)
                run("4-classroom", j.step, j.classroom, page, browser)
                save_state()
                run("5-phone", j.step, j.phone, browser, state.get("reopen_path") or state.get("lesson_url"))
                # issue 30, "What a class sees": each item at 1400x1000 and on a 390x844 phone
                for size in ("desktop", "phone"):
                    run(f"30.1-sigma-{size}", j.in_context, browser, size, j.graph_sigma, size)
                run("30.10-steps-desktop", j.in_context, browser, "desktop", j.graph_steps, args.graph_steps)
                for size in ("desktop", "phone"):
                    if state.get("reopen_path"):
                        run(
                            f"30.2-reopen-{size}",
                            j.in_context,
                            browser,
                            size,
                            j.lesson_reopen,
                            size,
                            url + state["reopen_path"],
                            state.get("teacher_table") or [],
                        )
                    elif f"30.2-reopen-{size}" in chosen:
                        j.failures.append(f"30.2-reopen-{size}: no reopen link (the lesson step did not finish)")
                for size in ("desktop", "phone"):
                    run(
                        f"30.3-playground-before-{size}",
                        j.in_context,
                        browser,
                        size,
                        j.playground_offer,
                        size,
                        "before-c8",
                    )
                run("30.3-train-c8", j.in_context, browser, "desktop", j.train_c8, args.c8_timeout)
                save_state()

                def playground(pg, size):
                    drawn = state.get("drawn_path")
                    got = j.playground_c8(pg, size, url + drawn if size == "phone" and drawn else None)
                    if got:
                        state["drawn_path"] = _path(got)

                for size in ("desktop", "phone"):
                    run(f"30.3-playground-c8-{size}", j.in_context, browser, size, playground, size)
                for size in ("desktop", "phone"):
                    run(f"30.4-one-node-{size}", j.in_context, browser, size, j.one_node_sidebar, size)
                for size in ("desktop", "phone"):
                    run(f"30.5-equivariance-{size}", j.in_context, browser, size, j.equivariance, size, browser)
                extra = ["/playground?pg_src=dataset&pg_digit=0", "/train?model=cheb", "/compare"]
                extra += [
                    f"/{page}?{key}={rid}"
                    for rid in (j.cheb_run, j.c8_run)
                    if rid
                    for page, key in (("train", "run"), ("results", "run"))
                ]
                extra += [state["reopen_path"]] if state.get("reopen_path") else []
                for size in ("desktop", "phone"):
                    run(f"30.6-names-{size}", j.in_context, browser, size, j.raw_names, size, extra)
                for size in ("desktop", "phone"):
                    run(f"30.8-leak-{size}", j.in_context, browser, size, j.settings_leak, size)
                browser.close()
        finally:
            server.terminate()
            server.wait(10)
    if "30.11-server-log" in chosen:
        j.steps["30.11-server-log"] = {"ok": True, "log": str(log_path), **server_log(log_path)}
    result = {
        "command": "python -m benchmarks.teaching_journey " + " ".join(sys.argv[1:]),
        "server": url,
        "root": str(root),
        "head": head,
        "data_dir": str(data),
        "seconds_to_healthy": healthy,
        "steps": j.steps,
        "failures": j.failures,
        "screenshots": j.shots,
        "raw_names_seen": j.raw_hits,
        "total_seconds": round(time.perf_counter() - t0, 1),
    }
    path = out / "result.json"
    if wanted is not None and path.exists():  # a partial walk: its steps replace those of the last one
        old = json.loads(path.read_text())
        steps = {**old.get("steps", {}), **j.steps}
        failures = [f for f in old.get("failures", []) if f.split(":")[0] not in j.steps] + j.failures
        shots = [
            s for s in old.get("screenshots", []) if Path(s["shot"]).name not in {Path(x["shot"]).name for x in j.shots}
        ]
        result = {
            **old,
            **result,
            "steps": steps,
            "failures": failures,
            "screenshots": shots + j.shots,
            "raw_names_seen": [
                h for h in old.get("raw_names_seen", []) if h["page"] not in {x["page"] for x in j.raw_hits}
            ]
            + j.raw_hits,
            "partial_walks": [*old.get("partial_walks", []), result["command"]],
        }
    path.write_text(json.dumps(result, indent=1, default=str))
    print(json.dumps({"failures": j.failures, "total_seconds": result["total_seconds"], "result": str(path)}, indent=1))


if __name__ == "__main__":
    main()
