"""How pages show things the same way: known failures as one line, text from outside quoted inert (``plain``), run
titles that wrap cleanly, runs tables."""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Callable, Hashable, Mapping
from typing import Any

import streamlit as st

from core.config import shown_path, without_paths
from core.errors import UserInputError

# how st.dataframe shows core.analysis.results.runs_table (Train and Compare pages)
RUNS_TABLE_COLUMNS = {
    "test accuracy": st.column_config.NumberColumn(format="percent"),
    "images/s": st.column_config.NumberColumn(format="%.0f"),
    "parameters": st.column_config.NumberColumn(format="localized"),
}


# every ASCII punctuation character: CommonMark lets a backslash escape any of them, and an escaped one is plain text
_MARKS = re.compile(r"([!-/:-@\[-`{-~])")
# Streamlit's markdown (remark-gfm) also links bare URLs, www. names and e-mail addresses it finds in text AFTER the
# escapes are resolved, so escaping cannot stop those: their telltale characters become look-alikes (the text reads
# the same: "https:∕∕evil.example", "www․evil.example", "mail﹫evil.example") and no link can form.
_DEFANGED = {"://": ":\u2215\u2215", ".": "\u2024", "@": "\ufe6b"}  # "www." keeps its letters' case
_LINK_STARTS = re.compile(r"://|(?<=www)\.|@", re.IGNORECASE)


def plain(text: Any, limit: int | None = None) -> str:
    """``text`` made inert inside Streamlit markdown (st.error, st.warning, st.info, st.caption, st.markdown, labels):
    every ASCII punctuation character backslash-escaped, so no link, image, autolink (``https\\://``, ``www\\.``),
    HTML tag or entity, emphasis, code span, ``$`` LaTeX, ``:material/...:`` icon, ``:red[...]`` directive or table
    can form, and it reads exactly as given. A line break or tab becomes a space, so it stays on its line and cannot
    start a block (spaces, no-break ones included, stay); any other unprintable character (a control, zero-width or
    bidi character) becomes ``�``.

    ``limit`` cuts it to that many characters and marks the cut with ``…``. An exception stands for its message
    (:func:`error_line`: no absolute paths). Every page and UI helper that quotes what came from outside (a link's
    value, a typed setting, an error's text) into markdown goes through this one function."""
    if isinstance(text, BaseException):
        text = error_line(text)
    text = str(text)
    cut = limit is not None and len(text) > limit
    head = _LINK_STARTS.sub(lambda m: _DEFANGED[m.group(0)], text[:limit] if cut else text)
    return "".join(
        c if c.isprintable() or unicodedata.category(c) == "Zs" else " " if c.isspace() else "\ufffd"
        for c in _MARKS.sub(r"\\\1", head)
    ) + ("…" if cut else "")


def error_line(err: BaseException) -> str:
    """The line a visitor is shown for ``err``: its message, :func:`core.config.without_paths`; an ``OSError`` says what
    went wrong and which file, as :func:`core.config.shown_path` names it."""
    if isinstance(err, OSError) and err.filename is not None:
        return f"{err.strerror or type(err).__name__}: {shown_path(os.fsdecode(err.filename))}"
    return without_paths(str(err).strip()) or type(err).__name__


def labelled(labels: Mapping[Any, str], missing: str = "—") -> Callable[[Any], str]:
    """A widget's ``format_func`` that shows ``labels[option]``, and ``missing`` for a value that is no option (one a
    browser forged): a format function is called with what the browser sent, and must not raise on it."""
    return lambda option: labels.get(option, missing) if isinstance(option, Hashable) else missing


def unbroken(text: str) -> str:
    """``text`` with each parenthesised part kept on one line (no-break spaces and hyphens), so a title that wraps
    never leaves a lone ")" or half a setting on the next line."""
    return re.sub(r"\(([^()]*)\)", lambda m: "(" + m.group(1).replace(" ", "\u00a0").replace("-", "\u2011") + ")", text)


def guarded(fn: Callable[[], Any]) -> Any:
    """Run ``fn``; show a clear ``st.error`` (no stack trace) for bad input and known failures."""
    from core.errors import DataUnavailableError

    try:
        return fn()
    except UserInputError as err:
        st.error(f"Invalid setting — {plain(err)}")
    except DataUnavailableError as err:
        st.error(f"Data unavailable — {plain(err)}")
    return None
