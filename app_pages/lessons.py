"""Lessons: one per source experiment, its runs trained beside the figures the source published.

URL keys: ``lesson`` (which lesson), ``ls_mode`` (quick or full), ``ls_show`` (a launched lesson's store kind,
``lesson:<key>:<mode>:<stamp>``, so a copied link reopens it). The lessons, their runs and published figures are
``core.analysis.lessons``; the live table is ``core.analysis.lesson_rows``.
"""

from typing import Any, Optional

import pandas as pd
import streamlit as st

from core.config import quick_mode
from core.analysis.lesson_rows import (MISSING, data_line, explain_links, findings, karate_rows, lesson_rows, settled,
                                       stored_lessons, table)
from core.analysis.lessons import LESSONS, launch_plan, lesson_configs, member_kinds, new_lesson_kind, parse_lesson_kind
from ui import classroom
from ui.display import guarded, labelled, plain
from ui.resources import from_store, manager
from ui.session import client_address, session_id
from ui.url_state import copy_link_button, refuse_link_value, url_choice, url_labelled_choice, url_notices

THIS_PAGE = "app_pages/lessons.py"
COLUMNS = {"row": st.column_config.TextColumn(width="medium"),
           "test accuracy": st.column_config.NumberColumn(format="%.1f%%"),  # values in points, as the lines below
           "s/epoch": st.column_config.NumberColumn(format="%.2f"), "run": st.column_config.NumberColumn(format="%d")}

st.title("Lessons")
st.caption("Each lesson re-runs one published experiment on this machine: press **Run this lesson** and its runs "
           "train in the background, filling the table beside the figures the source published.")
notice = st.container()  # what the opened link held that could not be used (url_notices, at the end)
copy_link_button(st.sidebar)

raw_show = st.query_params.get("ls_show")
linked = parse_lesson_kind(raw_show)
if linked and "lesson" not in st.query_params and "lesson" not in st.session_state:
    st.query_params["lesson"] = linked[0]  # a link naming only the launch opens its lesson
key = url_labelled_choice(st, "Lesson", list(LESSONS), "tutorial", "lesson",
                          format_func=labelled({k: one.title for k, one in LESSONS.items()}))
lesson = LESSONS[key]
if classroom.hidden("lesson"):  # a classroom link fixed the lesson: no picker names it, so the page does
    st.subheader(lesson.title)
st.markdown(f"**The question.** {lesson.question}")
mode = url_choice(st, "Mode", ["quick", "full"], "quick", "ls_mode", widget="radio", horizontal=True,
                  help="quick: 1,000 training digits and few epochs (minutes). full: 4,000 digits and the epochs of "
                       "this project's own tables (much longer on a CPU).")
planned = lesson_configs(key, mode == "quick")
epochs = sorted({c["epochs"] if isinstance(c, dict) else c.epochs for c in planned})
st.caption(f"{mode.capitalize()} mode trains {len(planned)} run{'s' * (len(planned) != 1)} of "
           f"{' / '.join(map(str, epochs))} epochs" + (", here in the page (34 nodes: about a second each)."
                                                       if lesson.in_page else ", through the normal queue."))
if mode == "full" and quick_mode() and not lesson.in_page:
    st.caption("This server runs in quick mode (GRAPHCONV_QUICK): full mode keeps its epochs, on 1,000 digits.")


def karate_results(configs: list[dict]) -> dict:
    """The KarateClub lesson's models, trained together in one job of the karate worker pool (never in this
    script thread): ``{model: result}`` when done; while they train, ``{}`` and a fragment that reruns the page when
    they are done; the server busy or an invalid value: ``{}`` and one line saying so."""
    from core.analysis.karate import request_karate_set
    from core.training.jobs import BusyError

    try:
        job = guarded(lambda: request_karate_set(configs, owner=session_id()))
    except BusyError as err:
        st.warning(f"{str(err)[0].upper()}{str(err)[1:]}.", icon=":material/hourglass_top:")
        return {}
    if job is None:
        return {}
    if job.state == "done":
        return job.result
    if job.pending:
        karate_progress(configs)
    else:
        st.error(f"Training failed — {plain(job.error)}")
    return {}


@st.fragment(run_every=0.5)
def karate_progress(configs: list[dict]) -> None:
    """While the lesson's models wait or train in their worker: say so; rerun the page once they are done."""
    from core.analysis.karate import karate_set_state

    job = karate_set_state(configs)
    if job is None or not job.pending:
        st.rerun(scope="app")
    st.info(f"Training {len(configs)} networks on the karate club in a worker process: "
            + ("training now…" if job.state == "running" else "waiting for the worker…"), icon=":material/hourglass_top:")


