"""Where the run store lives, from Streamlit's secrets: ``GRAPHCONV_STORE_URL`` in ``.streamlit/secrets.toml`` or in
the Community Cloud's *Settings → Secrets* box.

The engine reads the address from the environment only (``core.config.store_url``: core never imports Streamlit),
so the app copies the secret there once, before the first page opens the store (:func:`store_url_from_secrets`, called
by ``app.py`` at start-up). An address already in the environment wins: an operator's explicit setting. No secrets
file, or no such key, leaves the embedded SQLite store in the data folder, without a word; a secrets file that
cannot be read is logged and treated the same, so the app still starts.
"""

from __future__ import annotations

import logging
import os

import streamlit as st

from core.config import STORE_URL_SETTING

log = logging.getLogger(__name__)


def store_url_from_secrets() -> str | None:
    """Copy ``st.secrets["GRAPHCONV_STORE_URL"]`` into the environment unless it is set there already; where the
    address came from: ``"environment"``, ``"secrets"``, or None (no address: SQLite in the data folder)."""
    if os.environ.get(STORE_URL_SETTING, "").strip():
        return "environment"
    try:
        value = st.secrets.get(STORE_URL_SETTING)
    except FileNotFoundError as err:  # no secrets file (Streamlit's error derives from it), or one it cannot parse
        if "pars" in str(err).lower():
            log.warning("the Streamlit secrets file could not be read; runs stay in SQLite: %s", err)
        return None
    if not isinstance(value, str) or not value.strip():
        return None
    os.environ[STORE_URL_SETTING] = value.strip()
    return "secrets"
