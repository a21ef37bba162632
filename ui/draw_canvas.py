"""A drawing canvas for the Playground, as a small Streamlit Components v2 component.

White strokes on black, drawn with the mouse, a pen or a finger (pointer events). When a stroke ends the
picture goes to Python at once as a PNG data URL; ``streamlit-drawable-canvas`` 0.13, used before, waits
200 ms after every change before it sends (a fixed debounce), which alone took two thirds of the 300 ms the
Playground's answer may take after a stroke. A Clear button wipes the canvas, sends ``None`` and fires a
``cleared`` trigger (its ``on_clear`` callback runs even when the canvas was already empty: the page may be showing
a digit that did not come from the canvas, such as one from a link).

With the stroke goes the digit itself: the page's engine (static/playground/playground.mjs) prepares the drawing
as ``core.data.image_io.mnist_digit`` does and writes it as a link's ``pg_ink`` (``encode_digit_link``'s 16 grey
levels), and hands it to the Playground's in-browser answers before Python hears of it. :func:`drawn_ink` gives
that code (None when the browser sent none: the page then prepares the PNG itself, as before).

    png = draw_canvas(key="pg_canvas")  # bytes of a PNG (size x size, RGBA), or None while the canvas is empty
    code = drawn_ink("pg_canvas")       # the same digit as a link's 523 characters, or None

The value is the browser's and may be forged: :func:`drawing_png` checks the data URL's length and form before
decoding its base64, and the PNG itself passes ``core.data.image_io``'s drawing limits before it is decoded; the
code is only ever read through ``decode_digit_link``, which checks it first.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

import streamlit as st

from core.data.image_io import LIMITS, LINK_CHARS
from core.errors import UserInputError

PNG_URL = "data:image/png;base64,"  # what canvas.toDataURL("image/png") sends, and all this component accepts
MAX_URL_CHARS = len(PNG_URL) + 4 * -(-LIMITS["drawing"].max_bytes // 3)  # base64 of the largest drawing allowed

_HTML = """<div class="gc-draw"><canvas aria-label="Drawing area: draw a digit"></canvas>
<div class="gc-bar"><button type="button" class="gc-clear">Clear</button></div></div>"""

_CSS = """
.gc-draw canvas { background: #000; touch-action: none; cursor: crosshair; border-radius: 0.5rem; display: block;
                  max-width: 100%; }
.gc-bar { margin-top: 0.25rem; }
.gc-clear { font: inherit; font-size: 0.875rem; padding: 0.15rem 0.75rem; border-radius: 0.5rem; cursor: pointer;
            border: 1px solid rgba(128, 128, 128, 0.4); background: transparent; color: inherit; }
