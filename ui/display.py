"""How pages show things the same way: known failures as one line, run titles that wrap cleanly, runs tables."""

from __future__ import annotations

import re
from typing import Any, Callable

import streamlit as st

from core.errors import UserInputError

# how st.dataframe shows core.analysis.results.runs_table (Train and Compare pages)
RUNS_TABLE_COLUMNS = {"test accuracy": st.column_config.NumberColumn(format="percent"),
                      "images/s": st.column_config.NumberColumn(format="%.0f"),
                      "parameters": st.column_config.NumberColumn(format="localized")}


def unbroken(text: str) -> str:
    """``text`` with each parenthesised part kept on one line (no-break spaces and hyphens), so a title that wraps
    never leaves a lone ")" or half a setting on the next line."""
    return re.sub(r"\(([^()]*)\)", lambda m: "(" + m.group(1).replace(" ", "\u00a0").replace("-", "\u2011") + ")",
                  text)


def guarded(fn: Callable[[], Any]) -> Any:
    """Run ``fn``; show a clear ``st.error`` (no stack trace) for bad input and known failures."""
    from core.errors import DataUnavailableError

    try:
        return fn()
    except UserInputError as err:
        st.error(f"Invalid setting — {err}")
    except DataUnavailableError as err:
        st.error(f"Data unavailable — {err}")
    return None
