"""Who is using the app: a browser's identity, so runs have owners and only their owner can stop them."""

from __future__ import annotations

import hashlib

import streamlit as st

from ui import streamlit_internals as internals


def session_id() -> str | None:
    """Who owns the runs this browser starts: a hash of Streamlit's XSRF token (a cookie that survives
    reloads and new tabs of the same browser, and differs between browsers), else the session's id.

    The cookie's text is re-masked on every page load, so the token itself is unmasked first
    (``ui.streamlit_internals.browser_token``); only a hash of it is stored with a run."""
    token = internals.browser_token()
    if token:
        return "browser-" + hashlib.sha256(token).hexdigest()[:16]
    return internals.script_session_id()


def client_address() -> str | None:
    """The visitor's network address as the server sees it (``st.context.ip_address``), or None (localhost, a
    test). Behind a proxy that does not pass the client's address, every visitor shows the proxy's: the run
    manager's per-address limit then covers them all together (``GRAPHCONV_ADDRESS_RUNS=0`` turns it off). Outside
    a script run (a page function called outside a session) Streamlit gives None too."""
    return st.context.ip_address
