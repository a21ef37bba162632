"""The one place that leans on Streamlit's (and its web server's) private behaviour.

Everything here depends on something Streamlit does not promise to keep. ``tests/ui/test_streamlit_internals.py``
(AppTest) and ``tests/ui/test_streamlit_internals_served.py`` (a real server and browser) check each piece against the
installed version, so an upgrade that changes one fails there, by name, instead of quietly breaking a page. Where an
internal is missing or has changed at run time, the function logs ONE warning per process naming it
(``changed_internals()`` lists them) and falls back to what a plain Streamlit app would do.

- ``script_run_ctx()``, ``page_script_hash()``, ``script_session_id()``: the script run's context
  (``get_script_run_ctx``): which page runs (classroom keys are remembered per page) and the session's id (who owns a
  run when the browser sends no XSRF cookie).
- ``unbind_url_param(key)``: a hidden classroom control keeps its link value (``QueryParams.get_binding_for_param`` /
  ``unbind_widget``).
- ``in_fragment_body()``, ``is_fragment_rerun()``, ``in_fragment()``: whether this code runs inside a fragment
  (``ThreadState``, ``ScriptRunContext.fragment_ids_this_run``), where the sidebar's placeholders cannot be written.
- ``run_marker()``: an object that is this script run's own (``ScriptRunContext.cursors``).
- ``widget_keys()``: the keys of the widgets the session's last run drew (``SessionState._key_id_mapper``).
- ``browser_token()``, ``xsrf_token(cookie)``: the raw token of Streamlit's XSRF cookie, the same for every tab and
  reload of one browser (the cookie's version-2 format, ``2|mask|masked-token|time``).
- ``quiet_client_disconnects()``: a browser that goes away while the server is still sending to it (a closed tab, a
  phone that sleeps, a class leaving at the bell) makes Streamlit 1.67's Starlette websocket handler log two chained
  tracebacks. Its sender task gets the ``OSError``, marks the socket disconnected and stops quietly; the receive
  loop's next ``receive_bytes`` then raises Starlette's ``WebSocketDisconnected`` (a ``RuntimeError``), which the
  handler takes for a text frame and answers with ``close()``, which raises again; uvicorn logs the pair as
  "Exception in ASGI application". Nothing is lost (the session is disconnected in the handler's ``finally``), but a
  server log full of tracebacks hides the ones that matter. Starlette issue #2766 is the upstream discussion.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import streamlit as st

LOG = logging.getLogger(__name__)

# The loggers that report a vanished browser: uvicorn's websocket protocol ("Exception in ASGI application") and
# Streamlit's websocket sender ("Error sending websocket payload").
DISCONNECT_LOGGERS = ("uvicorn.error", "streamlit.web.server.starlette.starlette_websocket")

DISCONNECT_LINE = (
    "A browser closed its connection while the server was still sending to it "
    "(Streamlit's websocket handler; its session was ended normally, nothing was lost)."
)


def _disconnected_class() -> type | None:
    """Starlette's "this websocket is already disconnected" error, or None where this Starlette has none."""
    try:
        from starlette.websockets import WebSocketDisconnected
    except ImportError:
        return None
    return WebSocketDisconnected


def is_client_disconnect(exc: BaseException | None) -> bool:
    """Whether an exception, or one it was raised while handling, is Starlette's "already disconnected" error."""
    cls = _disconnected_class()
    seen = 0
    while exc is not None and cls is not None and seen < 8:
        if isinstance(exc, cls):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


