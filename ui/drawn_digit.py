"""A drawn digit on a page, and in its link: the canvas (ui/draw_canvas.py), the drawing prepared as MNIST prepares
digits and written into the link on 16 grey levels (``core.data.image_io.encode_digit_link``), and a link's digit
(checked before it is decoded) shown until a stroke replaces it or Clear removes it. The Playground (``pg_ink``) and
the One node page (``nd_ink``) both read their drawing through :func:`drawn_digit`.

The browser prepares the drawing itself (static/playground/playground.mjs, exactly as ``mnist_digit`` does) and sends
the digit's link code with the PNG; that code, decoded here, is the digit, so the server and the browser's own
answers see the very same one. Without a code (an older page, a canvas the engine did not reach) the PNG is prepared
here, as before.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.data.image_io import (
    LINK_CHARS,
    decode_digit_link,
    drawing_ink,
    encode_digit_link,
    gray_png,
    mnist_digit,
    quantize_digit,
)
from core.errors import UserInputError
from ui.display import guarded
from ui.url_state import refuse_link_value

CANVAS = 280  # the drawing area's side in screen pixels (10 per digit pixel)
STROKE = 22  # brush width in screen pixels: about MNIST's stroke once scaled to the 20-pixel box
INK_RULE = f"a drawn digit as this page writes it: {LINK_CHARS} characters of A-Z, a-z, 0-9, - and _"


def prepared_drawing(png: bytes, code: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The canvas's PNG -> (digit (28, 28) in [0, 1] on the link's 16 grey levels, the ink as drawn (H, W) in [0, 1]);
    a blank drawing gives an all-zero digit. ``code``: the digit as the browser prepared it (a link's code), used when
    it decodes (``decode_digit_link`` checks it); else the PNG is prepared here. Raises UserInputError for a PNG
    outside the drawing limits (the PNG is always read: the download button hands it back)."""
    ink = drawing_ink(png)
    if code is not None and ink.max() > 0:
        try:
            return decode_digit_link(code), ink
        except UserInputError:
            pass  # not a digit this page writes: prepare the drawing here
    return quantize_digit(mnist_digit(ink)), ink


def linked_digit(ink_key: str) -> np.ndarray | None:
    """The digit the link holds under ``ink_key`` (None when it holds none); a value that is not one this app writes
    is dropped from the link with a notice (``url_notices``), its length and alphabet checked before any decoding."""
    linked = st.query_params.get(ink_key)
    if linked is None:
        return None
    try:
        return decode_digit_link(linked)
    except UserInputError:
        refuse_link_value(ink_key, INK_RULE)
        return None


def drawn_digit(container, canvas_key: str, ink_key: str) -> tuple[np.ndarray | None, bytes | None, str]:
    """(digit (28, 28) in [0, 1] or None, PNG bytes, where it came from: "your drawing", "link" or "") from the canvas
    drawn in ``container``, else from the link's ``ink_key``.

    A drawing is prepared as MNIST prepares digits, kept on the 16 grey levels a link holds and written into the link,
    so that the link reopens this very digit. With the canvas blank, the link's digit is returned until a stroke
    replaces it or Clear removes it; a blank canvas after this session's own drawing is a cleared one. A forged
    canvas value is one line in ``container`` (``guarded``), never an exception."""
    from ui.draw_canvas import draw_canvas, drawn_ink  # looked up at each call: page tests stand a fake canvas there

    own = f"_own_{ink_key}"

    def drop_linked_ink() -> None:  # Clear: the digit a link brought goes too (the canvas itself is already blank)
        st.query_params.pop(ink_key, None)

    with container:
        drawn = guarded(lambda: draw_canvas(key=canvas_key, size=CANVAS, stroke=STROKE, on_clear=drop_linked_ink))
        prepared = guarded(lambda: prepared_drawing(drawn, drawn_ink(canvas_key))) if drawn else None
    if prepared is not None and prepared[1].max() > 0:
        digit, ink = prepared
        code = encode_digit_link(digit)
        st.session_state[own] = code
        if st.query_params.get(ink_key) != code:
            st.query_params[ink_key] = code
        return digit, gray_png(ink), "your drawing"
    if st.query_params.get(ink_key) is not None and st.query_params.get(ink_key) == st.session_state.get(own):
        drop_linked_ink()  # this session's drawing, and the canvas is blank again: it was cleared
    digit = linked_digit(ink_key)
    return (digit, gray_png(digit, scale=10), "link") if digit is not None else (None, None, "")
