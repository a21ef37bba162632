"""The Lessons page: every lesson draws; Run this lesson queues the lesson's runs in its run group; links reopen it
read-only (no Run this lesson; Run your own copy below, hidden by hide=ls_own); identical runs are reused."""

from urllib.parse import parse_qsl

import pytest
from streamlit.testing.v1 import AppTest

from core.analysis.lessons import LESSONS, launch_plan, lesson_configs
from tests.ui.ui_helpers import APP, no_errors, open_page

PAGE = "app_pages/lessons.py"


def _links(at):
    return {p.proto.label: (p.proto.page, p.proto.query_string) for p in at.get("page_link")}


def _opens_cleanly(page: str, query: str) -> AppTest:
    """Open ``page`` (a page link's page) with the link's query string: no error, no notice about its values."""
    at = AppTest.from_file(APP, default_timeout=180).run()
    at.switch_page(f"app_pages/{page.rsplit('/', 1)[-1]}.py")
    at.query_params.update(dict(parse_qsl(query)))
    at.run()
    no_errors(at)
    assert not [w.value for w in at.warning if "link" in w.value], [w.value for w in at.warning]
    return at


def test_every_lesson_draws_its_question_and_planned_runs(app):
    at = open_page(app, PAGE)
    no_errors(at)
    assert at.selectbox(key="lesson").value == "tutorial"
    for key, lesson in LESSONS.items():
        at.selectbox(key="lesson").set_value(key).run()
        no_errors(at)
        assert not at.warning, [w.value for w in at.warning]
        assert any(lesson.question in m.value for m in at.markdown)
        planned = at.dataframe[0].value
        assert len(planned) == len(lesson_configs(key, True))
        assert set(planned["status"]) == {"not started"}
        assert list(planned["published"]) == [r.published for r in lesson.rows_in("quick")]
        assert any("Why they differ" in c.value for c in at.caption)
        at.radio(key="ls_mode").set_value("full").run()
        no_errors(at)
        assert len(at.dataframe[0].value) == len(lesson_configs(key, False))
        at.radio(key="ls_mode").set_value("quick").run()


def _shown(at) -> str:
    kind = at.query_params["ls_show"]
    return kind[0] if isinstance(kind, list) else kind


def _read_only(at) -> None:
    """A reopened launch: no Run this lesson; Run your own copy (a seed, a button) in a folded expander below."""
    assert not [b for b in at.button if b.key == "ls_run"]
    assert [e.label for e in at.expander if e.label != "Classroom link"] == ["Run your own copy"]
    assert at.number_input(key="ls_seed").value == 1 and at.button(key="ls_own_run")


