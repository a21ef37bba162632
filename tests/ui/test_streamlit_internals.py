"""ui/streamlit_internals.py against the installed Streamlit, Starlette and uvicorn.

Each test drives the real library code the adapter depends on; one fails, by name, when an upgrade changes it. The
Streamlit internals run in real script runs (``AppTest``); a fragment's own rerun and the XSRF cookie only happen with
a real server and browser (``test_streamlit_internals_served.py``).
"""

from __future__ import annotations

import asyncio
import inspect
import io
import logging
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import pytest
from starlette.websockets import WebSocket, WebSocketDisconnect
from streamlit.testing.v1 import AppTest

from ui import streamlit_internals as internals
from ui.streamlit_internals import (
    DISCONNECT_LINE,
    DISCONNECT_LOGGERS,
    ClientDisconnectFilter,
    is_client_disconnect,
    quiet_client_disconnects,
)


async def _vanished_browser_error() -> BaseException:
    """What Streamlit's websocket handler raises when a browser leaves while the server sends to it.

    Replays its steps on Starlette's real WebSocket: the sender task's ``send_bytes`` meets the ``OSError`` of a
    closed socket, then the receive loop's ``receive_bytes`` fails and its ``except RuntimeError`` calls ``close()``.
    """
    inbox = [{"type": "websocket.connect"}]

    async def receive() -> MutableMapping[str, Any]:
        return inbox.pop(0)

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "websocket.send":
            raise OSError("the browser is gone")

    ws = WebSocket({"type": "websocket", "path": "/_stcore/stream", "headers": []}, receive, send)
    await ws.accept()
    with pytest.raises(WebSocketDisconnect):  # the sender task swallows this one
        await ws.send_bytes(b"a ForwardMsg")
    try:
        try:
            await ws.receive_bytes()
        except RuntimeError:  # Streamlit's handler: "a text frame", so it closes the socket
            await ws.close()
    except BaseException as exc:  # noqa: BLE001 - the exception itself is what this returns
        return exc
    raise AssertionError("Starlette no longer fails here: the race this adapter quiets may be gone")


def _log_through(logger_name: str, exc: BaseException) -> str:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    logger = logging.getLogger(logger_name)
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        try:
            raise exc
        except BaseException:
            logger.exception("Exception in ASGI application\n")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    return out.getvalue()


def test_a_vanished_browser_is_one_log_line_not_two_tracebacks():
    exc = asyncio.run(_vanished_browser_error())
    assert is_client_disconnect(exc)
    for name in DISCONNECT_LOGGERS:  # app.py installs the filter: page tests run earlier in this process ran it
        logger = logging.getLogger(name)
        for installed in [f for f in logger.filters if isinstance(f, ClientDisconnectFilter)]:
            logger.removeFilter(installed)
    assert _log_through("uvicorn.error", exc).count("Traceback") == 2  # what the server logged before the filter
    quiet_client_disconnects()
    quiet_client_disconnects()  # once per process: a second call adds nothing
    for name in DISCONNECT_LOGGERS:
        assert sum(isinstance(f, ClientDisconnectFilter) for f in logging.getLogger(name).filters) == 1
        text = _log_through(name, exc)
        assert text == f"INFO {name} {DISCONNECT_LINE}\n", text


def test_other_errors_keep_their_tracebacks():
    quiet_client_disconnects()
    try:
        raise ValueError("a real bug")
    except ValueError as exc:
        error = exc
    assert not is_client_disconnect(error)
    text = _log_through("uvicorn.error", error)
    assert text.startswith("ERROR uvicorn.error Exception in ASGI application") and "Traceback" in text
    assert "ValueError: a real bug" in text


def test_streamlits_websocket_handler_still_has_the_race_and_its_loggers():
    """When this fails, Streamlit changed its websocket handler: see whether the filter is still needed."""
    import uvicorn.protocols.websockets as uvicorn_websockets
    from streamlit.web.server.starlette import starlette_websocket

    source = inspect.getsource(starlette_websocket.create_websocket_handler)
    assert "except RuntimeError:" in source and "await websocket.close()" in source
    assert starlette_websocket._LOGGER.name in DISCONNECT_LOGGERS
    # uvicorn's websocket protocols (read, not imported: wsproto is not installed) log through "uvicorn.error"
    folder = Path(uvicorn_websockets.__file__).parent
    for impl in ("websockets_impl.py", "websockets_sansio_impl.py"):
        assert 'logging.getLogger("uvicorn.error")' in (folder / impl).read_text(), impl


