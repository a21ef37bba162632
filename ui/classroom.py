"""Classroom links: ``hide=model,lr`` hides those controls of a page, which then take their values from the link.

A teacher sets a page up, ticks in the sidebar's "Classroom link" the controls the class should not touch and
copies the link; a learner who opens it sees the other controls only, and a caption saying what the link fixed.

Every URL-bound helper of ``ui.url_state`` asks ``hidden(key)`` first: a hidden control is not drawn, and its value
is the link's (checked as when drawn: an invalid one falls back to the default with the usual notice) or the
default. The link keeps the value: a widget that is not drawn has no binding, and Streamlit keeps unbound
parameters. Each helper records the control (``record``), so the builder lists this page's controls with their
labels, and a ``hide`` key that is no control of the page is ignored with a notice.

Some controls are drawn late in a page, and a page may ``st.stop()`` early (after which nothing can be drawn), so
the sidebar parts are placeholders drawn where the page calls ``copy_link_button`` / ``url_notices`` and again,
complete, by ``end_page`` (app.py, after the page ran to its end).
"""

from __future__ import annotations

import html
import json
import re
import threading
from typing import Any

import streamlit as st

from ui import streamlit_internals as internals
from ui.display import plain

HIDE = "hide"  # the URL parameter: comma-separated URL keys of the controls to hide
MAX_HIDE_CHARS = 2000  # a longer hide list is refused unread
KEY = re.compile(r"[A-Za-z0-9_]{1,64}")  # what a control's URL key looks like (keys are the app's own)
_STATE = "_classroom"  # per-run state in st.session_state
_LISTED = 12  # how many of a page's control keys a notice names

# Every control key seen on each page (by its script hash) in this server process: a key the page draws only in
# another configuration (a learned run's layer on the Filters page) is not a bad key. Keys are the app's own.
_KNOWN: dict[str, set[str]] = {}
_KNOWN_LOCK = threading.Lock()


# ---------------------------------------------------------------- the hide list
def parse_hide(values: list[str]) -> list[str] | None:
    """The keys of a link's ``hide`` (comma-separated, repeats allowed, blanks skipped, in order, once each), or
    None when it is too long to read."""
    if sum(len(v) for v in values) > MAX_HIDE_CHARS:
        return None
    keys: list[str] = []
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if part and part not in keys:
                keys.append(part)
    return keys


def hide_keys() -> list[str]:
    """The keys this page's link hides (``[]`` without a usable ``hide``, or outside a script run: Streamlit's
    ``st.query_params`` is then empty)."""
    return parse_hide(st.query_params.get_all(HIDE)) or []


def hidden(key: str) -> bool:
    """Whether the link hides the control bound to URL key ``key`` (then no widget holds its URL value)."""
    if key not in hide_keys():
        return False
    # a widget bound to ``key`` on an earlier run of this session is forgotten: Streamlit would take the parameter off
    # the link when the run ends (a bound widget not drawn again), and the hidden control keeps the link's value
    internals.unbind_url_param(key)
    return True


# ---------------------------------------------------------------- what this run drew
def _state() -> dict[str, Any]:
    run = st.session_state.get(_STATE)
    if not isinstance(run, dict) or run.get("run") is not internals.run_marker():
        run = _new_state()  # a run app.py did not begin (a fragment's own rerun): placeholders of no other run
    return run


def _new_state() -> dict[str, Any]:
    run = {
        "run": internals.run_marker(),
        "page": internals.page_script_hash(),
        "controls": {},
        "fixed": {},
        "fill": {},
        "slots": {},
        "drawn": {},
        "notice_in": None,
    }
    st.session_state[_STATE] = run
    return run


def record(key: str, label: str, url_value: Any, shown: str, is_hidden: bool) -> None:
    """Note a control of this page: ``url_value`` is its value as the link writes it (a string, or a list for a
    multiselect), ``shown`` as a person reads it."""
    run = _state()
    run["controls"][key] = label
    if key not in st.query_params:  # at its default: a classroom link states it, so the class gets this one
        run["fill"][key] = url_value
    else:
        run["fill"].pop(key, None)
    if is_hidden:
        run["fixed"][key] = (label, shown)
        _draw_fixed(run)
    with _KNOWN_LOCK:
        _KNOWN.setdefault(run["page"], set()).add(key)
    if "notice" in run["slots"]:  # an early notice called this key unknown (drawn late, after Copy link): correct it
        _draw_notice(run, None, final=False)


def known_keys() -> set[str]:
    """Every control key any page recorded in this server process (``ui.url_state.start_page`` forgets their values
    when the session moves to another page)."""
    with _KNOWN_LOCK:
        return set().union(*_KNOWN.values()) if _KNOWN else set()