def launch() -> Optional[str]:
    kind, plan = launch_plan(key, mode == "quick")
    manager().submit_many([cfg for cfg, _ in plan], session=session_id(), kind=[k for _, k in plan],
                          client=client_address())  # all of the lesson or none of it
    return kind


if st.button("Run this lesson", icon=":material/play_arrow:", type="primary", key="ls_run"):
    kind = new_lesson_kind(key, mode == "quick") if lesson.in_page else guarded(launch)
    if kind:  # shown below; the selector (or, for KarateClub, the page) writes it into the link
        st.query_params.pop("ls_show", None)
        st.session_state["ls_show"], raw_show = kind, None

# ---------------------------------------------------------------- which launch the table shows
shown = None
if lesson.in_page:
    wanted = st.session_state.get("ls_show") or raw_show
    if (parse_lesson_kind(wanted) or ("",))[0] == key:
        shown = st.query_params["ls_show"] = wanted
    elif raw_show is not None and (linked is None or linked[0] == key):
        refuse_link_value("ls_show", "lesson:karate:quick or lesson:karate:full")
    elif raw_show is not None:
        st.query_params.pop("ls_show", None)  # another lesson's launch: a lesson picked since
else:
    runs = from_store(lambda s: s.list_runs(limit=1000), then=lambda: url_notices(notice))
    stored = stored_lessons(runs, key)
    kinds = ["none"] + [s["kind"] for s in stored]
    labels = {s["kind"]: f"{s['label']} ({s['runs']} runs)" for s in stored}
    if st.session_state.get("ls_show") not in kinds:
        st.session_state.pop("ls_show", None)  # another lesson's launch: not this selector's option
    if raw_show not in kinds + [None]:
        if linked is None or linked[0] == key:  # a lesson picked since is not a bad link
            refuse_link_value("ls_show", "a lesson launch stored here")
        else:
            st.query_params.pop("ls_show", None)
    if len(kinds) > 1:
        shown = url_labelled_choice(st, "Reopen a launched lesson", kinds, "none", "ls_show",
                                    format_func=lambda k: labels.get(k, "— (the planned runs)"))
        shown = None if shown == "none" else shown
        if shown is None:
            st.query_params.pop("ls_show", None)  # the default stays out of the link, as other pages' defaults do


# ---------------------------------------------------------------- the table
def draw(rows: list[dict[str, Any]], kind: Optional[str], shown_mode: str) -> None:
    shown = pd.DataFrame(table(rows))
    shown["test accuracy"] = shown["test accuracy"].astype(float) * 100  # 92.5 (%), not 93%: a half point matters here
    st.dataframe(shown, hide_index=True, column_config=COLUMNS, placeholder=MISSING)
    for line in findings(lesson, rows):
        st.markdown(line)
    st.caption(f"**Why they differ.** {data_line(rows, shown_mode)} {lesson.why}")
    links = explain_links(lesson, rows, kind or "")
    if links:
        st.markdown("**Pages that explain the result**")
        for page, label, params in links:
            st.page_link(page, label=label, query_params=params, icon=":material/open_in_new:")
    if kind and settled(rows) and all(r["run"] is not None or lesson.in_page for r in rows):
        st.page_link(THIS_PAGE, label="Reopen this lesson (a link to keep)", icon=":material/history:",
                     query_params={"lesson": key, "ls_show": kind})


def queued_rows(kind: Optional[str]) -> tuple[list[dict[str, Any]], str]:
    if kind is None:
        return lesson_rows(lesson, mode, [], lambda _: []), mode
    shown_mode = parse_lesson_kind(kind)[1]

    def read(s):
        members = [r for k in member_kinds(kind) for r in s.list_runs(kind=k)]
        return lesson_rows(lesson, shown_mode, members, s.epochs, kind)

    return from_store(read), shown_mode


st.subheader("This lesson's numbers")
if lesson.in_page:
    shown_mode = parse_lesson_kind(shown)[1] if shown else mode
    results = karate_results(lesson_configs(key, shown_mode == "quick")) if shown else {}
    draw(karate_rows(lesson, shown_mode, {m: r for m, r in results.items() if r is not None}), shown, shown_mode)
    if results.get("gcn") is not None:
        from core.figures.karate import embedding_animation_figure

        st.plotly_chart(embedding_animation_figure(results["gcn"], title="GCN's last hidden layer as it trains"),
                        width="stretch", key="ls_karate_embedding")
else:
    first, first_mode = queued_rows(shown)
    if settled(first):
        draw(first, shown, first_mode)
    else:
        @st.fragment(run_every=2.0)
        def live() -> None:
            rows, shown_mode = queued_rows(shown)
            draw(rows, shown, shown_mode)
            if settled(rows):
                st.rerun()  # the whole page, once: the table stops polling

        live()
url_notices(notice)
