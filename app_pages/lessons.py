"""Lessons: one per source experiment, its runs trained beside the figures the source published.

URL keys: ``lesson`` (which lesson), ``ls_mode`` (quick or full), ``ls_show`` (a launched lesson's run group id,
``lesson:<key>:<mode>:<stamp>``, so a copied link reopens it; ``core.analysis.lessons.lesson_launch`` reads it).
The lessons, their runs and published figures are ``core.analysis.lessons``; the live table is
``core.analysis.lesson_rows``.

A link that names a launch opens it read-only: its table (live while it trains), and below it, smaller, **Run your
own copy** (a seed, a button). Both that and the fresh page's **Run this lesson** are the classroom control
``ls_own``, so a teacher's link with ``hide=ls_own`` offers no way to queue runs. Runs whose settings and seed were
trained (or are training) on this server already are reused, never trained twice
(``core.training.runner.identical_runs``), and the page says so in one line.
"""

import re
from typing import Any

import pandas as pd
import streamlit as st

from core.analysis.lesson_rows import (
    MISSING,
    data_line,
    existing_launch,
    findings,
    karate_rows,
    lesson_rows,
    ours_column,
    reused_line,
    settled,
    sources,
    stored_lessons,
    table,
)
from core.analysis.lessons import LESSONS, launch_configs, launch_plan, lesson_configs, lesson_launch, new_lesson_group
from core.config import quick_mode
from core.errors import UserInputError
from core.training.runner import REUSABLE, pick_identical
from core.training.store import Run, RunGroup
from ui import classroom
from ui.display import guarded, labelled, plain
from ui.lesson_links import show_lesson_links
from ui.nav import page
from ui.page_queries import LessonsQuery
from ui.resources import from_store, manager
from ui.session import client_address, session_id
from ui.url_state import copy_link_button, refuse_link_value, url_choice, url_labelled_choice, url_notices

OWN = "ls_own"  # the classroom control: the buttons that queue a lesson's runs (Run this lesson, Run your own copy)
OWN_LABEL = "Run this lesson and Run your own copy"
MAX_SEED = 2**31 - 1


def columns(ours: str, names: list[str]) -> dict[str, Any]:
    """The table's column widths: the model's name whole (as wide as the longest of ``names``) and pinned (a phone
    scrolls the rest beside it), every column in view at 1400 px."""
    longest = max((len(n) for n in names), default=10)
    return {
        "model": st.column_config.TextColumn(width=min(max(7 * longest + 24, 96), 230), pinned=True),
        "run": st.column_config.NumberColumn(format="%d", width=42),
        "status": st.column_config.TextColumn(width=78),
        "epochs": st.column_config.TextColumn(width=62),
        "test accuracy": st.column_config.NumberColumn(format="%.1f%%", width=98),  # in points: 92.5, not 93
        "s/epoch": st.column_config.NumberColumn(format="%.2f", width=64),
        ours: st.column_config.TextColumn(
            width=128,
            help="This project's own figure, trained in full mode: 4,000 training digits (quick mode: 1,000).",
        ),
        "published": st.column_config.TextColumn(width=112),
        "source": st.column_config.TextColumn(width=120),
    }


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
    st.info(
        f"Training {len(configs)} networks on the karate club in a worker process: "
        + ("training now…" if job.state == "running" else "waiting for the worker…"),
        icon=":material/hourglass_top:",
    )


# ---------------------------------------------------------------- a launch asked for by a button