def begin_page() -> None:
    """app.py, before the page runs: a fresh record, and the sidebar place for what the link fixed."""
    run = _new_state()
    run["slots"]["fixed"] = st.sidebar.empty()
    # ...and at the top of the page too: a phone folds the sidebar away, and a student should see what is fixed
    run["slots"]["fixed_main"] = st.empty()


def end_page() -> None:
    """app.py, after the page ran to its end: the builder with every control, and the notice on bad keys, final."""
    run = _state()
    if run["controls"] and "builder" not in run["slots"]:
        _builder_slot(run, st.sidebar)  # a page that has no Copy link
    _refresh(run, final=True)


# ---------------------------------------------------------------- drawing
def _slot_write(run: dict, name: str, content: Any, draw) -> None:
    """Draw ``content`` into placeholder ``name`` unless it already shows it (or no placeholder/fragment)."""
    slot = run["slots"].get(name)
    if slot is None or internals.in_fragment() or run["drawn"].get(name) == content:
        return
    run["drawn"][name] = content
    if content is None:
        slot.empty()
    else:
        draw(slot, content)


def fixed_text(fixed: dict[str, tuple[str, str]]) -> str | None:
    """The sidebar caption on the controls a link hides, or None."""
    from ui.url_state import shown_link_value

    if not fixed:
        return None
    return "Fixed by this link: " + ", ".join(
        f"{plain(label)} = {shown_link_value(shown)}" for label, shown in fixed.values()
    )


def _draw_fixed(run: dict) -> None:
    for name in ("fixed", "fixed_main"):
        _slot_write(
            run,
            name,
            fixed_text(run["fixed"]),
            lambda slot, text: slot.caption(
                text, help="The link you opened hides these controls: the page uses the values shown."
            ),
        )


def _builder_slot(run: dict, container) -> None:
    box = container.expander("Classroom link", icon=":material/school:")
    run["slots"]["builder"] = box.empty()


def builder_html(controls: dict[str, str], ticked: list[str], fill: dict[str, Any]) -> str:
    """The Classroom link builder: a checkbox per control (label shown, URL key its value), ``ticked`` ticked, and a
    button that copies the address bar as it is at the click with ``hide=`` the ticked keys. A ticked control at
    its default (absent from the address) gets its value from ``fill``, so the link fixes what the teacher saw.

    Keys are the app's own (checked against ``KEY``); labels and values are escaped. No value of the link goes in:
    ``fill`` holds only controls the address does not set."""
    rows = []
    for key, label in controls.items():
        if not KEY.fullmatch(key):
            continue
        rows.append(
            f'<label style="display:flex;gap:0.4rem;align-items:baseline;font-size:0.85rem">'
            f'<input type="checkbox" value="{key}"{" checked" if key in ticked else ""}>'
            f'<span>{html.escape(label)} <code style="font-size:0.7rem;opacity:0.7">{key}</code></span>'
            f"</label>"
        )
    from ui.url_state import COPY_SHOWN_JS

    fills = {k: v for k, v in fill.items() if k in controls and KEY.fullmatch(k)}
    return _BUILDER_HTML.format(
        rows="\n  ".join(rows),
        fill=html.escape(json.dumps(fills), quote=True),
        copy_shown=COPY_SHOWN_JS,
        base=html.escape(",".join(k for k in ticked if KEY.fullmatch(k)), quote=True),
    )


def _draw_builder(run: dict) -> None:
    ticked = [k for k in hide_keys() if k in run["controls"]]
    content = builder_html(run["controls"], ticked, run["fill"]) if run["controls"] else None
    _slot_write(run, "builder", content, lambda slot, body: slot.html(body, unsafe_allow_javascript=True))


def bad_keys(run: dict) -> list[str]:
    """The link's hide keys that are no control of this page (drawn this run, or in another of its configurations)."""
    with _KNOWN_LOCK:
        known = set(_KNOWN.get(run["page"], ())) | set(run["controls"])
    return [k for k in hide_keys() if k not in known]


def bad_keys_text(bad: list[str], controls: dict[str, str]) -> str:
    from ui.url_state import shown_link_value

    keys = list(controls)
    listed = ", ".join(f"`{k}`" for k in keys[:_LISTED]) + (", …" if len(keys) > _LISTED else "")
    return (
        "This link hides controls this page does not have, so they were ignored: "
        + "; ".join(f"{HIDE}={shown_link_value(k)}" for k in bad)
        + (f" (this page's controls: {listed})." if keys else " (this page has no controls to hide).")
    )


