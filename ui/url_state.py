"""URL state: widgets bound to the address bar, the checks on what a link may hold, its notices, Copy link.

A link is anyone's to write: its values are checked before a widget takes them, quoted short and inert in a notice,
and read with bounded work. Pages use these wrappers rather than ``bind="query-params"`` directly.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

import streamlit as st
from streamlit.errors import StreamlitAPIException

from ui import classroom, streamlit_internals
from ui.display import plain

URL = "query-params"  # widgets bound to the URL: a copied link reopens the same configuration


# ---------------------------------------------------------------- a page's own defaults
_PAGE = "_url_page"  # the page the session's last full run showed


def start_page(page: str) -> None:
    """app.py, once the page to run is known: when it is another page than the last run's, forget every control's
    value the session holds, so the page starts from its own defaults and the link it was opened with.

    Streamlit keeps a URL-bound widget's value across a page switch under its key (the binding "persists across page
    switches") and hands it to any widget with that key on the new page, while the browser still draws that widget
    at its default: Train's Data set = mnist-rot made the Graph Builder's digits mnist-rot ones under a "mnist-5k"
    selector. Pages share keys on purpose ("data", "digit", "model", "seed": the same setting has the same name in
    every link), so the values are dropped here rather than the keys renamed. A link that names a value still opens
    with it: a widget new to this page takes its value from the URL. Values a page keeps that are no control (the
    Train page's watched run) stay."""
    last = st.session_state.get(_PAGE)
    st.session_state[_PAGE] = page
    if last is None or last == page:
        return
    for key in _control_keys():
        if key in st.session_state:
            del st.session_state[key]


def _control_keys() -> set[str]:
    """The keys of every control a page of this server drew through these helpers, and of every widget the session's
    last run drew (keyed widgets that are no link's: a table's selection, a chart's)."""
    keys = classroom.known_keys() | streamlit_internals.widget_keys()
    return {k for k in keys if isinstance(k, str) and not k.startswith("_")}


# ---------------------------------------------------------------- URL-bound widgets
# Streamlit drops a bound query parameter whose value the widget cannot take. These wrappers check the
# raw value first, so the page can say which part of a shared link was ignored (``url_notices``).
# A link is anyone's to write: its values are quoted short and inert, and read with bounded work.
SHOWN_CHARS = 40  # how much of a bad link value a notice quotes
RUN_ID = re.compile(r"[0-9]{1,18}")  # ASCII digits only (str.isdigit() takes '²', int() does not); < 2**63 (SQLite)


def shown_link_value(raw: str) -> str:
    """A link's value as a notice quotes it: at most ``SHOWN_CHARS`` characters (a megabyte value is not echoed
    whole), inert as markdown (``ui.display.plain``: it cannot write a link of its own into the app's warning)."""
    return plain(raw, SHOWN_CHARS)


def parse_run_id(raw: str | None) -> int | None:
    """A run id from a link (``run=12``), or None for anything else (absent, not 1-18 ASCII digits)."""
    return int(raw) if raw is not None and RUN_ID.fullmatch(raw) else None


def parse_run_ids(raw: str | None, most: int) -> list[int] | None:
    """Run ids from a link's comma list (``3,7,12``; empty entries skipped), or None unless it holds at most ``most``
    run ids. A value too long to hold them is refused unread, so a forged one costs nothing."""
    if raw is None or len(raw) > most * 20:
        return None
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    if len(parts) > most or not all(RUN_ID.fullmatch(p) for p in parts):
        return None
    return [int(p) for p in parts]


def note_link_value(key: str, raw: str, allowed: str) -> None:
    """Say (through ``url_notices``) that the link's ``key=raw`` was not used, and what it may be."""
    st.session_state.setdefault("_url_notices", {})[key] = f"{key}={shown_link_value(str(raw))} ({allowed})"


def _note_bad_link_value(key: str, allowed: str) -> None:
    note_link_value(key, str(st.query_params.get(key)), allowed)


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


def _drop_link_value(key: str) -> None:
    """Take an invalid value of a hidden control off the link, as Streamlit does for a drawn widget's."""
    with contextlib.suppress(StreamlitAPIException):  # still bound to a widget drawn earlier: Streamlit clears it
        st.query_params.pop(key, None)


def _fixed(key: str, label: str, value, url_value, shown: str):
    """A control the link hides (``hide=``): recorded, not drawn; ``value`` is what the page gets."""
    classroom.record(key, label, url_value, shown, is_hidden=True)
    return value


def _drawn(key: str, label: str, value, url_value, shown: str):
    classroom.record(key, label, url_value, shown, is_hidden=False)
    return value


def url_slider(container, label: str, lo, hi, default, key: str, **kw):
    """A slider bound to URL parameter ``key``; an out-of-range link value falls back with a notice."""
    raw = st.query_params.get(key)
    integer = isinstance(default, int) and isinstance(lo, int)
    bad = raw is not None and not _numeric_ok(raw, lo, hi, integer)
    if bad:
        _note_bad_link_value(key, f"must be between {lo} and {hi}")
    if classroom.hidden(key):
        if bad:
            _drop_link_value(key)
        value = default if raw is None or bad else (int(raw) if integer else float(raw))
        return _fixed(key, label, value, str(value), str(value))
    value = container.slider(label, lo, hi, default, key=key, bind=URL, **kw)
    return _drawn(key, label, value, str(value), str(value))


def url_number(container, label: str, lo: int, hi: int, default: int, key: str, **kw):
    raw = st.query_params.get(key)
    bad = raw is not None and not _numeric_ok(raw, lo, hi, True)
    if bad:
        _note_bad_link_value(key, f"must be a whole number between {lo} and {hi}")
    if classroom.hidden(key):
        if bad:
            _drop_link_value(key)
        value = default if raw is None or bad else int(raw)
        return _fixed(key, label, value, str(value), str(value))
    value = container.number_input(label, lo, hi, default, key=key, bind=URL, **kw)
    return _drawn(key, label, value, str(value), str(value))


def url_text(container, label: str, default: str, key: str, max_chars: int = 200, **kw) -> str:
    """A text input bound to URL parameter ``key`` (free text: the caller validates it), at most ``max_chars``
    characters: Streamlit cuts a longer value, from the link or the browser, and the link's is noted."""
    raw = st.query_params.get(key)
    if raw is not None and len(raw) > max_chars:
        _note_bad_link_value(key, f"at most {max_chars} characters")
    if classroom.hidden(key):
        if raw is not None and len(raw) > max_chars:
            _drop_link_value(key)
            st.query_params[key] = raw[:max_chars]  # cut, as the drawn input cuts it
        value = default if raw is None else raw[:max_chars]
        return _fixed(key, label, value, value, value or "(empty)")
    value = container.text_input(label, default, key=key, bind=URL, max_chars=max_chars, **kw)
    return _drawn(key, label, value, value, value or "(empty)")


def url_choice(container, label: str, options, default, key: str, widget: str = "selectbox", **kw):
    """selectbox / radio / select_slider bound to URL parameter ``key`` (the URL holds the option as shown: ``str``,
    or ``format_func`` when given)."""
    options = list(options)
    shown = kw.get("format_func", str)  # a bound widget's link holds the option as shown
    raw = st.query_params.get(key)
    by_shown = {shown(o): o for o in options}
    bad = raw is not None and raw not in by_shown
    if bad:
        _note_bad_link_value(key, "choose from " + ", ".join(map(shown, options)))
    if classroom.hidden(key):
        if bad:
            _drop_link_value(key)
        value = default if raw is None or bad else by_shown[raw]
        return _fixed(key, label, value, shown(value), shown(value))
    if widget == "select_slider":
        value = container.select_slider(label, options, default, key=key, bind=URL, **kw)
    else:
        value = getattr(container, widget)(label, options, index=options.index(default), key=key, bind=URL, **kw)
    return _drawn(key, label, value, shown(value), shown(value))


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
    initial = by_str.get(raw, default) if raw is not None else default
    if classroom.hidden(key):
        if raw is not None and raw not in by_str:
            st.query_params.pop(key, None)  # never bound: the page's own parameter
        return _fixed(key, label, initial, str(initial), str(format_func(initial)))
    value = container.selectbox(label, options, index=options.index(initial), key=key, format_func=format_func, **kw)
    if st.query_params.get(key) != str(value):
        st.query_params[key] = str(value)
    return _drawn(key, label, value, str(value), str(format_func(value)))


def url_multiselect(container, label: str, options, key: str, **kw) -> list:
    """A multiselect bound to URL parameter ``key``, repeated for several values (``?f_model=mlp&f_model=cnn``);
    a link's value it does not offer is dropped (by Streamlit) with a notice (here)."""
    options = list(options)
    offered = {str(o) for o in options}
    linked = st.query_params.get_all(key)
    bad = [v for v in linked if v not in offered]
    if bad:
        note_link_value(key, ",".join(bad), "choose from " + (", ".join(map(str, options)) or "no value yet"))
    if classroom.hidden(key):
        good = [v for v in linked if v in offered]
        if bad:  # off the link, as for a drawn one
            _drop_link_value(key)
            if good:
                st.query_params[key] = good
        value = [o for o in options if str(o) in set(good)] if good else list(kw.get("default") or [])
        value = value[: kw["max_selections"]] if kw.get("max_selections") else value
        return _fixed(key, label, value, [str(o) for o in value], ", ".join(map(str, value)) or "none")
    value = container.multiselect(label, options, key=key, bind=URL, **kw)
    return _drawn(key, label, value, [str(o) for o in value], ", ".join(map(str, value)) or "none")


def url_labelled_multiselect(container, label: str, options, key: str, format_func, **kw) -> list:
    """A multiselect showing ``format_func(option)`` while URL parameter ``key`` holds ``str(option)``, repeated for
    several (``?f_model=cheb&f_model=mlp`` shows "ChebNet" and "MLP"): synced by hand, as ``url_labelled_choice``,
    since a bound widget would write the shown labels into the link. A link's value it does not offer is dropped
    with a notice."""
    options = list(options)
    by_str = {str(o): o for o in options}
    linked = st.query_params.get_all(key)
    bad = [v for v in linked if v not in by_str]
    if bad:
        note_link_value(key, ",".join(bad), "choose from " + (", ".join(by_str) or "no value yet"))
    good = [by_str[v] for v in dict.fromkeys(linked) if v in by_str]
    if classroom.hidden(key):
        if bad:
            st.query_params.pop(key, None)  # never bound: the page's own parameter
            if good:
                st.query_params[key] = [str(o) for o in good]
        return _fixed(key, label, good, [str(o) for o in good], ", ".join(map(str, map(format_func, good))) or "none")
    value = container.multiselect(label, options, default=good, key=key, format_func=format_func, **kw)
    if st.query_params.get_all(key) != [str(o) for o in value]:
        if value:
            st.query_params[key] = [str(o) for o in value]
        else:
            st.query_params.pop(key, None)
    return _drawn(key, label, value, [str(o) for o in value], ", ".join(map(str, map(format_func, value))) or "none")


def url_toggle(container, label: str, key: str, **kw) -> bool:
    raw = st.query_params.get(key)
    bad = raw is not None and raw.lower() not in ("true", "false")
    if bad:
        _note_bad_link_value(key, "true or false")
    if classroom.hidden(key):
        if bad:
            _drop_link_value(key)
        value = bool(kw.get("value", False)) if raw is None or bad else raw.lower() == "true"
        return _fixed(key, label, value, str(value).lower(), "on" if value else "off")
    value = container.toggle(label, key=key, bind=URL, **kw)
    return _drawn(key, label, value, str(value).lower(), "on" if value else "off")


def url_setting(container, spec, default):
    """The control for a model's declared setting (``core.models.settings.Setting``), bound to the URL by its name."""
    if spec.control == "slider":
        lo, hi = (int(spec.lo), int(spec.hi)) if isinstance(default, int) else (float(spec.lo), float(spec.hi))
        return url_slider(container, spec.label, lo, hi, default, spec.name, help=spec.help or None)
    if spec.control == "toggle":
        return url_toggle(container, spec.label, spec.name, value=bool(default), help=spec.help or None)
    extra = {"horizontal": True} if spec.control == "radio" else {}
    return url_choice(
        container, spec.label, spec.options, default, spec.name, widget=spec.control, help=spec.help or None, **extra
    )


def url_notices(container=st) -> None:
    """Show, once, which values of the opened link were invalid and replaced by defaults.

    Call it after the page's last URL-bound widget, with a container placed near the top.
    """
    notes = st.session_state.pop("_url_notices", {})
    if notes:
        container.warning(
            "Some settings in this link are not valid and were replaced by their defaults: "
            + "; ".join(notes.values()),
            icon=":material/link_off:",
        )
    classroom.on_notices(container)  # and a hide= key that is no control of this page (ui/classroom.py)


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
            values[name] = url_choice(
                container, name, choices, spec.default, key, widget="radio", help=spec.help, horizontal=True
            )
            continue
        if spec.default is None and not url_toggle(container, f"use {name}", f"{key}_on", help=spec.help):
            continue  # an optional parameter that is switched off
        lo, hi = spec.min, spec.max
        start = spec.default if spec.default is not None else lo
        if isinstance(start, int) and isinstance(lo, int):
            values[name] = url_slider(container, name, lo, hi, start, key, help=spec.help)
        else:
            values[name] = url_slider(
                container, name, float(lo), float(hi), float(start), key, step=0.01 if hi <= 1 else 0.05, help=spec.help
            )
    return values


# The copying itself, shared by Copy link and the Classroom link builder (ui/classroom.py): JavaScript placed inside
# each widget's own function scope. ``copyShown(field, status, text, said)`` shows ``text`` in the read-only field
# (selected, in view: it opens below its button, often under the sidebar's bottom edge), copies it (the clipboard API,
# else the older execCommand), and writes ``said(copied)`` into the status line below it.
COPY_SHOWN_JS = """
  const copyShown = async (field, status, text, said) => {
    field.value = text;
    field.hidden = false;
    field.select();
    field.scrollIntoView({block: "nearest"});
    let copied = false;
    try { await navigator.clipboard.writeText(field.value); copied = true; }
    catch (e) { try { copied = document.execCommand("copy"); } catch (e2) {} }
    status.textContent = said(copied);
    status.scrollIntoView({block: "nearest"});
  };
"""

# The link is read in the browser at the moment of copying, so it is exactly the address bar: every widget bound to
# the URL and every parameter a page writes, including ones set inside a fragment after the sidebar was drawn (a link
# assembled on the server missed those). The markup is constant: nothing from the URL or the user goes into it.
_COPY_LINK_HTML = (
    """
<div class="gcl-copy-link" style="display:flex;flex-direction:column;gap:0.35rem">
  <button id="gcl-copy" type="button" title="Copy the address of this page as it is now"
    style="width:100%;padding:0.4rem 0.75rem;border-radius:0.5rem;border:1px solid rgba(128,128,128,0.4);
           background:transparent;color:inherit;font:inherit;cursor:pointer">Copy link</button>
  <input id="gcl-link" readonly aria-label="Link to this page as it is now" hidden
    style="width:100%;font-family:monospace;font-size:0.75rem;padding:0.25rem;border-radius:0.4rem;
           border:1px solid rgba(128,128,128,0.4);background:transparent;color:inherit">
  <span id="gcl-copied" role="status" style="font-size:0.8rem;opacity:0.75"></span>
</div>
<script>
(() => {
  const button = document.getElementById("gcl-copy");
  if (!button || button.dataset.ready) return;
  button.dataset.ready = "1";"""
    + COPY_SHOWN_JS
    + """  button.addEventListener("click", () => copyShown(
    document.getElementById("gcl-link"), document.getElementById("gcl-copied"),
    window.location.href,  // the address bar now, percent-encoded by the browser
    copied => copied ? "Copied: this link reopens the page as it is now."
                     : "Select the link above and copy it: it reopens the page as it is now."));
})();
</script>
"""
)


def copy_link_button(container=st.sidebar) -> None:
    """A Copy link button: it copies (and shows) the page's address as it is at the moment of the click; below it,
    the Classroom link builder (ui/classroom.py)."""
    container.html(_COPY_LINK_HTML, unsafe_allow_javascript=True)
    classroom.on_copy_link(container)