def test_run_the_cheb_cnn_lesson_in_quick_mode(app):
    """Run this lesson stores the lesson's runs (ChebNet on the 8-neighbour grid, the CNN) in its launch's group;
    the table fills with their accuracy and epoch times, and a link reopens the finished lesson, read-only. A second
    visitor's Run this lesson while they train, and a student's own copy with the same seed once they finished,
    train nothing: they show the same runs and say so."""
    at = open_page(app, PAGE)
    at.selectbox(key="lesson").set_value("cheb-cnn").run()
    at.button(key="ls_run").click().run()
    no_errors(at)
    assert not at.warning, [w.value for w in at.warning]
    kind = _shown(at)
    assert kind.startswith("lesson:cheb-cnn:quick:")
    _read_only(at)  # the launch just started is shown as any reopened one: live table, own copy below
    from ui.resources import manager

    launch = manager().store.get_group(kind)
    assert (launch.type, launch.lesson, launch.mode, launch.seed) == ("lesson", "cheb-cnn", "quick", 0)
    runs = sorted(manager().store.list_runs(group=kind), key=lambda r: r["id"])
    second = AppTest.from_file(APP, default_timeout=180).run()  # another browser, while they are queued or training
    second.switch_page(PAGE)
    second.query_params["lesson"] = "cheb-cnn"
    second.run().button(key="ls_run").click().run()
    no_errors(second)
    assert _shown(second) == kind and len(manager().store.list_runs()) == 2  # nothing queued twice
    assert any(f"trained in runs {runs[0]['id']} and {runs[1]['id']}: shown here" in i.value for i in second.info)
    configs = [r["config"] for r in runs]
    assert [(c["model"], c["graph"], (c["graph_params"] or {}).get("neighbours")) for c in configs] == [
        ("cheb", "grid", 8),
        ("cnn", None, None),
    ]
    assert [c["epochs"] for c in configs] == [c.training.epochs for c in lesson_configs("cheb-cnn", True)]
    assert all(c["quick"] for c in configs) and {r["session"] for r in runs} != {None}
    for r in runs:
        assert manager().wait(r["id"], timeout=600)["state"] == "finished"
    at.run()
    no_errors(at)
    table = at.dataframe[0].value
    assert list(table["status"]) == ["finished", "finished"]
    assert list(table["run"]) == [r["id"] for r in runs]
    stored = [manager().store.get_run(r["id"])["summary"]["test_accuracy"] for r in runs]
    assert list(table["test accuracy"]) == pytest.approx([100 * a for a in stored])  # in points, 92.5 not 93
    assert (table["s/epoch"] > 0).all()
    lines = [m.value for m in at.markdown]
    assert any(
        line.startswith("ChebNet epoch = ") and line.endswith("x the CNN's (published 7.6-14.6x).") for line in lines
    ), lines
    links = _links(at)
    assert links["Spectral view: ChebNet's learned frequency responses"][1] == f"s_run={runs[0]['id']}"
    assert links["Compare runs: their settings and curves"][1] == f"cmp_runs={runs[0]['id']}%2C{runs[1]['id']}"
    reopen = links["Reopen this lesson (a link to keep)"]
    assert "lessons" in reopen[0] and "ls_show=lesson%3Acheb-cnn%3Aquick%3A" in reopen[1]
    spectral = _opens_cleanly(*links["Spectral view: ChebNet's learned frequency responses"])
    assert spectral.selectbox(key="s_run").value == runs[0]["id"]
    _opens_cleanly(*links["Compare runs: their settings and curves"])
    again = _opens_cleanly(*reopen)
    assert again.dataframe[0].value.equals(table)  # the student's table is the teacher's
    _read_only(again)
    again.number_input(key="ls_seed").set_value(0).run()
    again.button(key="ls_own_run").click().run()  # the teacher's seed: the teacher's runs, nothing trained
    no_errors(again)
    assert _shown(again) == kind and len(manager().store.list_runs()) == 2
    assert again.dataframe[0].value.equals(table)
    assert any(
        i.value.startswith(
            f"The same settings and seed were trained in runs {runs[0]['id']} and {runs[1]['id']}: shown here"
        )
        for i in again.info
    )


def test_a_classroom_link_hides_the_run_buttons(app):
    """hide=ls_own: the fresh page has no Run this lesson and a reopened launch no Run your own copy; the sidebar
    says what the link fixed, and the builder lists the control."""
    from core.training.store import RunStore

    launch, plan = launch_plan("cheb-cnn", True)
    store = RunStore()
    for cfg, part in plan:  # queued, as a launch just started: the reopened view is the same
        store.create_run(cfg.to_dict(), name=cfg.label(), group=part)
    at = _opens_cleanly("lessons", f"lesson=cheb-cnn&ls_show={launch.id}")
    _read_only(at)
    at.query_params["hide"] = "ls_own"
    at.run()
    no_errors(at)
    assert [e.label for e in at.expander] == ["Classroom link"] and not [
        b for b in at.button if b.key in ("ls_run", "ls_own_run")
    ]
    assert list(at.dataframe[0].value["status"]) == ["queued", "queued"]  # the table is still there
    assert any("Run this lesson and Run your own copy = not offered" in c.value for c in at.caption)
    assert not [w.value for w in at.warning if "hide" in w.value]  # a control of this page, not a bad key
    at.query_params.pop("ls_show")
    at.selectbox(key="ls_show").set_value("none").run()  # the fresh page under the same link
    no_errors(at)
    assert not [b for b in at.button if b.key in ("ls_run", "ls_own_run")]
    del at.query_params["hide"]
    at.run()
    assert at.button(key="ls_run")