"""

# Called on mount and again when `data` changes; the returned function removes the listeners before that. The engine
# (data.engine, a URL relative to the page) is the Playground's module: it prepares the digit and answers it at once;
# without it (not served, not loaded) the PNG alone goes, as before.
_JS = """
export default function ({ parentElement, data, setStateValue, setTriggerValue }) {
  const canvas = parentElement.querySelector("canvas");
  const clear = parentElement.querySelector(".gc-clear");
  const size = data.size, width = data.stroke;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  let engine = null;
  const loading = data.engine
    ? import(new URL(data.engine, document.baseURI).href).then((m) => { engine = m; }, () => {})
    : Promise.resolve();
  const wipe = () => { ctx.fillStyle = "#000"; ctx.fillRect(0, 0, size, size); };
  if (canvas.width !== size || !canvas.dataset.ready) {
    canvas.width = size; canvas.height = size; canvas.style.width = size + "px"; wipe(); canvas.dataset.ready = "1";
  }
  let drawing = false, last = null;
  const at = (e) => {
    const r = canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * size / r.width, (e.clientY - r.top) * size / r.height];
  };
  const dot = (p) => {
    ctx.fillStyle = "#fff"; ctx.beginPath(); ctx.arc(p[0], p[1], width / 2, 0, 2 * Math.PI); ctx.fill();
  };
  const down = (e) => {
    drawing = true; last = at(e); dot(last); canvas.setPointerCapture(e.pointerId); e.preventDefault();
  };
  const move = (e) => {
    if (!drawing) return;
    const p = at(e);
    ctx.strokeStyle = "#fff"; ctx.lineWidth = width; ctx.lineCap = "round"; ctx.lineJoin = "round";
    ctx.beginPath(); ctx.moveTo(last[0], last[1]); ctx.lineTo(p[0], p[1]); ctx.stroke();
    last = p; e.preventDefault();
  };
  const up = async () => {
    if (!drawing) return;
    drawing = false;
    const t0 = performance.now();
    await loading;
    let ink = null;
    if (engine) {
      try {
        const w = canvas.width, h = canvas.height;
        const prepared = engine.prepareDrawing(ctx.getImageData(0, 0, w, h).data, h, w, data.max_pixels);
        if (prepared) { ink = prepared.code; engine.setDigit(prepared.digit, "ink:" + ink, t0); }
        await engine.settled(400);  // the answers painted first: Python's rerun can wait that long
      } catch (err) { ink = null; }
    }
    setStateValue("drawing", { png: canvas.toDataURL("image/png"), ink });
  };
  const onClear = () => {
    wipe(); if (engine) engine.setDigit(null, "");
    setStateValue("drawing", null); setTriggerValue("cleared", true);
  };
  canvas.addEventListener("pointerdown", down);
  canvas.addEventListener("pointermove", move);
  canvas.addEventListener("pointerup", up);
  canvas.addEventListener("pointercancel", up);
  clear.addEventListener("click", onClear);
  return () => {
    canvas.removeEventListener("pointerdown", down);
    canvas.removeEventListener("pointermove", move);
    canvas.removeEventListener("pointerup", up);
    canvas.removeEventListener("pointercancel", up);
    clear.removeEventListener("click", onClear);
  };
}
"""

_component = st.components.v2.component("graphconv_draw_canvas", html=_HTML, css=_CSS, js=_JS)


def drawing_png(value: Any) -> bytes | None:
    """The canvas component's value -> the PNG bytes it carries; None for an empty canvas (None or "").

    Anything but a ``data:image/png;base64,...`` string of at most ``MAX_URL_CHARS`` characters with valid base64
    raises UserInputError("image", ...) with one line, before any decoding (the value is never echoed back).
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise UserInputError("image", f"the canvas sent a {type(value).__name__}, not a PNG data URL")
    if len(value) > MAX_URL_CHARS:
        raise UserInputError(
            "image", f"the drawing's data URL has {len(value):,} characters; the limit is {MAX_URL_CHARS:,}"
        )
    if not value.startswith(PNG_URL):
        raise UserInputError("image", f"the drawing is not a PNG data URL (expected it to start with {PNG_URL})")
    try:
        return base64.b64decode(value[len(PNG_URL) :], validate=True)
    except (binascii.Error, ValueError):
        raise UserInputError("image", "the drawing's data URL is not valid base64") from None


def _ink_key(key: str) -> str:
    return f"_gc_ink_{key}"


def drawing_value(value: Any) -> tuple[Any, Any]:
    """The canvas component's value -> (its PNG data URL, its digit code), both still unchecked; ``(None, None)`` for
    an empty canvas. Anything but None or a ``{"png": ..., "ink": ...}`` object raises UserInputError."""
    if value is None or value == "":
        return None, None
    if not isinstance(value, dict) or not set(value) <= {"png", "ink"}:
        raise UserInputError("image", f"the canvas sent a {type(value).__name__}, not a drawing")
    return value.get("png"), value.get("ink")


def drawn_ink(key: str) -> str | None:
    """The digit the browser prepared from canvas ``key``'s last stroke, as a link's code (``LINK_CHARS`` characters
    of the base64url alphabet, not yet decoded: ``decode_digit_link`` checks the rest); None when it sent none."""
    code = st.session_state.get(_ink_key(key))
    return code if isinstance(code, str) and len(code) == LINK_CHARS else None


def draw_canvas(
    key: str, size: int = 280, stroke: int = 22, on_clear: Callable[[], None] | None = None
) -> bytes | None:
    """Mount the canvas (``size`` screen pixels square, brush ``stroke`` pixels wide); the drawing as PNG bytes, or
    None before the first stroke and after Clear. ``on_clear`` runs, before the rerun, whenever Clear is pressed.
    The digit the browser prepared is kept for :func:`drawn_ink`. A malformed or oversized value raises
    UserInputError (:func:`drawing_png`), for the page's ``guarded``."""
    from ui.browser_models import engine_url

    result = _component(
        key=key,
        data={"size": size, "stroke": stroke, "engine": engine_url(), "max_pixels": LIMITS["drawing"].max_pixels},
        default={"drawing": None},
        on_drawing_change=lambda: None,
        on_cleared_change=on_clear or (lambda: None),
    )
    st.session_state[_ink_key(key)] = None
    png, ink = drawing_value(getattr(result, "drawing", None))
    data = drawing_png(png)
    st.session_state[_ink_key(key)] = ink if data else None
    return data