def _draw_notice(run: dict, container, final: bool) -> None:
    """The notice on hide keys that are no control here, in ``container`` (the page's notice place)."""
    text: str | None
    bad: list[str] | None
    if HIDE in st.query_params and parse_hide(st.query_params.get_all(HIDE)) is None:
        text = (
            f"This link's `{HIDE}` list is too long to read (at most {MAX_HIDE_CHARS} characters), so it was ignored."
        )
        bad = None
    else:
        bad = bad_keys(run)
        text = bad_keys_text(bad, run["controls"]) if bad else None
    if text is not None and "notice" not in run["slots"] and not internals.in_fragment():
        run["slots"]["notice"] = (container if container is not None else st).empty()
    _slot_write(run, "notice", text, lambda slot, t: slot.warning(t, icon=":material/link_off:"))
    if final and text is not None and not internals.in_fragment():  # said once, like other bad values: off the link
        keep = [k for k in hide_keys() if bad is not None and k not in bad]
        if keep:
            st.query_params[HIDE] = ",".join(keep)
        else:
            st.query_params.pop(HIDE, None)


def _refresh(run: dict, final: bool = False) -> None:
    _draw_fixed(run)
    _draw_builder(run)
    _draw_notice(run, run.get("notice_in"), final)


def on_copy_link(container) -> None:
    """``copy_link_button``: the builder's place below Copy link, drawn with the controls so far; a bad hide key is
    said at once (every page has Copy link near its top, and may stop before its notices)."""
    run = _state()
    if "builder" not in run["slots"] and not internals.in_fragment():
        _builder_slot(run, container)
    _draw_builder(run)
    _draw_fixed(run)
    _draw_notice(run, st, final=False)  # the page's place (st._main is st: it writes where st does)


def on_notices(container) -> None:
    """``url_notices``: the notice on bad hide keys goes to the page's notice place; drawn with what is known so far
    (a page that stops here keeps it; ``end_page`` corrects it)."""
    run = _state()
    if run.get("notice_in") is None and not internals.in_fragment():
        run["notice_in"] = container
    _refresh(run)


# The link is composed in the browser at the click, from the address bar as it is then (as Copy link does), with
# hide= the ticked keys; ticks survive the page's reruns (sessionStorage, per page and hide list).
_BUILDER_HTML = """
<div id="gcl-classroom" data-fill="{fill}" data-base="{base}" style="display:flex;flex-direction:column;gap:0.3rem">
  <span style="font-size:0.8rem;opacity:0.8">Tick the controls a class should not change, then copy: the link opens
  this page as it is now, without those controls.</span>
  {rows}
  <button id="gcl-class-button" type="button" title="Copy this page's address with the ticked controls hidden"
    style="width:100%;padding:0.4rem 0.75rem;border-radius:0.5rem;border:1px solid rgba(128,128,128,0.4);
           background:transparent;color:inherit;font:inherit;cursor:pointer">Copy classroom link</button>
  <input id="gcl-class-link" readonly aria-label="Classroom link" hidden
    style="width:100%;font-family:monospace;font-size:0.75rem;padding:0.25rem;border-radius:0.4rem;
           border:1px solid rgba(128,128,128,0.4);background:transparent;color:inherit">
  <span id="gcl-class-status" role="status" style="font-size:0.8rem;opacity:0.75"></span>
</div>
<script>
(() => {{
  const box = document.getElementById("gcl-classroom"), button = document.getElementById("gcl-class-button");
  if (!box || !button || button.dataset.ready) return;
  button.dataset.ready = "1";{copy_shown}
  const boxes = () => [...box.querySelectorAll('input[type="checkbox"]')];
  const memory = "gcl-classroom:" + window.location.pathname + ":" + box.dataset.base;
  try {{
    const saved = JSON.parse(window.sessionStorage.getItem(memory) || "null");
    if (Array.isArray(saved)) boxes().forEach(b => {{ b.checked = saved.includes(b.value); }});
  }} catch (e) {{}}
  box.addEventListener("change", () => {{
    try {{ window.sessionStorage.setItem(memory, JSON.stringify(boxes().filter(b => b.checked).map(b => b.value))); }}
    catch (e) {{}}
  }});
  button.addEventListener("click", async () => {{
    const keys = boxes().filter(b => b.checked).map(b => b.value);
    const fill = JSON.parse(box.dataset.fill || "{{}}");
    const url = new URL(window.location.href);  // the address bar now: every bound widget's value
    url.searchParams.delete("hide");
    for (const key of keys) {{
      if (!url.searchParams.has(key) && key in fill) [].concat(fill[key]).forEach(v => url.searchParams.append(key, v));
    }}
    const query = url.searchParams.toString();
    url.search = keys.length ? (query ? query + "&" : "") + "hide=" + keys.join(",") : query;
    const what = keys.length ? "the ticked controls are hidden" : "nothing is hidden: tick some controls first";
    const said = copied => (copied ? "Copied: " : "Select the link above and copy it: ") + what + ".";
    await copyShown(document.getElementById("gcl-class-link"), document.getElementById("gcl-class-status"),
                    url.toString(), said);
  }});
}})();
</script>
"""