def test_the_fixed_graph_links_open_their_filters(app):
    at = open_page(app, PAGE)
    for key, label in (
        ("tutorial", "Filters: the fixed Gaussian graph's filter"),
        ("cheb-cnn", "Filters: the 8-neighbour grid's fixed filter"),
    ):
        at.selectbox(key="lesson").set_value(key).run()
        filters = _opens_cleanly(*_links(at)[label])
        assert filters.radio(key="f_kind").value == ("gaussian" if key == "tutorial" else "grid")


def test_a_stored_lesson_reopens_from_its_link(app):
    """A link holding only ``ls_show`` opens that launch's lesson and its finished runs."""
    from core.training.runs import execute
    from core.training.store import RunStore

    store = RunStore()
    launch, plan = launch_plan("tutorial", True)
    kind = launch.id
    for cfg, part in plan:
        cfg.training.epochs = 1
        execute(cfg, store, run_id=store.create_run(cfg.to_dict(), name=cfg.label(), group=part))
    app.query_params["ls_show"] = kind
    at = open_page(app, PAGE)
    at.query_params["ls_show"] = kind
    at.run()
    no_errors(at)
    assert not at.warning, [w.value for w in at.warning]
    assert at.selectbox(key="lesson").value == "tutorial" and at.selectbox(key="ls_show").value == kind
    table = at.dataframe[0].value
    assert list(table["status"]) == ["finished"] * 4 and table["test accuracy"].notna().all()
    _read_only(at)
    assert "Compare runs: their settings and curves" in _links(at)


def test_the_karate_lesson_trains_in_a_worker_and_shows_in_the_page(app):
    import time

    from core.analysis.karate import karate_set_state

    at = open_page(app, PAGE)
    at.selectbox(key="lesson").set_value("karate").run()
    at.button(key="ls_run").click().run()
    no_errors(at)
    configs = lesson_configs("karate", True)
    deadline = time.time() + 120
    while time.time() < deadline and (karate_set_state(configs) is None or karate_set_state(configs).pending):
        time.sleep(0.2)  # the page's fragment polls the same; AppTest does not run fragments on a timer
    assert karate_set_state(configs).state == "done"
    at.run()
    no_errors(at)
    assert at.query_params["ls_show"] in ("lesson:karate:quick", ["lesson:karate:quick"])
    table = at.dataframe[0].value
    assert list(table["model"]) == ["GCN"] and 0 < table["test accuracy"][0] <= 100
    assert not [b for b in at.button if b.key in ("ls_run", "ls_own_run")]  # shown: read-only, nothing to queue
    assert any("of the 30 unlabelled members" in m.value for m in at.markdown)
    assert "k_model=gcn" in _links(at)["KarateClub: train it yourself, one layer type at a time"][1]
    assert at.get("plotly_chart")  # the embedding, animated over the epochs


def test_bad_link_values_give_a_notice(app):
    app.run()
    at = app.switch_page(PAGE)
    at.query_params.update({"lesson": "nope", "ls_mode": "slow", "ls_show": "lesson:tutorial:quick:0-x"})
    at.run()
    no_errors(at)
    notes = " ".join(w.value for w in at.warning)
    assert "lesson=nope (" in notes and "ls_mode=slow (" in notes
    assert "ls_show=lesson\\:tutorial\\:quick\\:0\\-x (" in notes  # quoted inert (ui.display.plain)
    assert at.selectbox(key="lesson").value == "tutorial" and at.radio(key="ls_mode").value == "quick"


