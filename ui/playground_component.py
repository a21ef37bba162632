"""The Playground's answers in the visitor's browser: one Streamlit Components v2 component, mounted in four parts,
each a view of static/playground/playground.mjs (one module, shared by every part and by the drawing canvas):

    status   loads onnxruntime-web and says whether it runs here (state ``runtime`` = "ready", or ``fallback``: why)
    angles   the every-angle plot; reports the digit's answers and its sweep to Python (state ``report``)
    turned   the turned digit and its bars, following the page's rotation slider as it moves on the screen
    maps     the chosen run's layer maps for the digit as turned

The page (app_pages/playground.py) uses them once :func:`browser_state` says the runtime runs in this browser and
every chosen run has exported (:func:`models_for_browser`); until then, and when WebAssembly is missing, the
runtime does not load or a run does not export, it answers on the server as before and says why in one line. Python
then runs no inference for a stroke or a turn: the browser's answers come back only to write the answers line, and
everything the browser sends is checked (:func:`read_report`) before it is shown.

AppTest cannot run components: its page never hears "ready", so the tests of the page see the server path.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import streamlit as st

from core.data.image_io import encode_digit_link
from core.errors import CheckpointError, UserInputError
from core.training.store import RunNotFoundError
from ui.browser_models import MODELS_DIR, BrowserModel, browser_model, engine_url, runtime_spec, touch
from ui.byte_cache import cached
from ui.display import error_line
from ui.resources import RUNS, store

STATE_KEY = "_pg_browser"  # this session: True once the runtime ran here, or the one line why the server answers
MAX_WHY = 160  # characters of a reason the browser sent, shown in a line

_CSS = """
:host { color: var(--st-text-color, inherit); font-family: var(--st-font, sans-serif); }
.gc-view { font-size: 0.95rem; }
.gc-status { font-size: 0.85rem; opacity: 0.7; min-height: 0; }
.gc-note, .gc-pic figcaption { font-size: 0.85rem; opacity: 0.7; margin-top: 0.2rem; }
.gc-chart { width: 100%; height: auto; display: block; }
.gc-chart .gc-grid { stroke: rgba(128, 128, 128, 0.25); stroke-width: 1; }
.gc-chart .gc-quarter { stroke: #bbbbbb; stroke-dasharray: 3 3; stroke-width: 1; }
.gc-chart .gc-lead { stroke-dasharray: 2 2; stroke-width: 1; }
.gc-chart text { fill: currentColor; font-size: 12px; }
.gc-chart .gc-label { font-size: 13px; }
.gc-chart .gc-axis { font-size: 12px; opacity: 0.8; }
.gc-slider { display: grid; grid-template-columns: 1fr auto; gap: 0.1rem 0.5rem; align-items: center;
             margin: 0.25rem 0 0.5rem; }
.gc-slider label { font-size: 0.875rem; }
.gc-slider output { font-variant-numeric: tabular-nums; font-size: 0.875rem; }
.gc-slider input { grid-column: 1 / span 2; width: 100%; accent-color: var(--st-primary-color, #4F46E5); }
.gc-line { margin: 0.25rem 0 0.5rem; font-size: 0.875rem; opacity: 0.85; }
.gc-row { display: flex; flex-wrap: wrap; gap: 1rem; align-items: flex-start; }
.gc-pic { margin: 0; flex: 0 0 auto; }
.gc-digit { image-rendering: pixelated; display: block; border: 1px solid rgba(128, 128, 128, 0.3); }
.gc-bars { flex: 1 1 320px; min-width: 260px; }
.gc-layer { margin-top: 0.75rem; }
.gc-legend { font-size: 0.8rem; display: flex; flex-wrap: wrap; gap: 0.25rem 1rem; justify-content: center; }
.gc-entry { white-space: nowrap; }
.gc-key { display: inline-block; width: 0.7rem; height: 0.7rem; margin-right: 0.3rem; border-radius: 2px; }
.gc-maps { image-rendering: pixelated; max-width: 100%; height: auto; display: block; margin-top: 0.25rem; }
"""

# Called on mount and again when `data` changes (then the view keeps its DOM and takes the new data); the returned
# function lets the view go only if no new call follows (an unmount), so a rerun never rebuilds a dragged slider.
_JS = """
export default function ({ parentElement, data, setStateValue }) {
  const host = parentElement;
  clearTimeout(host.gcTeardown);
  let alive = true;
  import(new URL(data.engine, document.baseURI).href).then(
    (pg) => { if (alive) { host.gcEngine = pg; pg.mountView(host, data, setStateValue); } },
    (err) => {
      if (alive) setStateValue("fallback", "the page's engine did not load (" + ((err && err.message) || err) + ")");
    },
  );
  return () => {
    alive = false;
    host.gcTeardown = setTimeout(() => host.gcEngine && host.gcEngine.unmountView(host), 1500);
  };
}
"""

_component = st.components.v2.component("graphconv_playground", html="", css=_CSS, js=_JS)


def _noop() -> None:
    return None


def _mount(part: str, widget_key: str, data: dict[str, Any], states: tuple[str, ...]):
    callbacks: dict[str, Any] = {f"on_{name}_change": _noop for name in states}
    return _component(
        key=widget_key,
        data={"part": part, "engine": engine_url(), "runtime": runtime_spec(), **data},
        default=dict.fromkeys(states),
        **callbacks,
    )


def browser_state() -> tuple[bool, str]:
    """This session so far: (the browser answers, why the server answers instead: "" while that is not known yet,
    as for a browser that never said, such as AppTest's)."""
    known = st.session_state.get(STATE_KEY)
    return known is True, known if isinstance(known, str) else ""


def show_status(mode: str) -> None:
    """Mount the status part, which loads the runtime in the browser and says how the page answers (``mode``:
    "browser", "server" or "probe"); what it reports (the runtime runs here, or why not) becomes this session's state,
    and the page is run again with it."""
    known = st.session_state.get(STATE_KEY)
    result = _mount(
        "status",
        "pg_status",
        {"mode": mode, "known": "ready" if known is True else "server" if isinstance(known, str) else None},
        ("runtime", "fallback"),
    )
    fallback = getattr(result, "fallback", None)
    if isinstance(fallback, str) and fallback and not isinstance(known, str):
        st.session_state[STATE_KEY] = fallback_line(fallback)
    elif getattr(result, "runtime", None) == "ready" and known is None:
        st.session_state[STATE_KEY] = True
    if st.session_state.get(STATE_KEY) != known:  # once a session: this run chose before it knew
        st.rerun()


def fallback_line(why: Any) -> str:
    """A reason the browser sent, as at most ``MAX_WHY`` characters of one line (the page quotes it with plain)."""
    text = " ".join(str(why).split())
    return text if len(text) <= MAX_WHY else text[: MAX_WHY - 1] + "…"


def note_browser_failure(why: Any) -> None:
    """A view said the browser cannot answer (a model did not load or run): the server answers from now on."""
    if isinstance(why, str) and why:
        st.session_state[STATE_KEY] = fallback_line(why)


@cached(RUNS, show_spinner="Preparing the run for your browser (once per run)…")
def _model_for_browser(run_id: int, version: str) -> tuple[BrowserModel | None, str]:
    """Run ``run_id`` exported and published, once per checkpoint version: (the model, "") or (None, why not)."""
    try:
        return browser_model(run_id, store()), ""
    except (UserInputError, RunNotFoundError, CheckpointError, OSError) as err:
        return None, error_line(err)


def models_for_browser(ids: list[int], versions: dict[int, str]) -> tuple[list[BrowserModel], dict[int, str]]:
    """The chosen runs ready for the browser (exported once per checkpoint ``versions[id]``, published again if
    their file went), and one line for each run that is not."""
    ready, problems = [], {}
    for rid in ids:
        bm, why = _model_for_browser(rid, versions[rid])
        if bm is not None and not (MODELS_DIR / f"{bm.sha256}.onnx").exists():
            try:
                bm = browser_model(rid, store())  # evicted meanwhile: written again from the export's cache
            except (UserInputError, RunNotFoundError, CheckpointError, OSError) as err:
                bm, why = None, error_line(err)
        if bm is None:
            problems[rid] = why
        else:
            touch(bm)
            ready.append(bm)
    return ready, problems


def digit_key(image: np.ndarray, drawn: bool) -> tuple[str, list[float]]:
    """(the key the browser knows this digit by, its 784 pixels): a drawn or linked digit is its link code (the
    canvas names its own strokes so), any other its pixels' hash."""
    pixels = np.asarray(image, dtype=np.float32).reshape(-1)
    if drawn:
        return "ink:" + encode_digit_link(pixels.reshape(28, 28)), pixels.tolist()
    return "px:" + hashlib.sha1(pixels.tobytes()).hexdigest()[:20], pixels.tolist()


def view(part: str, widget_key: str, models: list[BrowserModel], /, **data: Any):
    """Mount view ``part`` ("angles", "turned", "maps") under ``widget_key`` for ``models`` (the runs in their
    colours) and ``data`` (the digit's ``key`` and ``pixels``, ``mirror``, ``angle``, the run whose maps are shown
    ``inside``, ...); its state."""
    states = {"angles": ("report", "fallback"), "turned": ("fallback",), "maps": ("fallback",)}[part]
    return _mount(part, widget_key, {"models": [m.for_component(i) for i, m in enumerate(models)], **data}, states)


@dataclass(frozen=True)
class BrowserAnswers:
    """What the browser computed for the digit as given: each run's (10,) probabilities, its predicted class at each
    sweep angle, and the milliseconds from the stroke (or the digit's arrival) to the answers on the screen."""

    given: dict[int, np.ndarray]
    predicted: dict[int, list[int]]
    ms: float


def _probabilities(value: Any) -> np.ndarray | None:
    if not isinstance(value, list) or len(value) != 10:
        return None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        return None
    p = np.asarray(value, dtype=np.float64)
    return p if np.isfinite(p).all() and (p >= 0).all() and (p <= 1).all() else None


def read_report(value: Any, key: str, mirror: bool, ids: list[int], angles: int) -> BrowserAnswers | None:
    """The angles part's report, if it is about this digit (``key``), ``mirror`` and runs ``ids`` and has every
    run's 10 probabilities and ``angles`` predicted classes; None otherwise (stale, or not what the page sends)."""
    if not isinstance(value, dict) or value.get("key") != key or value.get("mirror") is not mirror:
        return None
    if (
        value.get("runs") != ids
        or not isinstance(value.get("given"), dict)
        or not isinstance(value.get("predicted"), dict)
    ):
        return None
    given, predicted = {}, {}
    for rid in ids:
        p = _probabilities(value["given"].get(str(rid)))
        classes = value["predicted"].get(str(rid))
        if p is None or not isinstance(classes, list) or len(classes) != angles:
            return None
        if not all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 9 for c in classes):
            return None
        given[rid], predicted[rid] = p, classes
    ms = value.get("ms")
    if isinstance(ms, bool) or not isinstance(ms, (int, float)) or not 0 <= ms < 1e7:  # NaN fails the range too
        ms = math.nan
    return BrowserAnswers(given, predicted, float(ms))
