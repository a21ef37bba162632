"""Shared UI helpers: cached engine objects, parameter widgets bound to the URL, error display.

Pages import from here; ``core`` never imports streamlit.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from typing import Any, Callable, Optional

import streamlit as st

from core.config import quick_mode
from core.errors import UserInputError
from core.training.memory import limit_malloc_arenas
from core.training.process_backend import prewarm

URL = "query-params"  # widgets bound to the URL: a copied link reopens the same configuration
# how st.dataframe shows core.analysis.results.runs_table (Train and Compare pages)
RUNS_TABLE_COLUMNS = {"test accuracy": st.column_config.NumberColumn(format="percent"),
                      "images/s": st.column_config.NumberColumn(format="%.0f"),
                      "parameters": st.column_config.NumberColumn(format="localized")}
limit_malloc_arenas(2)  # the server's session and worker threads share two malloc arenas (core/training/memory.py)
if not os.environ.get("GRAPHCONV_RAY_ADDRESS"):
    prewarm()  # training workers fork from a server that imports torch once: start it with the first page


# ---------------------------------------------------------------- cached engine objects
@st.cache_resource(show_spinner="Loading data set…")
def dataset(name: str = "mnist-5k", quick: Optional[bool] = None):
    from core.data.datasets import load_dataset

    return load_dataset(name, quick=quick_mode() if quick is None else quick)


@st.cache_resource(show_spinner=False, max_entries=64)
def graph(kind: str, params_json: str, norm: str, image_key: Optional[str] = None, _image: Any = None):
    """(raw graph, normalised graph, facts). ``image_key`` identifies ``_image`` (superpixels only).

    ``facts`` is the normalised graph's summary plus ``raw_symmetric``, computed once per graph (the
    symmetry check builds an N x N matrix) rather than on every rerun.
    """
    from core.graphs import build_graph, normalize

    params = json.loads(params_json)
    g = build_graph(kind, image=_image, **params) if _image is not None else build_graph(kind, **params)
    normed = normalize(g, norm)
    return g, normed, {**normed.summary(), "raw_symmetric": g.is_symmetric()}


def manager():
    """The process-wide background run manager (survives reruns and page reloads; one per data folder).

    A run database that cannot be opened (corrupt, locked, newer schema) ends the page with one clear
    message instead of a traceback; the file is left as it was. So does a training set-up that cannot be
    used (a bad ``GRAPHCONV_CPUS``, a Ray cluster that cannot be reached)."""
    from core.training.runner import get_manager
    from core.training.store import StoreError

    try:
        return get_manager()
    except StoreError as err:
        st.error(f"Run store unavailable — {err}", icon=":material/database:")
        st.stop()
    except UserInputError as err:
        st.error(f"Training unavailable — {err}", icon=":material/error:")
        st.stop()


def store():
    return manager().store


# ---------------------------------------------------------------- URL-bound widgets
# Streamlit drops a bound query parameter whose value the widget cannot take. These wrappers check the
# raw value first, so the page can say which part of a shared link was ignored (``url_notices``).
# A link is anyone's to write: its values are quoted short and inert, and read with bounded work.
SHOWN_CHARS = 40  # how much of a bad link value a notice quotes
RUN_ID = re.compile(r"[0-9]{1,18}")  # ASCII digits only (str.isdigit() takes '²', int() does not); < 2**63 (SQLite)


def shown_link_value(raw: str) -> str:
    """A link's value as a notice quotes it inside a code span: at most ``SHOWN_CHARS`` characters, no backtick or
    unprintable character (a backtick would close the span and let the link write markdown, such as a link of its
    own, into the app's warning; a megabyte value would be echoed whole)."""
    head = "".join(c if c.isprintable() and c != "`" else "?" for c in raw[:SHOWN_CHARS])
    return head + ("…" if len(raw) > SHOWN_CHARS else "")


def parse_run_id(raw: Optional[str]) -> Optional[int]:
    """A run id from a link (``run=12``), or None for anything else (absent, not 1-18 ASCII digits)."""
    return int(raw) if raw is not None and RUN_ID.fullmatch(raw) else None


def parse_run_ids(raw: Optional[str], most: int) -> Optional[list[int]]:
    """Run ids from a link's comma list (``3,7,12``; empty entries skipped), or None unless it holds at most ``most``
    run ids. A value too long to hold them is refused unread, so a forged one costs nothing."""
    if raw is None or len(raw) > most * 20:
        return None
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    if len(parts) > most or not all(RUN_ID.fullmatch(p) for p in parts):
        return None
    return [int(p) for p in parts]


def _note_bad_link_value(key: str, allowed: str) -> None:
    raw = st.query_params.get(key)
    notes = st.session_state.setdefault("_url_notices", {})
    notes[key] = f"`{key}={shown_link_value(str(raw))}` ({allowed})"


def refuse_link_value(key: str, allowed: str) -> None:
    """Drop URL parameter ``key`` (a page's own, not a bound widget's) and note it for ``url_notices``."""
    _note_bad_link_value(key, allowed)
    st.query_params.pop(key, None)


def _numeric_ok(raw: str, lo: float, hi: float, integer: bool) -> bool:
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        return False
    return lo <= value <= hi


def url_slider(container, label: str, lo, hi, default, key: str, **kw):
    """A slider bound to URL parameter ``key``; an out-of-range link value falls back with a notice."""
    raw = st.query_params.get(key)
    if raw is not None and not _numeric_ok(raw, lo, hi, isinstance(default, int) and isinstance(lo, int)):
        _note_bad_link_value(key, f"must be between {lo} and {hi}")
    return container.slider(label, lo, hi, default, key=key, bind=URL, **kw)


def url_number(container, label: str, lo: int, hi: int, default: int, key: str, **kw):
    raw = st.query_params.get(key)
    if raw is not None and not _numeric_ok(raw, lo, hi, True):
        _note_bad_link_value(key, f"must be a whole number between {lo} and {hi}")
    return container.number_input(label, lo, hi, default, key=key, bind=URL, **kw)


def url_text(container, label: str, default: str, key: str, max_chars: int = 200, **kw) -> str:
    """A text input bound to URL parameter ``key`` (free text: the caller validates it), at most ``max_chars``
    characters: Streamlit cuts a longer value, from the link or the browser, and the link's is noted."""
    raw = st.query_params.get(key)
    if raw is not None and len(raw) > max_chars:
        _note_bad_link_value(key, f"at most {max_chars} characters")
    return container.text_input(label, default, key=key, bind=URL, max_chars=max_chars, **kw)


def url_choice(container, label: str, options, default, key: str, widget: str = "selectbox", **kw):
    """selectbox / radio / select_slider bound to URL parameter ``key`` (the URL holds the option as shown: ``str``,
    or ``format_func`` when given)."""
    options = list(options)
    shown = kw.get("format_func", str)  # a bound widget's link holds the option as shown
    raw = st.query_params.get(key)
    if raw is not None and raw not in {shown(o) for o in options}:
        _note_bad_link_value(key, "choose from " + ", ".join(map(shown, options)))
    if widget == "select_slider":
        return container.select_slider(label, options, default, key=key, bind=URL, **kw)
    return getattr(container, widget)(label, options, index=options.index(default), key=key, bind=URL, **kw)


def url_labelled_choice(container, label: str, options, default, key: str, format_func, **kw):
    """A selectbox showing ``format_func(option)`` while URL parameter ``key`` holds ``str(option)``.

    A bound widget with ``format_func`` would write the displayed label into the link, so this one is
    synced by hand: the link's value picks the option (an unknown one falls back with a notice) and
    the chosen option is written back.
    """
    options = list(options)
    by_str = {str(o): o for o in options}
    raw = st.query_params.get(key)
    if raw is not None and raw not in by_str:
        _note_bad_link_value(key, "choose from " + ", ".join(by_str))
    initial = by_str.get(raw, default)
    value = container.selectbox(label, options, index=options.index(initial), key=key, format_func=format_func, **kw)
    if st.query_params.get(key) != str(value):
        st.query_params[key] = str(value)
    return value


def url_toggle(container, label: str, key: str, **kw) -> bool:
    raw = st.query_params.get(key)
    if raw is not None and raw.lower() not in ("true", "false"):
        _note_bad_link_value(key, "true or false")
    return container.toggle(label, key=key, bind=URL, **kw)


def url_notices(container=st) -> None:
    """Show, once, which values of the opened link were invalid and replaced by defaults.

    Call it after the page's last URL-bound widget, with a container placed near the top.
    """
    notes = st.session_state.pop("_url_notices", {})
    if notes:
        container.warning("Some settings in this link are not valid and were replaced by their defaults: "
                   + "; ".join(notes.values()), icon=":material/link_off:")


# ---------------------------------------------------------------- widgets
def graph_param_widgets(kind: str, container=st.sidebar, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """One widget per builder parameter of ``kind`` (from GRAPH_PARAMS), bound to the URL as ``<kind>_<name>``."""
    from core.graphs import GRAPH_CHOICES, GRAPH_PARAMS

    values: dict[str, Any] = {}
    for name, spec in GRAPH_PARAMS[kind].items():
        if name in exclude:
            continue
        key = f"{kind}_{name}"
        choices = GRAPH_CHOICES.get(kind, {}).get(name)
        if choices is not None:
            values[name] = url_choice(container, name, choices, spec.default, key, widget="radio", help=spec.help,
                                      horizontal=True)
            continue
        if spec.default is None and not url_toggle(container, f"use {name}", f"{key}_on", help=spec.help):
            continue  # an optional parameter that is switched off
        lo, hi = spec.min, spec.max
        start = spec.default if spec.default is not None else lo
        if isinstance(start, int) and isinstance(lo, int):
            values[name] = url_slider(container, name, lo, hi, start, key, help=spec.help)
        else:
            values[name] = url_slider(container, name, float(lo), float(hi), float(start), key,
                                      step=0.01 if hi <= 1 else 0.05, help=spec.help)
    return values


# The link is read in the browser at the moment of copying, so it is exactly the address bar: every widget bound to
# the URL and every parameter a page writes, including ones set inside a fragment after the sidebar was drawn (a link
# assembled on the server missed those). The markup is constant: nothing from the URL or the user goes into it.
_COPY_LINK_HTML = """
<div class="gcl-copy-link" style="display:flex;flex-direction:column;gap:0.35rem">
  <button id="gcl-copy" type="button" title="Copy the address of this page as it is now"
    style="width:100%;padding:0.4rem 0.75rem;border-radius:0.5rem;border:1px solid rgba(128,128,128,0.4);
           background:transparent;color:inherit;font:inherit;cursor:pointer">&#128279; Copy link</button>
  <input id="gcl-link" readonly aria-label="Link to this page as it is now" hidden
    style="width:100%;font-family:monospace;font-size:0.75rem;padding:0.25rem;border-radius:0.4rem;
           border:1px solid rgba(128,128,128,0.4);background:transparent;color:inherit">
  <span id="gcl-copied" role="status" style="font-size:0.8rem;opacity:0.75"></span>
</div>
<script>
(() => {
  const button = document.getElementById("gcl-copy");
  if (!button || button.dataset.ready) return;
  button.dataset.ready = "1";
  button.addEventListener("click", async () => {
    const field = document.getElementById("gcl-link"), status = document.getElementById("gcl-copied");
    field.value = window.location.href;  // the address bar now, percent-encoded by the browser
    field.hidden = false;
    field.select();
    let copied = false;
    try { await navigator.clipboard.writeText(field.value); copied = true; }
    catch (e) { try { copied = document.execCommand("copy"); } catch (e2) {} }
    status.textContent = copied ? "Copied: this link reopens the page as it is now."
                                : "Select the link above and copy it: it reopens the page as it is now.";
  });
})();
</script>
"""


def copy_link_button(container=st.sidebar) -> None:
    """A Copy link button: it copies (and shows) the page's address as it is at the moment of the click."""
    container.html(_COPY_LINK_HTML, unsafe_allow_javascript=True)


def unbroken(text: str) -> str:
    """``text`` with each parenthesised part kept on one line (no-break spaces and hyphens), so a title that wraps
    never leaves a lone ")" or half a setting on the next line."""
    return re.sub(r"\(([^()]*)\)", lambda m: "(" + m.group(1).replace(" ", "\u00a0").replace("-", "\u2011") + ")",
                  text)


def guarded(fn: Callable[[], Any], what: str = "") -> Any:
    """Run ``fn``; show a clear ``st.error`` (no stack trace) for bad input and known failures."""
    from core.errors import DataUnavailableError

    try:
        return fn()
    except UserInputError as err:
        st.error(f"Invalid setting — {err}")
    except DataUnavailableError as err:
        st.error(f"Data unavailable — {err}")
    return None


def session_id() -> Optional[str]:
    """Who owns the runs this browser starts: a hash of Streamlit's XSRF token (a cookie that survives
    reloads and new tabs of the same browser, and differs between browsers), else the session's id.

    The cookie's text is re-masked on every page load (``2|mask|masked-token|time``), so the token
    itself is unmasked first; only a hash of it is stored with a run."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    token = _xsrf_token(st.context.cookies.get("_streamlit_xsrf") if st.context.cookies else None)
    if token:
        return "browser-" + hashlib.sha256(token).hexdigest()[:16]
    ctx = get_script_run_ctx()
    return ctx.session_id if ctx else None


def _xsrf_token(cookie: Optional[str]) -> Optional[bytes]:
    """The raw token inside a version-2 XSRF cookie (``2|mask|masked|time``, hex; the 4-byte mask repeats), or None."""
    parts = (cookie or "").strip("\"'").split("|")
    if len(parts) != 4 or parts[0] != "2":
        return None
    try:
        mask, masked = bytes.fromhex(parts[1]), bytes.fromhex(parts[2])
    except ValueError:
        return None
    return bytes(v ^ mask[i % len(mask)] for i, v in enumerate(masked)) if mask and masked else None  # websocket mask