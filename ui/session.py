"""Who is using the app: a browser's identity, so runs have owners and only their owner can stop them."""

from __future__ import annotations

import hashlib
from typing import Optional

import streamlit as st


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


def client_address() -> Optional[str]:
    """The visitor's network address as the server sees it (``st.context.ip_address``), or None (localhost, a
    test). Behind a proxy that does not pass the client's address, every visitor shows the proxy's: the run
    manager's per-address limit then covers them all together (``GRAPHCONV_ADDRESS_RUNS=0`` turns it off)."""
    try:
        return st.context.ip_address
    except Exception:  # no script run context (a page function called outside a session)
        return None