def render() -> None:
    st.title("Lessons")
    st.caption(
        "Each lesson re-runs one published experiment on this machine: its runs train in the background and "
        "fill the table beside the figures the source published."
    )
    notice = st.container()  # what the opened link held that could not be used (url_notices, at the end)
    copy_link_button(st.sidebar)

    raw_show = st.query_params.get("ls_show")
    linked = lesson_launch(raw_show, from_store(lambda s: s.get_group(raw_show)) if raw_show else None)
    if linked and "lesson" not in st.query_params and "lesson" not in st.session_state:
        st.query_params["lesson"] = linked.lesson  # a link naming only the launch opens its lesson
    key = url_labelled_choice(
        st,
        "Lesson",
        list(LESSONS),
        "tutorial",
        "lesson",
        format_func=labelled({k: one.title for k, one in LESSONS.items()}),
    )
    lesson = LESSONS[key]
    if classroom.hidden("lesson"):  # a classroom link fixed the lesson: no picker names it, so the page does
        st.subheader(lesson.title)
    st.markdown(f"**The question.** {lesson.question}")
    mode = url_choice(
        st,
        "Mode",
        ["quick", "full"],
        "quick",
        "ls_mode",
        widget="radio",
        horizontal=True,
        help="quick: 1,000 training digits and few epochs (minutes). full: 4,000 digits and the epochs of "
        "this project's own tables (much longer on a CPU).",
    )
    planned = lesson_configs(key, mode == "quick")
    epochs = sorted({c["epochs"] if isinstance(c, dict) else c.training.epochs for c in planned})
    st.caption(
        f"{mode.capitalize()} mode trains {len(planned)} run{'s' * (len(planned) != 1)} of "
        f"{' / '.join(map(str, epochs))} epochs"
        + (", here in the page (34 nodes: about a second each)." if lesson.in_page else ", through the normal queue.")
    )
    if mode == "full" and quick_mode() and not lesson.in_page:
        st.caption(
            "This server is set up for short runs: here full mode keeps its epochs but trains on 1,000 digits, "
            "not 4,000."
        )

    def ask_launch(where: str, quick: bool, seed_key: str | None = None) -> None:
        """A button's callback: note the launch; the page starts it on this run, before it picks the table to show
        (the own-copy button sits below the table)."""
        seed = st.session_state.get(seed_key, 0) if seed_key else 0
        st.session_state["_ls_launch"] = {"key": key, "quick": quick, "seed": seed, "where": where}

    def start_launch(quick: bool, seed: int) -> dict[str, Any]:
        """Start one launch of this lesson with ``seed``: the runs whose config and seed were trained, or are queued or
        training, on this server already are reused, the others queued (all of them or none). Returns the note the page
        shows: ``{"launch": the id of the launch to show, "text", "level"}``."""
        if lesson.in_page:
            return {"launch": new_lesson_group(key, quick).id, "text": "", "level": "info"}
        launch, plan = launch_plan(key, quick, seed)
        found = from_store(lambda s: pick_identical(s.runs(status=REUSABLE), [cfg for cfg, _ in plan]))
        todo = [(cfg, part) for (cfg, part), run in zip(plan, found, strict=False) if run is None]
        if todo:
            manager().submit_many(
                [cfg for cfg, _ in todo],
                session=session_id(),
                group=[part for _, part in todo],
                client=client_address(),
            )  # all of the rest of the lesson or none of it
        else:  # every run reused: the launch that trained them, else this one, stored without runs of its own
            earlier = existing_launch(
                found, key, "quick" if quick else "full", seed, from_store(lambda s: s.groups("lesson"))
            )
            launch = earlier or from_store(lambda s: s.save_group(launch))
        launch_id = launch.id
        ids = [run.id for run in found if run is not None]
        if not ids:
            return {"launch": launch_id, "text": "", "level": "info"}
        named = f"run {ids[0]}" if len(ids) == 1 else "runs " + ", ".join(map(str, ids[:-1])) + f" and {ids[-1]}"
        rest = f"; {len(todo)} more queued" if todo else ""
        return {
            "launch": launch_id,
            "level": "info",
            "text": f"The same settings and seed were trained in {named}: shown here{rest}. Pick another seed under "
            f"**Run your own copy** to train your own.",
        }

    pending = st.session_state.pop("_ls_launch", None)
    if pending is not None and pending.get("key") == key:
        try:
            note = start_launch(bool(pending["quick"]), int(pending["seed"]))
        except UserInputError as err:  # a full queue, a budget: one line where the button was
            note = {"launch": None, "level": "error", "text": f"Could not queue the runs — {plain(err)}"}
        note["where"] = pending["where"]
        st.session_state["_ls_note"] = note
        if note["launch"]:  # shown below; the selector (or, for KarateClub, the page) writes it into the link
            st.query_params.pop("ls_show", None)
            st.session_state["ls_show"], raw_show = note["launch"], None
    note = st.session_state.get("_ls_note") or {}
    if note.get("level") == "error":
        st.session_state.pop("_ls_note", None)  # said once, where the button was

    def failed_here(where: str) -> None:
        """The launch asked for by the button at ``where`` could not be queued: one line, there."""
        if note.get("where") == where and note.get("level") == "error":
            st.error(note["text"], icon=":material/error:")

    # ---------------------------------------------------------------- which launch the table shows
    run_slot = st.container()  # the fresh page's Run this lesson, above the launches and the table
    shown = None  # the id of the launch the table shows (None: the planned runs)
    shown_launch = None  # that launch's group
    runs: list[Run] = []
    if lesson.in_page:
        wanted = st.session_state.get("ls_show") or raw_show
        wanted_launch = lesson_launch(wanted)
        if wanted_launch is not None and wanted_launch.lesson == key:
            shown = st.query_params["ls_show"] = wanted_launch.id  # the value asked for (lesson_launch)
            shown_launch = wanted_launch
        elif raw_show is not None and (linked is None or linked.lesson == key):
            refuse_link_value("ls_show", "lesson:karate:quick or lesson:karate:full")
        elif raw_show is not None:
            st.query_params.pop("ls_show", None)  # another lesson's launch: a lesson picked since
    else:
        runs = from_store(lambda s: s.runs(limit=1000), then=lambda: url_notices(notice))
        groups = from_store(lambda s: s.groups("lesson"), then=lambda: url_notices(notice))
        stored = stored_lessons([r.to_dict() for r in runs], groups, key)  # it reads the runs' dict form
        launch_ids = ["none"] + [s["id"] for s in stored]
        labels = {s["id"]: f"{s['label']} ({s['runs']} runs)" for s in stored}
        for extra in {st.session_state.get("ls_show"), raw_show} - set(launch_ids) - {None}:
            found = lesson_launch(extra, groups.get(extra))  # a launch whose every run was reused: no run of its own
            if found is not None and found.lesson == key and any(pick_identical(runs, launch_configs(found))):
                launch_ids.append(extra)
                labels[extra] = (
                    f"{lesson.title} · {found.mode}{f' · seed {found.seed}' if found.seed else ''} · runs trained "
                    "before"
                )
        if st.session_state.get("ls_show") not in launch_ids:
            st.session_state.pop("ls_show", None)  # another lesson's launch: not this selector's option
        if raw_show not in [*launch_ids, None]:
            gone = lesson_launch(raw_show)  # the link names a launch of this lesson that this server does not hold
            stamp = str(raw_show).rsplit(":", 1)[-1]
            if gone is not None and gone.lesson == key and re.fullmatch(r"\d{10,}(-[0-9a-f]{6})?(-s\d+)?", stamp):
                st.query_params.pop("ls_show", None)
                notice.info(
                    f"This link's launch of {lesson.title} ({gone.mode}"
                    + (f", seed {gone.seed}" if gone.seed else "")
                    + ") is not on this server (it may have restarted on a fresh disk). Run this lesson trains its "
                    "runs again: the same settings and seeds give the same figures, and any run still here is reused.",
                    icon=":material/link_off:",
                )
            elif linked is None or linked.lesson == key:  # a lesson picked since is not a bad link
                refuse_link_value("ls_show", "a lesson launch stored here")
            else:
                st.query_params.pop("ls_show", None)
        if len(launch_ids) > 1:
            shown = url_labelled_choice(
                st,
                "Reopen a launched lesson",
                launch_ids,
                "none",
                "ls_show",
                format_func=lambda k: labels.get(k, "— (the planned runs)"),
            )
            shown = None if shown == "none" else shown
            if shown is None:
                st.query_params.pop("ls_show", None)  # the default stays out of the link, as other pages' defaults do
            else:
                shown_launch = lesson_launch(shown, groups.get(shown))

    # The fresh page: the teacher's Run this lesson. A reopened launch is read-only: its runs, and below them (smaller)
    # a way to run one's own copy. Either is the classroom control ls_own.
    if shown is None:
        with run_slot:
            if classroom.hidden(OWN):
                classroom.record(OWN, OWN_LABEL, [], "not offered", is_hidden=True)
            else:
                classroom.record(OWN, OWN_LABEL, [], "offered", is_hidden=False)
                st.button(
                    "Run this lesson",
                    icon=":material/play_arrow:",
                    type="primary",
                    key="ls_run",
                    on_click=ask_launch,
                    args=("run", mode == "quick"),
                )
                failed_here("run")

    # ---------------------------------------------------------------- the table
    def draw(rows: list[dict[str, Any]], launch: RunGroup | None, shown_mode: str) -> None:
        ours = ours_column(lesson)
        frame = pd.DataFrame(table(rows, lesson))
        frame["test accuracy"] = frame["test accuracy"].astype(float) * 100  # 92.5 (%), not 93%: a half point matters
        st.dataframe(frame, hide_index=True, column_config=columns(ours, [r["row"] for r in rows]), placeholder=MISSING)
        if launch is not None and note.get("launch") == launch.id and note.get("text"):  # it reused runs: say which
            st.info(note["text"], icon=":material/info:")
        elif reused_line(rows):
            st.info(reused_line(rows), icon=":material/info:")
        for line in findings(lesson, rows):
            st.markdown(line)
        st.caption(
            f"**Why they differ.** {data_line(rows, shown_mode, quick_mode() and not lesson.in_page)} {lesson.why}"
        )
        cited = sources(rows)
        if cited:
            st.caption(f"**Source{'s' * (len(cited) > 1)}.** " + "; ".join(cited) + ".")
        show_lesson_links(lesson, rows, launch)
        if launch is not None and settled(rows) and all(r["run"] is not None or lesson.in_page for r in rows):
            st.page_link(
                page("lessons"),
                label="Reopen this lesson (a link to keep)",
                icon=":material/history:",
                query_params=LessonsQuery(lesson=key, show=launch.id).to_query(),
            )

    def queued_rows(launch: RunGroup | None) -> tuple[list[dict[str, Any]], str]:
        if launch is None:
            return lesson_rows(lesson, mode, [], lambda _: []), mode
        shown_mode = launch.mode

        def read(s):
            members = [r for group_id in launch.member_ids() for r in s.runs(group=group_id)]
            rows = lesson_rows(lesson, shown_mode, members, s.epochs, launch)
            if all(r["run"] is not None for r in rows):
                return rows
            # a row with no run of this launch: the identical run it reused (trained for another launch or page)
            same = pick_identical(s.runs(status=REUSABLE), launch_configs(launch))
            return lesson_rows(lesson, shown_mode, members, s.epochs, launch, same)

        return from_store(read), shown_mode

    st.subheader("This lesson's numbers")
    if lesson.in_page:
        shown_mode = shown_launch.mode if shown_launch else mode
        results = karate_results(lesson_configs(key, shown_mode == "quick")) if shown_launch else {}
        draw(
            karate_rows(lesson, shown_mode, {m: r for m, r in results.items() if r is not None}),
            shown_launch,
            shown_mode,
        )
        if results.get("gcn") is not None:
            from core.figures.karate import embedding_animation_figure

            st.plotly_chart(
                embedding_animation_figure(results["gcn"], title="GCN's last hidden layer as it trains"),
                width="stretch",
                key="ls_karate_embedding",
            )
    else:
        first, first_mode = queued_rows(shown_launch)
        if settled(first):
            draw(first, shown_launch, first_mode)
        else:

            @st.fragment(run_every=2.0)
            def live() -> None:
                rows, shown_mode = queued_rows(shown_launch)
                draw(rows, shown_launch, shown_mode)
                if settled(rows):
                    st.rerun()  # the whole page, once: the table stops polling

            live()

        if shown_launch is not None:  # read-only by default: one's own copy, below and smaller
            if classroom.hidden(OWN):
                classroom.record(OWN, OWN_LABEL, [], "not offered", is_hidden=True)
            else:
                classroom.record(OWN, OWN_LABEL, [], "offered", is_hidden=False)
                with st.expander(
                    "Run your own copy",
                    icon=":material/content_copy:",
                    expanded=note.get("where") == "own" and note.get("level") == "error",
                ):
                    shown_seed = shown_launch.seed
                    st.caption(
                        f"This table is the launch this link names (seed {shown_seed}). Your copy trains the same "
                        f"{len(first)} runs in {first_mode} mode with the seed you choose; runs already trained "
                        "here with the same settings and seed are shown instead of trained again."
                    )
                    st.number_input(
                        "Seed",
                        min_value=0,
                        max_value=MAX_SEED,
                        value=1,
                        step=1,
                        key="ls_seed",
                        help="Starts the weights, the order of the training digits and dropout. The same "
                        "seed gives the same numbers.",
                    )
                    st.button(
                        "Train my copy",
                        icon=":material/play_arrow:",
                        key="ls_own_run",
                        on_click=ask_launch,
                        args=("own", first_mode == "quick", "ls_seed"),
                    )
                    failed_here("own")
    url_notices(notice)


if __name__ == "__main__":  # Streamlit runs a page's file as __main__; an import (a test's) draws nothing
    render()
