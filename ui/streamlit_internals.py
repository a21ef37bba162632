"""The one place that leans on Streamlit's (and its web server's) private behaviour.

Everything here depends on something Streamlit does not promise to keep. ``tests/ui/test_streamlit_internals.py``
checks each piece against the installed version, so an upgrade that changes one fails there, by name, instead of
quietly breaking a page.

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
from typing import Optional

# The loggers that report a vanished browser: uvicorn's websocket protocol ("Exception in ASGI application") and
# Streamlit's websocket sender ("Error sending websocket payload").
DISCONNECT_LOGGERS = ("uvicorn.error", "streamlit.web.server.starlette.starlette_websocket")

DISCONNECT_LINE = ("A browser closed its connection while the server was still sending to it "
                   "(Streamlit's websocket handler; its session was ended normally, nothing was lost).")


def _disconnected_class() -> Optional[type]:
    """Starlette's "this websocket is already disconnected" error, or None where this Starlette has none."""
    try:
        from starlette.websockets import WebSocketDisconnected
    except ImportError:
        return None
    return WebSocketDisconnected


def is_client_disconnect(exc: Optional[BaseException]) -> bool:
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
