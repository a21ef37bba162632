"""ui/streamlit_internals.py against the installed Streamlit, Starlette and uvicorn.

Each test drives the real library code the adapter depends on; one fails, by name, when an upgrade changes it.
"""

from __future__ import annotations

import asyncio
import inspect
import io
import logging
from pathlib import Path

import pytest
from starlette.websockets import WebSocket, WebSocketDisconnect

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

    async def receive() -> dict:
        return inbox.pop(0)

    async def send(message: dict) -> None:
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
    from streamlit.web.server.starlette import starlette_websocket
    import uvicorn.protocols.websockets as uvicorn_websockets

    source = inspect.getsource(starlette_websocket.create_websocket_handler)
    assert "except RuntimeError:" in source and "await websocket.close()" in source
    assert starlette_websocket._LOGGER.name in DISCONNECT_LOGGERS
    # uvicorn's websocket protocols (read, not imported: wsproto is not installed) log through "uvicorn.error"
    folder = Path(uvicorn_websockets.__file__).parent
    for impl in ("websockets_impl.py", "websockets_sansio_impl.py"):
        assert 'logging.getLogger("uvicorn.error")' in (folder / impl).read_text(), impl
