"""The steps of issue 30 ("What a class sees") for ``benchmarks/teaching_journey.py``: each walked at 1400x1000 and on a
390x844 phone, with a screenshot at each and what was seen recorded in ``result.json``.

- ``graph_sigma``: the Graph Builder's Gaussian kernel at sigma 0.05, 0.3 and 1.0 (``/graph?kind=gaussian&
  gaussian_sigma=...``): a digest of the main figure's data (its style: widths, opacities, colours; and all of it),
  whether it differs between the sigmas, the chart titles (a kernel profile?) and the edge counts;
- ``graph_steps`` (desktop): one keyboard step of the sigma (Gaussian), k (k-NN) and digit (grid) sliders, from the key
  press until the page is idle again (the script's rerun ended and no long task of the browser for 600 ms);
- ``lesson_reopen``: the lesson's reopen link in a fresh context: a "Run this lesson" button (expected: none), a
  "Run your own copy" control, the same table as the teacher's; and with ``hide=ls_own`` added;
- ``playground``: whether a steerable net is offered or can be picked; with one, a drawn 6 and its answers turned by
  90°, and on the phone the distance between the rotation slider and the "Turned" line, overlapping chart labels;
- ``train_c8``: a C8 net trained from the Start page's link (its accuracy);
- ``one_node_sidebar``: One node opened from the sidebar with nothing in the link: the run it opened on;
- ``equivariance``: Measure, Copy link, the link in a fresh context (same runs? a chart without Measure?), and after
  removing a run from the selection (desktop);
- ``raw_names``: every page of the sidebar (and a few deeper links): visible text matched against raw internal names;
- ``settings_leak``: Data set mnist-rot on Train, then Graph Builder from the sidebar: the data set and digit it shows;
- ``server_log``: warnings and tracebacks in the server's log.

The methods are a mixin of ``teaching_journey.Journey``: what they use of it (``shot``, ``note``, ``idle``,
``wait_text``, ``grid``, ...) is declared on ``ClassSteps`` as abstract methods and attributes; every one takes a page
of a fresh context of the size it is named for.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import statistics
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from playwright.sync_api import Error as PlaywrightError

MAIN = '[data-testid="stMain"]'
SIDEBAR = '[data-testid="stSidebar"]'
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
DESKTOP = {"width": 1400, "height": 1000}
PHONE = {"width": 390, "height": 844}
SIZES: dict[str, dict[str, Any]] = {  # browser.new_context's keywords for each size
    "desktop": dict(viewport=DESKTOP),
    "phone": dict(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True),
}
SIGMAS = (0.05, 0.3, 1.0)
STEPS = {  # control -> (link, the slider's URL key, its label as it was)
    "sigma": ("/graph?kind=gaussian", "gaussian_sigma", "sigma"),
    "k": ("/graph?kind=knn", "knn_k", "k"),
    "digit": ("/graph?kind=grid", "digit", "Digit (training image #)"),
}
# Raw internal names a visitor should not read (issue 30, item 6), and a few more of the same family.
RAW_NAMES = {
    "grid(neighbours=": r"grid\(neighbours=",
    "conv.N": r"\bconv\.\d",
    "blockN.N": r"block\d\.\d",
    "Module": r"Module\b",
    "Pointwise...": r"Pointwise\w+",
    "GRAPHCONV_": r"GRAPHCONV_",
    '"quick":': r'"quick"\s*:',
}
RAW_EXTRA = {  # model keys where a reader expects names: "cheb K=5", Layer type "cheb"
    "model key (cheb/gcn/escnn)": r"(?<![\w/=-])(cheb|gcn|escnn)(?![\w/=-])",
    '"adjacency"/"conv"/"group" keys': r'"(adjacency|conv|group)"\s*:',
}

# The i-th Plotly chart of the main area: its traces' style and sizes, its title, and its data as JSON.
FIG_JS = """([i]) => {
  const gds = [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stPlotlyChart"] .js-plotly-plot')];
  const gd = gds[i];
  if (!gd || !gd.data) return null;
  const len = v => v == null ? 0 : (v.bdata !== undefined ? (v.shape ? +String(v.shape).split(',')[0] : -1)
                                   : (v.length || 0));
  const isArr = v => Array.isArray(v) || ArrayBuffer.isView(v) || (v && v.bdata !== undefined);
  const sum = v => {
    if (v === undefined || v === null) return null;
    if (!isArr(v)) return v;
    if (v.bdata !== undefined) return {bdata: v.bdata.length, dtype: v.dtype};
    const a = Array.from(v);
    return {n: a.length, distinct: new Set(a.map(String)).size, first: a.slice(0, 3)};
  };
  const traces = gd.data.map(t => ({type: t.type, mode: t.mode, name: t.name, n_x: len(t.x), n_y: len(t.y),
    opacity: sum(t.opacity), line: t.line ? {width: sum(t.line.width), color: sum(t.line.color)} : null,
    marker: t.marker ? {color: sum(t.marker.color), opacity: sum(t.marker.opacity), size: sum(t.marker.size),
                        colorscale: t.marker.colorscale ? JSON.stringify(t.marker.colorscale).slice(0, 80) : null}
                     : null,
    showlegend: t.showlegend}));
  const ttl = l => l && l.title ? (typeof l.title === 'string' ? l.title : l.title.text) : null;
  return {charts: gds.length, title: ttl(gd.layout), traces,
          data: JSON.stringify(gd.data, (k, v) => ArrayBuffer.isView(v) ? Array.from(v) : v)};
}"""

# Every Plotly chart of the main area: title and axis titles (a kernel profile is one, named by its axes).
CHARTS_JS = """() =>
  [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stPlotlyChart"] .js-plotly-plot')]
  .map(gd => { const l = gd.layout || {},
                     t = a => a && a.title ? (typeof a.title === 'string' ? a.title : a.title.text) : null;
               return {title: t(l), x: t(l.xaxis), y: t(l.yaxis), traces: (gd.data || []).length}; })"""

# Text of the SVG labels of each Plotly chart in the main area that overlap one another (bar labels, tick labels).
OVERLAP_JS = """() =>
  [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stPlotlyChart"]')].map((c, i) => {
  const key = [...c.closest('[class*="st-key-"]')?.classList || []].find(k => k.startsWith('st-key-')) || null;
  const texts = [...c.querySelectorAll('svg text')].filter(t => (t.textContent || '').trim() && !t.closest('.modebar'))
    .map(t => ({t: t.textContent.trim(), r: t.getBoundingClientRect()})).filter(o => o.r.width > 0 && o.r.height > 0);
  const pairs = [];
  for (let a = 0; a < texts.length; a++) for (let b = a + 1; b < texts.length; b++) {
    const p = texts[a].r, q = texts[b].r;
    const w = Math.min(p.right, q.right) - Math.max(p.left, q.left),
          h = Math.min(p.bottom, q.bottom) - Math.max(p.top, q.top);
    if (w > 2 && h > 2)  // any real intersection: "62%" half under "71%" counts
      pairs.push([texts[a].t, texts[b].t]);
  }
  return {chart: i, key, labels: texts.length, overlapping: pairs.slice(0, 12), n_overlapping: pairs.length};
})"""

# Every widget's label and shown value (after tests/browser/conftest.py's snapshot).
WIDGETS_JS = """(root) => {
  const out = {}, scope = root ? document.querySelector(root) : document;
  if (!scope) return out;
  const label = (w) => (w.querySelector('[data-testid="stWidgetLabel"]')?.innerText || '').trim();
  const put = (kind, w, value) => { let k = `${kind} ${label(w)}`; while (k in out) k += "'"; out[k] = value; };
  scope.querySelectorAll('[data-testid="stSlider"]').forEach(w => put('slider', w,
      [...w.querySelectorAll('[role="slider"], input[type="range"]')].map(t => t.getAttribute('aria-valuetext')
                                              || t.getAttribute('aria-valuenow') || t.value).join(' to ')));
  scope.querySelectorAll('[data-testid="stRadio"]').forEach(w => put('radio', w,
      (w.querySelector('label:has(input:checked)')?.innerText || '').trim()));
  scope.querySelectorAll('[data-testid="stSelectbox"]').forEach(w => put('select', w,
      (w.querySelector('input')?.value || w.querySelector('[data-baseweb="select"]')?.innerText || '').trim()));
  scope.querySelectorAll('[data-testid="stMultiSelect"]').forEach(w => put('multi', w,
      [...w.querySelectorAll('[data-baseweb="tag"], [data-tag]')].map(t => (t.getAttribute('aria-label')
                                                                            || t.innerText).trim())));
  return out;
}"""

# Visible text of the page for the raw-name scan: main and sidebar, and the charts' SVG labels.
TEXT_JS = """() => {
  const part = s => [...document.querySelectorAll(s)].map(e => e.innerText || '').join('\\n');
  const svg = [...document.querySelectorAll('[data-testid="stPlotlyChart"] svg text')]
    .map(t => t.textContent).join('\\n');
  return {main: part('[data-testid="stMain"]'), sidebar: part('[data-testid="stSidebar"]'), charts: svg};
}"""

# One keyboard step timed in the page (after benchmarks/graph_builder_steps.py): WATCH_JS once per load, then per step
# STEP_JS resolves when the rerun after the key press has ended and no long task ended for ``quiet`` ms.
WATCH_JS = """() => {
  const w = window.__tjw = {states: [], tasks: []};
  const app = document.querySelector('[data-testid="stApp"]');
  new MutationObserver(() => w.states.push([performance.now(), app.getAttribute('data-test-script-state')]))
    .observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
  try {
    new PerformanceObserver(list => list.getEntries()
                                      .forEach(e => w.tasks.push([e.startTime, e.startTime + e.duration])))
      .observe({type: 'longtask', buffered: false});
  } catch (e) {}
  document.addEventListener('keydown', () => { w.key = performance.now(); }, true);
}"""
STEP_JS = """async ([quiet, limit]) => {
  const w = window.__tjw, sleep = ms => new Promise(r => setTimeout(r, ms));
  const frame = () => new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)));
  for (;;) {
    const after = w.states.filter(s => s[0] >= w.key);
    const ran = after.findIndex(s => s[1] === 'running');
    const done = ran >= 0 ? after.slice(ran).find(s => s[1] === 'notRunning') : undefined;
    if (done) { w.done = done[0]; break; }
    if (performance.now() - w.key > limit) return {no_rerun: true};
    await sleep(10);
  }
  for (;;) {
    await frame();
    const last = Math.max(w.done, ...w.tasks.filter(t => t[0] >= w.key).map(t => t[1]));
    if (performance.now() - last >= quiet) return {rerun_ms: w.done - w.key, idle_ms: last - w.key};
    await sleep(50);
  }
}"""


def value(thumb) -> str | None:
    """A slider thumb's shown value (Streamlit 1.67: an input of type range with aria-valuetext)."""
    if not thumb.count():
        return None
    return thumb.get_attribute("aria-valuetext") or thumb.get_attribute("aria-valuenow") or thumb.input_value()