class ClientDisconnectFilter(logging.Filter):
    """Turns a vanished browser's chained tracebacks into one INFO line; every other record passes unchanged."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if is_client_disconnect(exc):
            record.msg, record.args = DISCONNECT_LINE, ()
            record.exc_info, record.exc_text, record.stack_info = None, None, None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def quiet_client_disconnects() -> None:
    """Install ``ClientDisconnectFilter`` on the loggers that report a vanished browser (once per process)."""
    for name in DISCONNECT_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, ClientDisconnectFilter) for f in logger.filters):
            logger.addFilter(ClientDisconnectFilter())


# ---------------------------------------------------------------- when an internal is missing or changed
_CHANGED: set[str] = set()
_CHANGED_LOCK = threading.Lock()


def _changed(internal: str, exc: BaseException) -> None:
    """Log, once per process, that Streamlit internal ``internal`` is missing or changed (the caller falls back)."""
    with _CHANGED_LOCK:
        if internal in _CHANGED:
            return
        _CHANGED.add(internal)
    LOG.warning(
        "Streamlit internal %s is missing or has changed (Streamlit %s: %s: %s); falling back. "
        "tests/ui/test_streamlit_internals.py says what it should do.",
        internal,
        getattr(st, "__version__", "?"),
        type(exc).__name__,
        exc,
    )


def changed_internals() -> set[str]:
    """The internals this process found missing or changed (and warned about), by name."""
    with _CHANGED_LOCK:
        return set(_CHANGED)


# ---------------------------------------------------------------- the script run's context
def script_run_ctx() -> Any:
    """The running script's ``ScriptRunContext`` (``streamlit.runtime.scriptrunner.get_script_run_ctx``), or None
    outside a script run (a unit test, a worker thread without one).

    Relies on: Streamlit attaching a context to the thread (and the fragment's context) that runs a page."""
    try:
        from streamlit.runtime.scriptrunner import get_script_run_ctx
    except ImportError as exc:
        _changed("get_script_run_ctx", exc)
        return None
    return get_script_run_ctx()


def page_script_hash() -> str:
    """Which page this run shows (``ScriptRunContext.page_script_hash``), "" outside a run.

    Relies on: every ``st.Page`` having a hash that is the same in every session and run of this server and differs
    between pages (``ui.classroom`` remembers each page's control keys under it)."""
    ctx = script_run_ctx()
    if ctx is None:
        return ""
    try:
        return str(ctx.page_script_hash)
    except AttributeError as exc:
        _changed("ScriptRunContext.page_script_hash", exc)
        return ""


def script_session_id() -> str | None:
    """This browser tab's session id (``ScriptRunContext.session_id``), or None outside a run.

    Relies on: one id per session, the same on every rerun of it (``ui.session`` owns runs by it when the browser
    sent no XSRF cookie)."""
    ctx = script_run_ctx()
    if ctx is None:
        return None
    try:
        return str(ctx.session_id)
    except AttributeError as exc:
        _changed("ScriptRunContext.session_id", exc)
        return None


# ---------------------------------------------------------------- URL-bound widgets
def unbind_url_param(key: str) -> None:
    """Forget the widget bound (``bind="query-params"``) to URL parameter ``key`` on an earlier run of this session.

    Relies on: ``ctx.session_state.query_params()`` yielding Streamlit's ``QueryParams``, whose
    ``get_binding_for_param(key)`` gives the binding (with its ``widget_id``) and ``unbind_widget(widget_id)`` drops
    it. Without this, a bound widget that is not drawn again has its parameter taken off the link when the run ends,
    so a classroom link's hidden control would lose the link's value after its first rerun. Falls back to nothing (a
    freshly opened link is unaffected)."""
    ctx = script_run_ctx()
    if ctx is None:
        return
    try:
        with ctx.session_state.query_params() as qp:
            binding = qp.get_binding_for_param(key)
            if binding is not None:
                qp.unbind_widget(binding.widget_id)
    except (AttributeError, TypeError) as exc:
        _changed("QueryParams.get_binding_for_param/unbind_widget", exc)


def widget_keys() -> set[str]:
    """The user keys of every widget the session's last run drew (``set()`` outside a run).

    Relies on: ``ctx.session_state._state._key_id_mapper.id_key_mapping`` (widget id -> the ``key=`` it was given).
    ``ui.url_state.start_page`` forgets these values on a page switch; the fallback is the keys ``ui.classroom``
    recorded, which are the ones that leak between pages."""
    ctx = script_run_ctx()
    if ctx is None:
        return set()
    try:
        mapping = ctx.session_state._state._key_id_mapper.id_key_mapping
        return {k for k in mapping.values() if isinstance(k, str)}
    except AttributeError as exc:
        _changed("SessionState._key_id_mapper", exc)
        return set()


# ---------------------------------------------------------------- fragments and runs
def in_fragment_body() -> bool:
    """Whether this code runs inside an ``st.fragment`` function (in a full run or the fragment's own rerun).

    Relies on: ``streamlit.runtime.scriptrunner_utils.script_run_context.ThreadState.get().fragment_id`` being set
    while a fragment's body runs and None elsewhere. Falls back to False (only a fragment's own rerun is then
    recognised, by ``is_fragment_rerun``)."""
    if script_run_ctx() is None:
        return False
    try:
        from streamlit.runtime.scriptrunner_utils.script_run_context import ThreadState

        return ThreadState.get().fragment_id is not None
    except (ImportError, AttributeError, RuntimeError) as exc:  # RuntimeError: the thread's state is not set up
        _changed("ThreadState.fragment_id", exc)
        return False


def is_fragment_rerun() -> bool:
    """Whether this run is a fragment's own rerun (``run_every``, or a widget inside the fragment), not a full run.

    Relies on: ``ScriptRunContext.fragment_ids_this_run`` listing the fragments of such a run (None or empty in a full
    run). Falls back to False."""
    ctx = script_run_ctx()
    if ctx is None:
        return False
    try:
        return bool(ctx.fragment_ids_this_run)
    except AttributeError as exc:
        _changed("ScriptRunContext.fragment_ids_this_run", exc)
        return False


def in_fragment() -> bool:
    """Inside a fragment (its own rerun, or its body in a full run): the sidebar's placeholders cannot be written."""
    return in_fragment_body() or is_fragment_rerun()


def run_marker() -> object | None:
    """An object that is this script run's own: the same throughout one run, another in the next run (full, or a
    fragment's own rerun), None outside a run.

    Relies on: ``ScriptRunContext.reset`` giving ``ctx.cursors`` a new dict at the start of every run, fragment reruns
    included. Falls back to None, so per-run state is then kept across runs until app.py begins the next page."""
    ctx = script_run_ctx()
    if ctx is None:
        return None
    try:
        return ctx.cursors
    except AttributeError as exc:
        _changed("ScriptRunContext.cursors", exc)
        return None


# ---------------------------------------------------------------- the browser's XSRF cookie
XSRF_COOKIE = "_streamlit_xsrf"  # Streamlit's server (starlette_server_config.XSRF_COOKIE_NAME, Tornado's name)


def xsrf_token(cookie: str | None) -> bytes | None:
    """The raw token inside a version-2 XSRF cookie (``2|mask|masked|time``, hex; the 4-byte mask repeats, as a
    websocket mask), or None for anything else.

    Relies on: the format Tornado defined and Streamlit's server writes (``generate_xsrf_token_string``): the text is
    re-masked on every page load, the token under it stays."""
    parts = (cookie or "").strip("\"'").split("|")
    if len(parts) != 4 or parts[0] != "2":
        return None
    try:
        mask, masked = bytes.fromhex(parts[1]), bytes.fromhex(parts[2])
    except ValueError:
        return None
    return bytes(v ^ mask[i % len(mask)] for i, v in enumerate(masked)) if mask and masked else None


def browser_token() -> bytes | None:
    """The raw token of this browser's XSRF cookie: the same for every tab and reload of one browser, another in
    another browser. None without the cookie (AppTest, a server run with XSRF protection off).

    Relies on: Streamlit's server setting cookie ``XSRF_COOKIE`` (readable through ``st.context.cookies``) in the
    format ``xsrf_token`` reads. A cookie that is there but not in that format is warned about once."""
    cookies = st.context.cookies
    cookie = cookies.get(XSRF_COOKIE) if cookies else None
    if not cookie:
        return None
    token = xsrf_token(cookie)
    if token is None:
        _changed("the XSRF cookie's format", ValueError(f"{XSRF_COOKIE} is not 2|mask|token|time"))
    return token
