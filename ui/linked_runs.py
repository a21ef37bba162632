"""A page's side of links that carry their runs (``core.training.linked_runs``): check the runs a link names, say
in one line what is not as the link says, offer **Rebuild this run**, and write the definitions of the runs a page
shows back into its URL, so a copied link keeps them.

A page that reads run ids from its link calls :func:`checked_ids` with them before it uses them, and
:func:`write_defs` with the ids it ends up showing (after its own selection changed them). The link's ``run_defs``
value is untrusted: a bad one is noted through ``url_notices`` and the ids are read as a bare-id link's.
"""

from __future__ import annotations

import threading
from collections.abc import Container, Iterable, Sequence
from typing import Any

import streamlit as st

from core.errors import UserInputError
from core.training.linked_runs import (
    KEY,
    MAX_LINKED,
    LinkCheck,
    LinkedRun,
    check_linked,
    decode_defs,
    encode_defs,
    rebuild_config,
)
from core.training.runner import find_identical
from core.training.runs import RunConfig, run_title, validate
from core.training.store import ACTIVE_STATUSES, Run, StoreError
from ui.display import plain
from ui.nav import page
from ui.resources import from_store, manager
from ui.session import client_address, session_id
from ui.url_state import parse_run_id, shown_link_value

REBUILT = "_rebuilt_runs"  # session state: link id -> the id of the run Rebuild queued for it in this session
REBUILD_ERRORS = "_rebuild_errors"  # session state: link id -> why its Rebuild was refused (shown once)
# session state: the id of a run shown in place of a link's id (the same settings and seed) -> the line that said so.
# A page that then names that run in its link (Playground, Results) says it again while it shows it in this session:
# the Playground reruns itself once its browser's runtime is ready, which would otherwise take the line away at once.
IN_PLACE = "_shown_in_place"


def link_defs(box: Any = None) -> dict[int, LinkedRun]:
    """What this page's link says its runs were: {} for a bare-id link, or for a bad value, which ``box`` (if
    given) says in one line."""
    raw = st.query_params.get(KEY)
    try:
        return decode_defs(raw)
    except UserInputError as err:
        if box is not None:
            box.warning(
                f"This link's {KEY}={shown_link_value(str(raw))} was not used — {plain(err).split(': ', 1)[-1]}.",
                icon=":material/link_off:",
            )
        return {}


def checked_ids(ids: Sequence[int], container: Any = None, rebuild: bool = True) -> list[int]:
    """The ids to show for the run ids a link named: each id whose stored run is what the link says, or the run
    here with the link's settings and seed (said in one line), or the run Rebuild queued for it in this session.
    For an id nothing here matches, one line says so and (``rebuild``) a button queues the same config and seed;
    that id is left out until then. A bare-id link's ids are kept, with a notice."""
    return [shown for _, shown in checked(ids, container, rebuild) if shown is not None]


def checked(ids: Sequence[int], container: Any = None, rebuild: bool = True) -> list[tuple[LinkCheck, int | None]]:
    """:func:`checked_ids` with each id's :class:`LinkCheck`: ``(check, id to show or None)``."""
    box = container if container is not None else st
    defs = link_defs(box)
    rebuilt: dict[int, int] = st.session_state.setdefault(REBUILT, {})
    checks = from_store(lambda s: check_linked(s, list(ids), defs))
    out: list[tuple[LinkCheck, int | None]] = []
    bare = [c.asked for c in checks if c.state == "unchecked"]
    if len(bare) > 1:  # one line for all of a link's bare ids (Compare may name hundreds)
        shown_ids = ", ".join(map(str, bare[:8])) + (f" and {len(bare) - 8} more" if len(bare) > 8 else "")
        box.info(
            f"This link names runs {shown_ids} by their numbers only (made before links carried their runs, or more "
            f"than the {MAX_LINKED} a link defines), so they cannot be checked against the runs it was made for.",
            icon=":material/link_off:",
        )
    for check in checks:
        if check.state == "unchecked" and len(bare) > 1:
            out.append((check, check.run.id if check.run is not None else None))
            continue
        if check.rebuildable and check.asked in rebuilt:
            again = _stored(rebuilt[check.asked])
            if again is not None:
                box.info(
                    f"Rebuilding the link's run {check.asked} as run {again.id} ({again.status}); the link's figure: "
                    + (f"{check.linked.accuracy:.1%}." if check.linked and check.linked.accuracy is not None else "—."),
                    icon=":material/construction:",
                )
                out.append((check, again.id))
                continue
        line = check.message(run_title)
        in_place: dict[int, str] = st.session_state.setdefault(IN_PLACE, {})
        if check.state == "reused" and line and check.run is not None:
            in_place[check.run.id] = line
        elif check.state == "same" and check.run is not None:
            line = in_place.get(check.run.id, "")  # the run a reused id was replaced by, still shown: said again
        if line:
            box.info(line, icon=":material/link:" if check.state in ("same", "reused") else ":material/link_off:")
        if check.rebuildable and rebuild:
            _rebuild_button(check, box)
        out.append((check, check.run.id if check.run is not None else None))
    return out