def digest(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def stats(xs: list[float]) -> dict:
    if not xs:
        return {"n": 0}
    s = sorted(xs)
    return {
        "n": len(s),
        "median": round(statistics.median(s), 3),
        "p95": round(s[min(len(s) - 1, round(0.95 * (len(s) - 1)))], 3),
        "max": round(s[-1], 3),
    }


class ClassSteps(ABC):
    """Issue 30's steps; mixed into ``teaching_journey.Journey``, which provides what is declared abstract here."""

    url: str  # the served app's address, no trailing slash
    raw_hits: list[dict]  # raw internal names seen by ``scan``, one dict per hit
    c8_run: int | None  # the C8 net ``train_c8`` trained (read by the journey's later steps)

    # -- what the journey provides ---------------------------------------------------------------------------
    @abstractmethod
    def now(self) -> float:
        """Seconds since the current step started."""

    @abstractmethod
    def note(self, **fields) -> None:
        """Record what the current step saw."""

    @abstractmethod
    def idle(self, pg, timeout_ms: int = 300_000, settle_ms: int | None = None) -> None:
        """Wait until the page's script is not running, then ``settle_ms`` more."""

    @abstractmethod
    def shot(self, pg, name: str, full_page: bool = True, **extra) -> str:
        """A numbered screenshot (its path), recorded with what the page shows and ``extra``."""

    @abstractmethod
    def wait_text(self, pg, text, timeout_ms: int = 120_000) -> None:
        """Wait until ``text`` (a string or a pattern) shows in the main area; fail when an exception shows."""

    @abstractmethod
    def grid(self, pg) -> list[list[list[str]]]:
        """The rows of every table of the main area as text."""

    @abstractmethod
    def run_id(self, pg) -> int | None:
        """The run in the page's address (``run=``), if any."""

    @abstractmethod
    def wait_finished(self, pg, timeout_s: float = 300) -> str:
        """Wait until the Train page says the run finished: that line."""

    # -- small helpers -------------------------------------------------------------------------------------------
    def settle(self, pg, settle_ms: int = 1500, timeout_ms: int = 600_000) -> None:
        self.idle(pg, timeout_ms=timeout_ms, settle_ms=settle_ms)

    def open_sidebar(self, pg) -> bool:
        """On a phone the sidebar is folded: open it (True when it was folded)."""
        btn = pg.locator('[data-testid="stExpandSidebarButton"], [data-testid="stSidebarCollapsedControl"] button')
        if btn.count() and btn.first.is_visible():
            btn.first.click()
            pg.wait_for_timeout(800)
            return True
        return False

    def close_sidebar(self, pg) -> None:
        """On a phone the opened sidebar covers the page: fold it again."""
        if pg.viewport_size["width"] >= 700:
            return
        btn = pg.locator('[data-testid="stSidebarCollapseButton"] button, [data-testid="stSidebarCollapseButton"]')
        with contextlib.suppress(PlaywrightError):  # the button went away (the sidebar folded itself)
            if btn.count() and btn.first.is_visible():
                btn.first.click()
                pg.wait_for_timeout(800)

    def nav(self, pg, title: str) -> None:
        """Click ``title`` in the sidebar's page list (opening the sidebar and its "View more" first if needed)."""
        self.open_sidebar(pg)
        link = pg.locator('[data-testid="stSidebarNavLink"]').filter(has_text=re.compile(rf"{re.escape(title)}\s*$"))
        if not link.count():
            more = pg.locator('[data-testid="stSidebarNavViewButton"]')
            if more.count():
                more.first.click()
                pg.wait_for_timeout(500)
        link.first.click()

    def widgets(self, pg, root: str | None = None) -> dict:
        return pg.evaluate(WIDGETS_JS, root)

    def slider(self, pg, key: str, label: str):
        """The thumb of the slider bound to ``key`` (its element carries ``st-key-<key>``), else labelled ``label``."""
        by_key = pg.locator(f".st-key-{key}").get_by_role("slider")
        if by_key.count():
            return by_key.first
        exact = re.compile(rf"^\s*{re.escape(label)}\s*$")
        return (
            pg.locator('[data-testid="stSlider"]')
            .filter(has=pg.locator('[data-testid="stWidgetLabel"]', has_text=exact))
            .first.get_by_role("slider")
            .first
        )

    def lines(self, pg, pattern: str, limit: int = 8) -> list[str]:
        body = pg.locator(MAIN).first.inner_text() if pg.locator(MAIN).count() else ""
        return [ln.strip()[:300] for ln in body.splitlines() if re.search(pattern, ln)][:limit]

    def controls(self, pg, pattern: str) -> list[dict]:
        """Buttons, links and expanders in the main area whose text matches ``pattern``."""
        out = []
        for kind, sel in (
            ("button", f"{MAIN} button"),
            ("link", f"{MAIN} a"),
            ("expander", f'{MAIN} [data-testid="stExpander"] summary'),
        ):
            for el in pg.locator(sel).all():
                try:
                    text = el.inner_text(timeout=2000).strip()
                except PlaywrightError:  # it went away or stayed hidden: not a control to record
                    continue
                if text and re.search(pattern, text, re.I):
                    out.append(
                        {
                            "kind": kind,
                            "text": text[:120],
                            "visible": el.is_visible(),
                            "href": (el.get_attribute("href") or "").replace(self.url, "") or None,
                        }
                    )
        return out

    def open_expanders(self, pg) -> None:
        closed = pg.locator(f'{MAIN} [data-testid="stExpander"] details:not([open]) > summary')
        for _ in range(12):
            if not closed.count():
                break
            try:
                closed.first.click(timeout=5000)
            except PlaywrightError:  # not clickable (covered or gone): leave the rest folded
                break
            pg.wait_for_timeout(200)

    def scan(self, pg, where: str) -> list[dict]:
        """Raw internal names in the page's visible text (main, sidebar, chart labels), recorded in ``raw_hits``."""
        texts = pg.evaluate(TEXT_JS)
        hits = []
        for part, text in texts.items():
            for group, table in (("issue", RAW_NAMES), ("extra", RAW_EXTRA)):
                for name, rx in table.items():
                    for m in re.finditer(rx, text):
                        a, b = max(0, m.start() - 60), min(len(text), m.end() + 60)
                        hits.append(
                            {
                                "page": where,
                                "url": pg.url.replace(self.url, ""),
                                "part": part,
                                "kind": group,
                                "name": name,
                                "text": text[a:b].replace("\n", " ⏎ "),
                            }
                        )
        seen, unique = set(), []
        for h in hits:
            k = (h["name"], h["text"])
            if k not in seen:
                seen.add(k)
                unique.append(h)
        self.raw_hits.extend(unique)
        return unique

    def copy_link(self, pg) -> dict:
        """Press the sidebar's Copy link; the link from the clipboard (and the page's link field)."""
        self.open_sidebar(pg)
        btn = pg.locator("#gcl-copy")
        btn.scroll_into_view_if_needed()
        btn.click()
        field = pg.locator("#gcl-link")
        field.wait_for(state="visible", timeout=30_000)
        shown = field.input_value()
        try:
            clip = pg.evaluate("() => navigator.clipboard.readText()")
        except PlaywrightError as exc:  # the browser refused (no permission, no focus)
            clip = f"(clipboard not readable: {type(exc).__name__})"
        status = pg.locator("#gcl-copied").inner_text() if pg.locator("#gcl-copied").count() else None
        decoded = unquote(shown.replace(self.url, "")).replace("+", " ")
        runs = re.findall(r"[?&]runs=([^&]*)", decoded)
        return {
            "link": shown,
            "clipboard": clip,
            "same": clip == shown,
            "status": status,
            "decoded": decoded,
            "link_holds_runs": bool(runs),
            "runs_as_ids": bool(runs) and all(re.fullmatch(r"[\d,]+", r) for r in runs),
        }

    # -- 1. sigma in the Graph Builder -------------------------------------------------------------------------
    def graph_sigma(self, pg, size: str) -> None:
        seen = []
        for s in SIGMAS:
            pg.goto(f"{self.url}/graph?kind=gaussian&gaussian_sigma={s}")
            pg.locator(f'{MAIN} [data-testid="stPlotlyChart"]').first.wait_for(timeout=300_000)
            self.settle(pg, 2500)
            fig = pg.evaluate(FIG_JS, [0])
            if fig is None:
                raise RuntimeError(f"no main figure at sigma {s}")
            style = json.dumps(fig["traces"], sort_keys=True)
            if size == "phone":  # the first screen holds only the formulas: the figure in view
                pg.locator(f'{MAIN} [data-testid="stPlotlyChart"]').first.scroll_into_view_if_needed()
                pg.wait_for_timeout(800)
            thumb = self.slider(pg, "gaussian_sigma", "sigma")
            entry = {
                "sigma": s,
                "slider": value(thumb),
                "main_title": fig["title"],
                "style_digest": digest(style),
                "data_digest": digest(fig["data"]),
                "data_bytes": len(fig["data"]),
                "traces": fig["traces"],
                "charts": pg.evaluate(CHARTS_JS),
                "metrics": [
                    t.replace("\n", " ") for t in pg.locator(f'{MAIN} [data-testid="stMetric"]').all_inner_texts()
                ],
                "sigma_lines": self.lines(pg, r"(?i)sigma|σ|kernel|edges"),
                "shot": self.shot(pg, f"graph-gaussian-sigma-{s:.2f}-{size}", full_page=(size == "desktop")),
            }
            if size == "phone":
                entry["shot_full"] = self.shot(pg, f"graph-gaussian-sigma-{s:.2f}-{size}-full")
            seen.append(entry)
        profile = [
            c
            for e in seen
            for c in e["charts"]
            if re.search(r"(?i)kernel|profile|distance", " ".join(str(c.get(k) or "") for k in ("title", "x", "y")))
        ]
        self.note(
            sigmas=seen,
            style_differs=len({e["style_digest"] for e in seen}) == len(seen),
            data_differs=len({e["data_digest"] for e in seen}) == len(seen),
            titles_differ=len({e["main_title"] for e in seen}) == len(seen),
            kernel_profile_charts=profile[:3],
            kernel_profile_shown=bool(profile),
        )

    # -- 10. keyboard steps of the Graph Builder's sliders ------------------------------------------------------
    def graph_steps(self, pg, n: int = 10) -> None:
        out = {}
        for control, (path, key, label) in STEPS.items():
            pg.goto(self.url + path)
            pg.locator(f'{MAIN} [data-testid="stPlotlyChart"]').first.wait_for(timeout=300_000)
            self.settle(pg, 2000)
            pg.evaluate(WATCH_JS)
            thumb = self.slider(pg, key, label)
            thumb.focus()
            start = value(thumb)
            idle, rerun, wall, missed = [], [], [], 0
            for _ in range(n):
                t = time.perf_counter()
                thumb.press("ArrowRight")
                r = pg.evaluate(STEP_JS, [600, 30_000])
                if r.get("no_rerun"):
                    missed += 1
                    continue
                wall.append(time.perf_counter() - t)
                idle.append(r["idle_ms"] / 1000)
                rerun.append(r["rerun_ms"] / 1000)
            out[control] = {
                "from": start,
                "to": value(thumb),
                "until_idle_s": stats(idle),
                "rerun_s": stats(rerun),
                "browser_after_rerun_s": stats([a - b for a, b in zip(idle, rerun, strict=True)]),
                "raw_until_idle_s": [round(x, 3) for x in idle],
                "steps_without_rerun": missed,
            }
            self.note(**{control: out[control]})
        self.shot(pg, "graph-after-digit-steps-desktop", full_page=False)
        self.note(
            steps=out,
            how="ArrowRight on the focused thumb; until idle = the rerun ended and no long task "
            "of the browser for 600 ms (the 600 ms not counted); machine shared, noisy",
        )

    # -- 2. the lesson's reopen link -------------------------------------------------------------------------
    def lesson_reopen(self, pg, size: str, link: str, teacher_table: list) -> None:
        pg.goto(link)
        self.wait_text(pg, "This lesson's numbers", timeout_ms=300_000)
        pg.locator(f'{MAIN} [data-testid="stDataFrame"]').first.wait_for(timeout=300_000)
        self.settle(pg, 2500)
        table = (self.grid(pg) or [[]])[0]

        def seen() -> dict:
            return {
                "run_this_lesson_buttons": pg.get_by_role("button", name=re.compile("Run this lesson")).count(),
                "own_copy_controls": self.controls(pg, r"own copy"),
                "run_buttons": [b["text"] for b in self.controls(pg, r"\bRun\b") if b["kind"] == "button"],
                "read_only_lines": self.lines(pg, r"(?i)read-only|read only|view only"),
                "url": pg.url.replace(self.url, ""),
            }

        df = pg.locator(f'{MAIN} [data-testid="stDataFrame"] .dvn-scroller').first
        scroll = df.evaluate("e => ({scroll: e.scrollWidth, client: e.clientWidth})") if df.count() else None
        # a narrow grid keeps only the columns in view in its accessible table: compare those
        width = min((len(r) for r in table), default=0)
        same_shown = (
            bool(table)
            and len(table) == len(teacher_table)
            and all(r == t[: len(r)] for r, t in zip(table, teacher_table, strict=True))
        )
        self.note(
            **{
                "link": link,
                "table": table,
                "same_table": table == teacher_table,
                "same_table_in_view": same_shown,
                "columns_in_view": width,
                **seen(),
                "table_scroll_width": scroll,
                "wording_lines": self.lines(pg, r"(?i)full length|points|so far|one product per layer|K=\d+"),
                "shot": self.shot(pg, f"lesson-reopened-{size}", full_page=(size == "desktop")),
            }
        )
        if size == "phone":
            self.note(shot_full=self.shot(pg, f"lesson-reopened-{size}-full"))
        hidden = link + ("&" if "?" in link else "?") + "hide=ls_own"
        pg.goto(hidden)
        self.wait_text(pg, "This lesson's numbers", timeout_ms=300_000)
        self.settle(pg, 2500)
        self.note(
            hide_ls_own={
                **seen(),
                "fixed_by_link": self.lines(pg, r"Fixed by this link"),
                "shot": self.shot(pg, f"lesson-reopened-hide-ls_own-{size}", full_page=False),
            }
        )

    # -- 3. the Playground and a steerable net ----------------------------------------------------------------
    def multiselect_options(self, pg, key: str, label: str) -> list[str]:
        """The options of the multiselect bound to ``key`` (else labelled ``label``): opened, read, closed."""
        self.open_sidebar(pg)
        box = pg.locator(f".st-key-{key}")
        if not box.count():
            box = pg.locator('[data-testid="stMultiSelect"]').filter(has_text=label)
        if not box.count():
            return []
        box.first.locator("input").first.click()
        with contextlib.suppress(PlaywrightError):  # a timeout: no options, and the empty list says so
            pg.locator('[role="option"]').first.wait_for(timeout=8000)
        pg.wait_for_timeout(500)
        opts = [o.strip() for o in pg.locator('[role="option"]').all_inner_texts()]
        pg.keyboard.press("Escape")
        pg.wait_for_timeout(300)
        self.close_sidebar(pg)
        return opts

    def playground_offer(self, pg, size: str, tag: str) -> None:
        """What the Playground offers about a steerable net: runs that can be picked, links or buttons to train one."""
        pg.goto(f"{self.url}/playground")
        self.wait_text(pg, "Playground")
        self.settle(pg, 2500)
        chosen = self.widgets(pg)
        options = self.multiselect_options(pg, "pg_runs_w", "Runs")
        steerable = [o for o in options if re.search(r"(?i)escnn|steerable|\bC\d\b|\bD\d\b", o)]
        self.note(
            runs_offered=options,
            runs_chosen=chosen,
            steerable_runs=steerable,
            steerable_available=bool(steerable),
            offers_to_train_steerable=self.controls(pg, r"steerable|C8|escnn|rotat"),
            steerable_lines=self.lines(pg, r"(?i)steerable|escnn|C8"),
            shot=self.shot(pg, f"playground-{tag}-{size}", full_page=(size == "desktop")),
        )

    def train_c8(self, pg, timeout_s: float) -> None:
        pg.goto(self.url + "/")
        self.settle(pg, 1000)
        link = pg.locator(f'{MAIN} a[data-testid="stPageLink-NavLink"]').filter(has_text=re.compile(r"C8|steerable"))
        how = link.first.inner_text().strip() if link.count() else None
        if link.count():
            link.first.click()
            pg.wait_for_url(re.compile(r"/train"))
        else:
            pg.goto(self.url + "/train?model=escnn&group=C8&data=mnist-rot")
        self.wait_text(pg, "What Start trains")
        self.settle(pg, 1000)
        settings = self.widgets(pg)
        pg.get_by_role("button", name="Start").first.click()
        pg.wait_for_function("() => /[?&]run=\\d+/.test(location.search)", timeout=120_000)
        run = self.run_id(pg)
        text = self.wait_finished(pg, timeout_s)
        self.settle(pg, 2000)
        self.c8_run = run
        self.note(
            opened_by=how,
            url=pg.url.replace(self.url, ""),
            settings=settings,
            run=run,
            finished_text=text,
            accuracy=_pct(text),
            seconds_to_finish=self.now(),
            shot=self.shot(pg, "c8-trained-desktop"),
        )

    def playground_c8(self, pg, size: str, link: str | None) -> str | None:
        """A drawn 6 (desktop: drawn here; phone: the desktop's link) through the chosen runs, turned by 90°."""
        from benchmarks.browser_helpers import draw_six

        if link is None:
            pg.goto(f"{self.url}/playground")
            self.settle(pg, 2000)
            canvas = pg.locator(f"{MAIN} canvas").last
            canvas.wait_for(state="visible")
            canvas.scroll_into_view_if_needed()
            draw_six(pg, canvas)
            pg.get_by_text("answered in").first.wait_for(timeout=300_000)
            pg.wait_for_function("() => new URLSearchParams(location.search).has('pg_ink')", timeout=60_000)
            self.settle(pg, 2500)
            link = pg.url
        runs = self.widgets(pg).get("multi Runs (up to 3)")
        answer = pg.get_by_text("answered in").first.inner_text() if pg.get_by_text("answered in").count() else None
        self.note(drawn_link=link.replace(self.url, ""), runs_chosen=runs, answer_upright=answer)
        turned = re.sub(r"([?&])pg_angle=\d+&?", r"\1", link).rstrip("&?")
        turned += ("&" if "?" in turned else "?") + "pg_angle=90"
        pg.goto(turned)
        pg.get_by_text(re.compile(r"^Turned \d+")).first.wait_for(timeout=300_000)
        self.settle(pg, 3000)
        turned_line = pg.get_by_text(re.compile(r"^Turned \d+")).first
        inside = self.lines(pg, r"(?i)^Run\b|conv|pool|layer|channels", 12)
        near = self.slider_to_answer(pg)
        self.note(
            turned_link=turned.replace(self.url, ""),
            turned_line=turned_line.inner_text()[:300],
            answers_all_runs=self.widgets(pg),
            six_nine=self.lines(pg, r"6 from a 9"),
            inside_the_network=inside,
            slider_to_turned=near,
            overlaps=pg.evaluate(OVERLAP_JS),
            shot=self.shot(pg, f"playground-c8-turned-90-{size}", full_page=(size == "desktop")),
        )
        if size == "phone":
            self.slider(pg, "pg_angle", "Rotation (degrees, counter-clockwise)").scroll_into_view_if_needed()
            pg.wait_for_timeout(800)
            self.note(
                slider_in_view=self.slider_to_answer(pg),
                shot_slider=self.shot(pg, f"playground-c8-slider-in-view-{size}", full_page=False),
                shot_full=self.shot(pg, f"playground-c8-turned-90-{size}-full"),
            )
        return link

    def slider_to_answer(self, pg) -> dict:
        """Where the rotation slider and the "Turned" line are (page px), the gap between them, and whether both fit on
        one screen."""
        thumb = self.slider(pg, "pg_angle", "Rotation (degrees, counter-clockwise)")
        line = pg.get_by_text(re.compile(r"^Turned \d+")).first
        if not thumb.count() or not line.count():
            return {"found": False}
        a, b = thumb.bounding_box(), line.bounding_box()
        if not a or not b:
            return {"found": False}
        top, bottom = min(a["y"], b["y"]), max(a["y"] + a["height"], b["y"] + b["height"])
        vh = pg.viewport_size["height"]
        return {
            "found": True,
            "slider_y": round(a["y"]),
            "turned_y": round(b["y"]),
            "gap_px": round(b["y"] - (a["y"] + a["height"]))
            if b["y"] >= a["y"]
            else round(a["y"] - (b["y"] + b["height"])),
            "span_px": round(bottom - top),
            "fit_one_screen": bottom - top <= vh,
            "both_in_view_now": top >= 0 and bottom <= vh,
        }

    # -- 4. One node from the sidebar ------------------------------------------------------------------------
    def one_node_sidebar(self, pg, size: str) -> None:
        pg.goto(self.url + "/")
        self.settle(pg, 1000)
        self.nav(pg, "One node")
        pg.wait_for_url(re.compile(r"/node"), timeout=60_000)
        pg.locator(f"{MAIN} h1").first.wait_for()
        self.settle(pg, 3000, timeout_ms=300_000)
        w = self.widgets(pg)
        run = next((v for k, v in w.items() if k.startswith("select Run")), None)
        body = pg.locator(MAIN).first.inner_text()
        graph = bool(
            run and re.search(r"(?i)cheb|gcn|graph|learned", run) and not re.search(r"(?i)escnn|steerable|C8", run)
        )
        self.note(
            url=pg.url.replace(self.url, ""),
            run_selected=run,
            is_graph_net=graph,
            shows_arithmetic="own activation" in body,
            shows_permutation=bool(re.search(r"(?i)permut", body)),
            heading=(pg.locator(f"{MAIN} h3").first.inner_text() if pg.locator(f"{MAIN} h3").count() else None),
            row_of_lines=self.lines(pg, r"Row \d+ of"),
            share_lines=self.lines(pg, r"(?i)share of"),
            widgets=w,
            shot=self.shot(pg, f"one-node-from-sidebar-{size}", full_page=(size == "desktop")),
        )
        if size == "phone":
            self.note(shot_full=self.shot(pg, f"one-node-from-sidebar-{size}-full"))

    # -- 5. Equivariance's Copy link -------------------------------------------------------------------------
    def eq_state(self, pg) -> dict:
        w = self.widgets(pg)
        return {
            "url": unquote(pg.url.replace(self.url, "")).replace("+", " "),
            "runs": next((v for k, v in w.items() if k.startswith("multi Runs")), None),
            "measure_button": [
                b.strip() for b in pg.get_by_role("button", name=re.compile(r"^Measure")).all_inner_texts()
            ],
            "accuracy_chart": pg.get_by_text("Accuracy of rotated digits").count() > 0,
            "charts": pg.locator(f'{MAIN} [data-testid="stPlotlyChart"]').count(),
            "images_lines": self.lines(pg, r"(?i)test digits|test images"),
        }

    def equivariance(self, pg, size: str, browser) -> None:
        pg.goto(self.url + "/equivariance")
        self.wait_text(pg, "Equivariance")
        self.settle(pg, 2000, timeout_ms=300_000)
        opened = self.eq_state(pg)
        self.note(opened=opened, shot_opened=self.shot(pg, f"equivariance-opened-{size}", full_page=False))
        measure = pg.get_by_role("button", name=re.compile(r"^Measure"))
        if measure.count():
            t = self.now()
            measure.first.click()
            pg.get_by_text("Accuracy of rotated digits").first.wait_for(timeout=900_000)
            self.settle(pg, 3000, timeout_ms=900_000)
            self.note(measure_seconds=round(self.now() - t, 1))
        measured = self.eq_state(pg)
        self.scan(pg, f"equivariance measured ({size})")
        self.note(
            measured=measured,
            overlaps=pg.evaluate(OVERLAP_JS),
            shot_measured=self.shot(pg, f"equivariance-measured-{size}", full_page=(size == "desktop")),
        )
        copied = self.copy_link(pg)
        self.note(copied=copied, shot_copied=self.shot(pg, f"equivariance-copied-{size}", full_page=False))
        self.close_sidebar(pg)
        self.note(reopened=self.eq_reopen(browser, size, copied["link"], measured["runs"], "fresh"))
        if size != "desktop":
            return
        # a run removed from the selection, then Copy link again
        pg.keyboard.press("Escape")
        remove = pg.locator(f'{MAIN} [data-testid="stMultiSelect"] [data-tag] button[aria-label^="Remove"]')
        if remove.count():
            removed = remove.last.get_attribute("aria-label")
            remove.last.click()
        else:  # older markup: Backspace in the box removes its last chip
            removed = "the last chip (Backspace)"
            pg.locator(f'{MAIN} [data-testid="stMultiSelect"] input').first.click()
            pg.keyboard.press("Backspace")
            pg.keyboard.press("Escape")
        self.settle(pg, 2000, timeout_ms=300_000)
        self.note(removed=removed)
        edited = self.eq_state(pg)
        copied2 = self.copy_link(pg)
        self.close_sidebar(pg)
        self.note(
            edited=edited,
            copied_after_edit=copied2,
            reopened_after_edit=self.eq_reopen(browser, size, copied2["link"], edited["runs"], "edited"),
        )

    def eq_reopen(self, browser, size: str, link: str, runs, tag: str) -> dict:
        ctx = browser.new_context(**SIZES[size])
        try:
            p2 = ctx.new_page()
            p2.set_default_timeout(300_000)
            p2.goto(link)
            self.wait_text(p2, "Equivariance")
            self.settle(p2, 3000, timeout_ms=600_000)
            st = self.eq_state(p2)
            return {
                **st,
                "same_runs": st["runs"] == runs,
                "chart_without_measure": st["accuracy_chart"],
                "shot": self.shot(p2, f"equivariance-link-{tag}-context-{size}", full_page=(size == "desktop")),
            }
        finally:
            ctx.close()

    # -- 6. raw names on every page --------------------------------------------------------------------------
    def raw_names(self, pg, size: str, extra: list[str]) -> None:
        pg.goto(self.url + "/")
        self.settle(pg, 1000)
        self.open_sidebar(pg)
        more = pg.locator('[data-testid="stSidebarNavViewButton"]')
        if more.count() and "more" in more.first.inner_text().lower():
            more.first.click()
            pg.wait_for_timeout(500)
        pages = [
            (a.inner_text().strip().splitlines()[-1].strip(), a.get_attribute("href"))  # the icon's name first
            for a in pg.locator('[data-testid="stSidebarNavLink"]').all()
        ]
        self.note(pages=[p[0] for p in pages])
        per_page = {}
        for title, href in pages + [(u, u) for u in extra]:
            url = href if href.startswith("http") else self.url + "/" + href.lstrip("/")
            try:
                pg.goto(url)
                pg.locator(f"{MAIN} h1").first.wait_for(timeout=120_000)
                self.settle(pg, 2500, timeout_ms=300_000)
                self.open_expanders(pg)
                pg.wait_for_timeout(500)
                hits = self.scan(pg, title)
                slug = re.sub(r"[^a-z0-9]+", "-", title.lower().split("?")[0]).strip("-") or "start"
                if "?" in title:
                    slug += "-" + digest(title)[:4]
                per_page[title] = {
                    "hits": len(hits),
                    "names": sorted({h["name"] for h in hits}),
                    "shot": self.shot(pg, f"names-{slug}-{size}", full_page=(size == "desktop")),
                }
            except Exception as exc:  # noqa: BLE001 - this page's failure is recorded, the other pages go on
                per_page[title] = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"}
        self.note(
            per_page=per_page,
            issue_hits=[h for h in self.raw_hits if h["kind"] == "issue" and h["page"] in per_page],
            extra_hits=[h for h in self.raw_hits if h["kind"] == "extra" and h["page"] in per_page][:60],
        )

    # -- 8. settings leak ------------------------------------------------------------------------------------
    def settings_leak(self, pg, size: str) -> None:
        pg.goto(self.url + "/train")
        self.wait_text(pg, "What Start trains")
        self.settle(pg, 1500)
        self.open_sidebar(pg)
        box = pg.locator(".st-key-data").first
        box.locator("input").first.click()
        pg.keyboard.type("mnist-rot")
        pg.keyboard.press("Enter")
        self.settle(pg, 1500)
        train = self.widgets(pg)
        self.note(
            train_url=pg.url.replace(self.url, ""),
            train_data=next((v for k, v in train.items() if k.startswith("select Data set")), None),
            shot_train=self.shot(pg, f"leak-train-mnist-rot-{size}", full_page=False),
        )
        self.nav(pg, "Graph Builder")
        pg.wait_for_url(re.compile(r"/graph"), timeout=60_000)
        pg.locator(f'{MAIN} [data-testid="stPlotlyChart"]').first.wait_for(timeout=300_000)
        self.settle(pg, 2500)
        w = self.widgets(pg)
        data = next((v for k, v in w.items() if k.startswith("select Data set")), None)
        digit = next((v for k, v in w.items() if k.startswith("slider Digit")), None)
        label = self.lines(pg, r"^Label:")
        self.note(
            graph_url=pg.url.replace(self.url, ""),
            graph_data=data,
            graph_digit=digit,
            label_line=label,
            leaked=data == "mnist-rot",
            graph_widgets=w,
            shot_graph=self.shot(pg, f"leak-graph-builder-after-train-{size}", full_page=False),
        )


def server_log(path: Path) -> dict:
    """Lines of the server's log: the Streamlit context warnings, tracebacks, other warnings."""
    text = path.read_text(errors="replace") if path.exists() else ""
    lines = text.splitlines()
    ctx = [ln for ln in lines if "missing ScriptRunContext" in ln]
    run = [ln for ln in lines if "streamlit run" in ln and "missing ScriptRunContext" not in ln]
    tb = [i for i, ln in enumerate(lines) if ln.startswith("Traceback")]

    def last(i: int) -> str:  # a traceback's last line: the first unindented line after its frames
        j = i + 1
        while j < len(lines) and (lines[j].startswith(" ") or not lines[j].strip()):
            j += 1
        return lines[j] if j < len(lines) else ""

    warn = [ln for ln in lines if re.search(r"(?i)warning|error", ln) and ln not in ctx and ln not in run]
    return {
        "lines": len(lines),
        "missing_ScriptRunContext": len(ctx),
        "streamlit_run_warnings": len(run),
        "tracebacks": len(tb),
        "traceback_ends": sorted({last(i)[:200] for i in tb})[:10],
        "other_warning_lines": len(warn),
        "other_warning_examples": warn[:10],
        "context_warning_examples": (ctx + run)[:3],
    }


def _pct(text: str) -> float | None:
    m = re.search(r"test accuracy\s*([\d.]+)%", text or "")
    return float(m.group(1)) if m else None