# ---------------------------------------------------------------- the Streamlit internals, in real script runs
def unchanged(*names: str) -> None:
    """None of ``names`` fell back (a fallback logs a warning and is remembered for the whole process)."""
    fell_back = internals.changed_internals() & set(names)
    assert not fell_back, f"Streamlit internal(s) missing or changed: {sorted(fell_back)}"


def ran(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_get_script_run_ctx_is_there_in_a_run_and_not_outside():
    def script():
        import streamlit as st

        from ui import streamlit_internals as internals

        st.session_state["has_ctx"] = internals.script_run_ctx() is not None

    at = ran(AppTest.from_function(script))
    unchanged("get_script_run_ctx")
    assert at.session_state["has_ctx"], "get_script_run_ctx() gave no context inside a script run"
    assert internals.script_run_ctx() is None  # this test's own thread runs no script
    assert internals.page_script_hash() == "" and internals.script_session_id() is None
    from ui.classroom import hidden, hide_keys
    from ui.session import client_address, session_id

    assert hide_keys() == [] and not hidden("model")  # the helpers outside a run: no error, nothing hidden or known
    assert client_address() is None and session_id() is None and internals.widget_keys() == set()
    assert not internals.in_fragment() and internals.run_marker() is None


def test_page_script_hash_names_a_page_the_same_in_every_session(tmp_path):
    """ui.classroom remembers each page's controls under this hash, across runs and sessions."""
    (tmp_path / "main.py").write_text(
        "import streamlit as st\nst.navigation([st.Page('a.py', default=True), st.Page('b.py')]).run()\n"
    )
    for name in "ab":
        (tmp_path / f"{name}.py").write_text(
            "import streamlit as st\nfrom ui import streamlit_internals as internals\n"
            f"st.session_state.setdefault('seen', []).append(('{name}', internals.page_script_hash()))\n"
        )

    def hashes() -> dict[str, set[str]]:
        at = ran(AppTest.from_file(str(tmp_path / "main.py")))
        ran(at.switch_page("b.py"))
        ran(at)
        seen: dict[str, set[str]] = {}
        for page, value in at.session_state["seen"]:
            seen.setdefault(page, set()).add(value)
        return seen

    first, second = hashes(), hashes()
    unchanged("ScriptRunContext.page_script_hash")
    assert all(len(v) == 1 and "" not in v for v in first.values()), f"ScriptRunContext.page_script_hash: {first}"
    assert first["a"] != first["b"], "ScriptRunContext.page_script_hash is the same for two pages"
    assert first == second, "ScriptRunContext.page_script_hash differs between sessions"


def test_script_session_id_stays_over_reruns():
    def script():
        import streamlit as st

        from ui import streamlit_internals as internals

        st.session_state.setdefault("ids", []).append(internals.script_session_id())

    ids = ran(ran(AppTest.from_function(script))).session_state["ids"]
    unchanged("ScriptRunContext.session_id")
    # AppTest gives every session the same id; test_streamlit_internals_served.py tells two browsers apart
    assert ids[0] and ids[0] == ids[1], f"ScriptRunContext.session_id changed between reruns of one session: {ids}"


def _bound_then_hidden(unbind: bool) -> AppTest:
    """A slider bound to the link's ``n``, drawn once, then not drawn (a classroom link hiding it) for two runs."""

    def script():
        import streamlit as st

        from ui import streamlit_internals as internals

        if not st.session_state.get("hide"):
            st.session_state["drawn"] = st.slider("N", 1, 16, 4, key="n", bind="query-params")
        elif st.session_state.get("unbind"):
            internals.unbind_url_param("n")

    at = AppTest.from_function(script)
    at.query_params["n"] = "8"
    ran(at)
    assert at.session_state["drawn"] == 8 and at.query_params["n"] == "8"
    at.session_state["hide"], at.session_state["unbind"] = True, unbind
    return ran(ran(at))


def test_unbind_url_param_keeps_a_hidden_controls_link_value():
    kept = _bound_then_hidden(unbind=True)
    unchanged("QueryParams.get_binding_for_param/unbind_widget")
    assert kept.query_params.get("n") == "8", (
        "QueryParams.get_binding_for_param/unbind_widget: a hidden control lost its link value"
    )
    dropped = _bound_then_hidden(unbind=False)  # why it is needed: Streamlit drops an undrawn bound widget's value
    assert "n" not in dropped.query_params, "Streamlit keeps an undrawn bound widget's parameter: unbinding is moot"


def test_widget_keys_are_the_last_runs_keyed_widgets():
    """``ui.url_state.start_page`` reads them at the top of a run, before the page draws anything."""

    def script():
        import streamlit as st

        from ui import streamlit_internals as internals

        st.session_state.setdefault("seen", []).append(internals.widget_keys())
        st.slider("A", 0, 9, 3, key="a")
        st.text_input("B", key="b")
        st.button("Keyless")

    at = ran(ran(AppTest.from_function(script)))
    unchanged("SessionState._key_id_mapper")
    first, second = at.session_state["seen"]
    assert not {"a", "b"} & first
    assert {"a", "b"} <= second, f"SessionState._key_id_mapper: the last run's widget keys are {second}"


def test_in_fragment_body_inside_an_st_fragment_only():
    def script():
        import streamlit as st

        from ui import streamlit_internals as internals

        seen = st.session_state["seen"] = {"outside": internals.in_fragment_body()}

        @st.fragment
        def part():
            seen["inside"] = internals.in_fragment_body()
            seen["rerun"] = internals.is_fragment_rerun()  # the body runs in the full run here

        part()
        seen["after"] = internals.in_fragment_body()

    at = ran(AppTest.from_function(script))
    unchanged("ThreadState.fragment_id", "ScriptRunContext.fragment_ids_this_run")
    seen = at.session_state["seen"]
    assert seen["inside"], "ThreadState.fragment_id: a fragment's body is not recognised"
    assert not seen["outside"] and not seen["after"], f"ThreadState.fragment_id outside a fragment: {seen}"
    assert not seen["rerun"], "ScriptRunContext.fragment_ids_this_run is set in a full run"


def test_run_marker_is_each_runs_own():
    def script():
        import streamlit as st

        from ui import streamlit_internals as internals

        marker = internals.run_marker()
        checks = st.session_state.setdefault("checks", [])
        checks.append({"some": marker is not None, "new": marker is not st.session_state.get("last")})
        st.slider("x", 0, 9, key="x")
        checks[-1]["kept"] = internals.run_marker() is marker  # widgets drawn: still this run's
        st.session_state["last"] = marker

    at = ran(ran(ran(AppTest.from_function(script))))
    unchanged("ScriptRunContext.cursors")
    assert at.session_state["checks"] == [{"some": True, "new": True, "kept": True}] * 3, (
        f"ScriptRunContext.cursors is no per-run object: {at.session_state['checks']}"
    )


def test_xsrf_token_reads_the_cookie_streamlits_server_writes():
    from streamlit.web.server.starlette import starlette_app_utils, starlette_server_config

    assert starlette_server_config.XSRF_COOKIE_NAME == internals.XSRF_COOKIE, "the XSRF cookie's name changed"
    token = bytes(range(1, 17))
    one, two = (starlette_app_utils.generate_xsrf_token_string(token) for _ in range(2))
    assert one != two  # re-masked every time it is written...
    assert internals.xsrf_token(one) == internals.xsrf_token(f'"{two}"') == token  # ...the token under it stays
    assert starlette_app_utils.decode_xsrf_token_string(one)[0] == token
    for bad in (None, "", "1|ab|cd|0", "2|zz|cd|0", "2||cd|0", "2|ab|cd", token.hex()):
        assert internals.xsrf_token(bad) is None, bad


def test_a_changed_internal_is_warned_about_once(caplog):
    name = "test-only internal (never a real one)"
    with caplog.at_level(logging.WARNING, logger=internals.LOG.name):
        for _ in range(3):
            internals._changed(name, AttributeError("gone"))
    said = [r.getMessage() for r in caplog.records if name in r.getMessage()]
    assert len(said) == 1 and "AttributeError: gone" in said[0]
    assert name in internals.changed_internals()