def linked_run_shown(
    key: str,
    notice: Any,
    held: Container[int],
    *,
    once: bool = False,
    instead: str = "Show the runs stored here instead",
    later: str = "it shows here when it finishes",
) -> bool:
    """Check the run id a page's link holds under ``key`` against what the link says it was, for a page that shows
    one run of ``held`` (the ids it can show). A run here with the link's settings and seed takes the id's place in
    the link (said in one line, in ``notice``). False when the page has nothing to show for it yet:

    - the link's run is not here: one line and **Rebuild** say so, and no other run is shown in its place until
      the visitor asks with the ``instead`` button (the link stays as it is, so a click on Rebuild is read);
    - the run in its place is queued or training: a link to watch it on the Train page (``later`` says when this
      page shows it).

    ``once``: check only until the page's picker (a widget keyed ``key``) is drawn; after that it is the visitor's."""
    asked = parse_run_id(st.query_params.get(key))
    if asked is None or (once and key in st.session_state):
        return True
    ((check, shown),) = checked([asked], notice)
    if shown is None:  # a bare id this store lacks (the picker says so too), or the link's run is not here
        if not check.rebuildable or not held:  # nothing else to show: the page's own "no run yet" line follows
            return True
        if st.button(instead, key=f"{key}_instead", icon=":material/list:"):
            st.query_params.pop(key, None)
            write_defs([])
            st.rerun()
        return False
    if shown != asked:  # the run here with the link's settings and seed: the link names it now
        st.query_params[key] = str(shown)
        write_defs([shown])
    waiting = None if shown in held else _stored(shown)
    if waiting is not None and waiting.status in ACTIVE_STATUSES:
        watch_link(shown, waiting.status, later)
        return False
    return True


def watch_link(run_id: int, status: str, later: str = "it shows here when it finishes") -> None:
    """A link to the Train page, where a queued or training run (a rebuilt or reused one) is shown live."""
    st.page_link(
        page("train"),
        label=f"Watch run {run_id} train ({status}); {later}",
        icon=":material/model_training:",
        query_params={"run": str(run_id), **defs_for([run_id])},
    )


def _stored(run_id: int) -> Run | None:
    return from_store(lambda s: s.run(run_id))


def _rebuild_button(check: LinkCheck, box: Any) -> None:
    """**Rebuild this run**: queue the link's config and seed, like Start (the session's and the server's limits
    apply; a run here with the same settings and seed is reused). It acts in a callback, which Streamlit runs even
    when the page does not draw the button again (a page that rewrites its link's ids in the same run); a refusal
    is kept for the page to show on its next run."""
    assert check.linked is not None
    failed = st.session_state.get(REBUILD_ERRORS, {}).pop(check.asked, None)
    if failed:
        box.error(f"Rebuild run {check.asked} — {failed}", icon=":material/error:")
    box.button(
        f"Rebuild run {check.asked}",
        key=f"rebuild_{check.asked}",
        icon=":material/replay:",
        help="Train the link's run again here: the same settings and seed, so the same result in exact mode.",
        on_click=_rebuild,
        args=(check.asked, check.linked),
    )


def _rebuild(asked: int, linked: LinkedRun) -> None:
    """The Rebuild button's callback: queue (or reuse) the link's run, remember which run stands for ``asked``."""
    try:
        new_id = start_or_reuse(rebuild_config(linked), _Said())
    except (UserInputError, StoreError) as err:  # over a limit, a setting refused here, a store down: one line
        st.session_state.setdefault(REBUILD_ERRORS, {})[asked] = plain(err)
        return
    st.session_state.setdefault(REBUILT, {})[asked] = int(new_id)


class _Said:
    """Where start_or_reuse's "the same settings and seed..." line goes from a callback: nowhere (the page's check
    says it on the run that follows)."""

    def info(self, *_: Any, **__: Any) -> None:
        return None


_START = threading.Lock()  # one Start at a time looks for an identical run and queues: 24 clicks, one run


def start_or_reuse(config: RunConfig, box: Any = None) -> int:
    """Start's run: a stored run with exactly these settings and seed (finished, queued or training) is shown
    instead of training a copy that would give the same numbers, and ``box`` says so; else a new run, queued with
    this session's and this server's limits. Looking and queuing happen under one lock, so a class pressing Start
    on one classroom link at the same moment trains one run, not thirty."""
    planned = validate(config)
    mgr = manager()
    with _START:
        same = find_identical(mgr.store, planned)
        if same is None:
            return int(mgr.submit(planned, session=session_id(), client=client_address()))
    done = {"finished": "were trained", "running": "are training"}.get(same["status"], "are queued")
    (box if box is not None else st).info(
        f"The same settings and seed {done} in run {same['id']}: shown here; change the seed to train your own.",
        icon=":material/content_copy:",
    )
    return int(same["id"])


