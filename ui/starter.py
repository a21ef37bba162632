"""The starter set on a page (``core.training.starter``): make sure it trains when the page has no run to show, and
show its progress, one bar per run, rerunning the whole page as soon as one of its runs ends."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import streamlit as st

from core.errors import UserInputError
from core.training.runs import run_title
from core.training.starter import (
    ACTIVE,
    STARTER_KIND,
    active_run,
    ensure_starter,
    fraction,
    queue_starter,
    starter_status,
    starter_training,
    status_text,
)
from ui.display import plain
from ui.resources import from_store, manager

__all__ = [
    "newly_finished",
    "queue_starter_run",
    "run_progress",
    "show_starter",
    "starter_failures",
    "starter_set",
    "starter_training",
    "waiting_run",
]
ABOUT = (
    "Three small runs train once on this server, for every visitor: a CNN and a ChebNet on upright digits, "
    "then a C8 steerable net on rotated digits. Each page that needs them picks them up as they finish."
)
ABOUT_ONE = "It trains once on this server, for every visitor; the page picks it up as soon as it finishes."


def starter_set(needed: bool = False) -> list[dict[str, Any]]:
    """The starter set's status (``core.training.starter.starter_status``); when ``needed`` (the page has no run it
    can use) it is first submitted, once per store, whoever asks first. A page reads it before its runs, so that
    every starter run it calls finished is among them."""
    if needed:
        from_store(lambda s: ensure_starter(manager(), s))
    return from_store(starter_status)


def _ended(status: list[dict[str, Any]]) -> set[int]:
    return {row["run_id"] for row in status if row["run_id"] is not None and row["state"] not in ACTIVE}


def show_starter(status: list[dict[str, Any]], purpose: str) -> None:
    """While a starter run is queued or training: the progress panel (``purpose``: what it is for, "the
    Playground"), which reruns the whole page as soon as one of the runs ends (see ``newly_finished``)."""
    if starter_training(status):
        starter_progress(tuple(sorted(_ended(status))), purpose)


@st.fragment(run_every=1.0)
def starter_progress(ended: tuple[int, ...], purpose: str) -> None:
    status = from_store(starter_status)
    if _ended(status) != set(ended):  # a run finished (or failed): the page reruns and answers with it
        st.rerun(scope="app")
    shown = [row for row in status if row["state"] is not None]
    if len(shown) == 1:  # one starter run asked for on its own (the Playground's steerable net): no "set"
        row = shown[0]
        state = status_text(row)[len(row["title"]) :].lstrip(" :")  # "40% (epoch 3/20)", "waiting for a training slot"
        st.markdown(f"**Training a {plain(row['title'])} so you can try {purpose}:** {plain(state)}")
        st.caption(ABOUT_ONE)
    else:
        st.markdown(
            f"**Training a starter set so you can try {purpose}:** "
            + " · ".join(plain(status_text(row)) for row in shown)
        )
        st.caption(ABOUT)  # above the bars: their number shrinks as runs finish
    for row in shown:
        if row["state"] in ACTIVE:
            st.progress(row["progress"], text=plain(status_text(row)))


def newly_finished(status: list[dict[str, Any]], usable: Collection[int], key: str) -> list[int]:
    """The finished starter runs among ``usable`` (a page's run ids) that this session's page has not taken in yet,
    oldest first; they are remembered in ``st.session_state[key]``, so each is handed over once (and one the visitor
    then removes from a selection stays removed)."""
    seen = st.session_state.setdefault(key, [])
    new = sorted(
        row["run_id"]
        for row in status
        if row["state"] == "finished" and row["run_id"] in usable and row["run_id"] not in seen
    )
    seen.extend(new)
    return new


def starter_failures(status: list[dict[str, Any]]) -> list[str]:
    """The starter runs that ended without weights, in words (for a page that has nothing else to show)."""
    return [plain(status_text(row)) for row in status if row["state"] in ("failed", "interrupted", "stopped")]


def queue_starter_run(model: str) -> tuple[int | None, str | None]:
    """A visitor's press: the starter run of ``model`` queued through the run manager (``core.training.starter.
    queue_starter``: cost check and limits; the run already queued or training on this server is reused), as
    (run id, None), or (None, why not in one line)."""
    from ui.session import client_address

    try:
        run_id, _ = from_store(lambda s: queue_starter(manager(), model, s, client=client_address()))
    except UserInputError as err:
        return None, plain(err)
    return run_id, None


def waiting_run(model: str) -> dict[str, Any] | None:
    """The run of ``model`` queued or training on this server that a page waits for (the starter's first), or None."""
    return from_store(lambda s: active_run(s, model))


def is_starter(run: dict[str, Any] | None) -> bool:
    """Whether ``run`` (a dict form, or None for no run) is a starter run, queued by a visitor's press."""
    return run is not None and run.get("kind") == STARTER_KIND


@st.fragment(run_every=1.0)
def run_progress(run_id: int, purpose: str) -> None:
    """A run someone else queued (not the starter's), which a page waits for: its progress bar, rerunning the whole
    page as soon as it ends (``purpose``: what the page will do with it)."""
    run = from_store(lambda s: s.get_run(run_id))
    if run is None or run["status"] not in ACTIVE:
        st.rerun(scope="app")
    prog = from_store(lambda s: s.progress(run_id))
    done = fraction(run, prog)
    state = "waiting for a training slot" if run["status"] == "queued" else f"{done:.0%}"
    st.markdown(f"**{plain(run_title(run))} is training on this server** ({state}): {plain(purpose)}")
    st.progress(done)