def test_a_corrupt_run_database_gives_one_clear_error(app):
    import os
    from pathlib import Path

    db = Path(os.environ["GRAPHCONV_DATA_DIR"]) / "runs.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    garbage = b"this is not an SQLite database " * 64
    db.write_bytes(garbage)
    at = open_page(app, PAGE)
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error]
    assert any("corrupt" in e and "runs\\.db" in e for e in errors), errors  # quoted inert: runs\.db
    assert not any(str(db.parent) in e for e in errors), errors  # named in the data folder, not by its path
    assert db.read_bytes() == garbage


def test_runs_trained_for_another_page_are_reused_by_a_launch(app):
    """Every run of the lesson was already queued from elsewhere (same settings and seed, no lesson launch): Run
    this lesson queues nothing and shows those runs under a launch of its own, which its link reopens."""
    from core.training.store import RunStore

    store = RunStore()
    ids = [store.create_run(cfg.to_dict(), name=cfg.label(), kind="image") for cfg in lesson_configs("cheb-cnn", True)]
    at = open_page(app, PAGE)
    at.selectbox(key="lesson").set_value("cheb-cnn").run()
    at.button(key="ls_run").click().run()
    no_errors(at)
    assert len(store.list_runs()) == 2
    kind = _shown(at)
    assert kind.startswith("lesson:cheb-cnn:quick:") and not store.list_runs(group=kind)
    assert store.get_group(kind).lesson == "cheb-cnn"  # stored without runs of its own, so its link reopens it
    assert list(at.dataframe[0].value["run"]) == ids
    assert any(f"trained in runs {ids[0]} and {ids[1]}: shown here" in i.value for i in at.info)
    _read_only(at)
    again = AppTest.from_file(APP, default_timeout=180).run()
    again.switch_page(PAGE)
    again.query_params.update({"lesson": "cheb-cnn", "ls_show": kind})
    again.run()
    no_errors(again)
    assert not [w.value for w in again.warning if "link" in w.value], [w.value for w in again.warning]
    assert list(again.dataframe[0].value["run"]) == ids
    assert any(f"trained in runs {ids[0]} and {ids[1]}: shown here" in i.value for i in again.info)


def test_links_written_before_groups_were_stored_reopen_the_same_launch(app):
    """A data folder from the version that packed a launch into its runs' kind (schema 2), and links from then:
    ``ls_show=lesson:<key>:<mode>:<stamp>`` alone reopens that lesson's launch and its finished runs, with the rotation
    lesson's sweep part; ``ls_show=lesson:karate:quick`` opens the KarateClub lesson."""
    from core.config import data_dir
    from tests.core.training.old_store import write_schema_2

    stamp = "1700000000300-a1b2c3"
    launch, sweep = f"lesson:rotation:quick:{stamp}", f"sweep:{stamp}:restriction:lesson-rotation"
    _, plan = launch_plan("rotation", True)
    runs = [
        (launch if part.type == "lesson" else sweep, cfg.label(), cfg.to_dict(), {"test_accuracy": 0.9})
        for cfg, part in plan
    ]
    write_schema_2(data_dir() / "runs.db", runs)
    app.query_params["ls_show"] = launch
    at = open_page(app, PAGE)
    at.query_params["ls_show"] = launch
    at.run()
    no_errors(at)
    assert not at.warning, [w.value for w in at.warning]
    assert at.selectbox(key="lesson").value == "rotation" and at.selectbox(key="ls_show").value == launch
    table = at.dataframe[0].value
    assert list(table["run"]) == list(range(1, len(plan) + 1)) and list(table["status"]) == ["finished"] * len(plan)
    assert _links(at)["Compare: accuracy against the restriction depth"][1] == f"sw_show={sweep}".replace(":", "%3A")
    _read_only(at)

    karate = AppTest.from_file(APP, default_timeout=180)
    karate.query_params["ls_show"] = "lesson:karate:quick"
    karate.run()
    karate.switch_page(PAGE)
    karate.query_params["ls_show"] = "lesson:karate:quick"
    karate.run()
    no_errors(karate)
    assert not karate.warning, [w.value for w in karate.warning]
    assert karate.selectbox(key="lesson").value == "karate"
    assert karate.query_params["ls_show"] in ("lesson:karate:quick", ["lesson:karate:quick"])