def write_defs(ids: Iterable[int]) -> None:
    """Put the definitions of the runs with ``ids`` (those this page shows; the first :data:`MAX_LINKED`) into its
    URL, keeping those the link gave for ids not stored here; drop the key when there are none. The URL is written
    only when its value changes."""
    wanted = _first_ids(ids)
    runs = _stored_runs(wanted)
    held = {r.id for r in runs}
    given = {i: d for i, d in link_defs().items() if i in wanted and i not in held} if wanted else {}
    kept = [{"id": d.id, "config": d.config, "summary": {"test_accuracy": d.accuracy}} for d in given.values()]
    text = encode_defs([*runs, *kept])
    if not text:
        st.query_params.pop(KEY, None)
    elif st.query_params.get(KEY) != text:
        st.query_params[KEY] = text


def _first_ids(ids: Iterable[int]) -> list[int]:
    """The first :data:`MAX_LINKED` distinct ids: all a link defines (Compare may tick hundreds)."""
    return list(dict.fromkeys(int(i) for i in ids))[:MAX_LINKED]


def _stored_runs(ids: Sequence[int]) -> list[Run]:
    """The stored runs of ``ids``, in their order (ids not stored are left out)."""
    return from_store(lambda s: [r for r in (s.run(i) for i in ids) if r is not None]) if ids else []


def defs_for(ids: Iterable[int]) -> dict[str, str]:
    """``{"run_defs": ...}`` for a link to another page that names these stored runs ({} for none)."""
    text = encode_defs(_stored_runs(_first_ids(ids)))
    return {KEY: text} if text else {}


# ---------------------------------------------------------------- a sweep's link (Compare's sw_show, sw_defs)
SWEEP_KEY = "sw_defs"  # what a sweep link's runs are: the same form as run_defs, under its own key
GONE_SWEEP = "_sw_gone"  # session state: the sweep id a link named that this server does not hold


def write_sweep_defs(members: Sequence[Run]) -> None:
    """Put the definitions of a shown sweep's runs (at most 12: a sweep's worth) into the link, or drop them."""
    ordered: list[Run] = sorted(members, key=lambda r: r.id)
    text = encode_defs(ordered)
    if text:
        st.query_params[SWEEP_KEY] = text
    else:
        st.query_params.pop(SWEEP_KEY, None)


def gone_sweep(asked: str | None, box: Any, name: Any) -> bool:
    """For a link whose sweep ``asked`` (a group id) is not stored here: when the link carries its runs
    (``sw_defs``), one line says so and **Rebuild this sweep** queues them again as a new sweep (the same settings
    and seeds); True when that was shown. ``name(group, configs)`` names a sweep (``core.training.sweep``)."""
    from core.training.sweep import as_group

    if asked not in (None, "none"):
        st.session_state[GONE_SWEEP] = asked
    asked = st.session_state.get(GONE_SWEEP)
    raw = st.query_params.get(SWEEP_KEY)
    if not asked or not raw:
        return False
    try:
        defs = decode_defs(raw, SWEEP_KEY)
    except UserInputError as err:
        box.warning(
            f"This link's sweep could not be read — {plain(err).split(': ', 1)[-1]}.", icon=":material/link_off:"
        )
        st.session_state.pop(GONE_SWEEP, None)
        return True
    if not defs:
        return False
    group = as_group(asked)
    linked = [defs[i] for i in sorted(defs)]
    box.info(
        f"This link's sweep ({name(group, [d.config for d in linked])}, {len(linked)} runs) is not on this server "
        "(it may have restarted on a fresh disk).",
        icon=":material/link_off:",
    )
    failed = st.session_state.pop("_sweep_rebuild_error", None)
    if failed:
        box.error(f"Rebuild this sweep — {failed}", icon=":material/error:")
    box.button(
        "Rebuild this sweep",
        key="sw_rebuild",
        icon=":material/replay:",
        help="Train the link's runs again here as a new sweep: the same settings and seeds.",
        on_click=_rebuild_sweep,
        args=(group.params if group is not None else (), linked),
    )
    return True


def _rebuild_sweep(params: Sequence[str], linked: Sequence[LinkedRun]) -> None:
    """The button's callback: queue the link's runs as a new sweep of the same settings, and show it."""
    from core.training.sweep import new_sweep_group

    try:
        configs = [rebuild_config(d) for d in linked]
        first, second = ([*params, None, None])[:2]
        group = new_sweep_group(first, second)
        manager().submit_many(configs, session=session_id(), client=client_address(), group=group)
    except (UserInputError, StoreError) as err:
        st.session_state["_sweep_rebuild_error"] = plain(err)
        return
    st.session_state.pop(GONE_SWEEP, None)
    st.session_state["sw_show"] = st.query_params["sw_show"] = group.id
