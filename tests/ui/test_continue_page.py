"""Continue training on the pages: the Train page's "Continue N more epochs" and "Step (1 epoch)" start a new run
linked to the finished one and show it live; the Results page links a continuation and its parent both ways."""

import sqlite3

from tests.ui.ui_helpers import no_errors, open_page

TRAIN = "app_pages/train.py"
RESULTS = "app_pages/results.py"


def _finished_run(epochs: int = 1) -> int:
    from core.training.runs import RunConfig, execute

    return execute(RunConfig.make(model="mlp", hidden=8, epochs=epochs, quick=True, device="cpu"))["run_id"]


def _open_run(app, page: str, run_id: int):
    at = open_page(app, page)
    at.query_params["run"] = str(run_id)
    return at.run()


def _button(at, key):
    return next(b for b in at.button if b.key == key)


def test_step_continues_a_finished_run_as_a_new_linked_run(app):
    parent = _finished_run()
    at = _open_run(app, TRAIN, parent)
    no_errors(at)
    assert any(s.value.startswith(f"Run {parent} · ") for s in at.subheader)
    go, step = _button(at, "continue_run"), _button(at, "step_run")
    assert go.label == "Continue 3 more epochs" and step.label == "Step (1 epoch)"  # quick mode: 3 by default
    assert not go.disabled and not step.disabled
    step.click().run()
    no_errors(at)
    child = at.session_state["run_id"]
    assert child != parent and str(at.query_params["run"]).strip("[]'") == str(child)
    from ui.resources import manager, store

    assert manager().wait(child, timeout=120)["state"] == "finished"
    run = store().get_run(child)
    assert run["config"]["parent"] == parent and run["config"]["epochs"] == 2
    assert [e["epoch"] for e in store().epochs(child)] == [2]
    at.run()
    no_errors(at)
    assert any(s.value.startswith(f"Run {child} · ") for s in at.subheader)
    assert any(f"Continued from run {parent}" in c.value for c in at.caption)
    assert _button(at, "open_parent").label == f"Open run {parent}"
    assert not _button(at, "step_run").disabled  # a continuation can be stepped again

    _button(at, "open_parent").click().run()  # back to the parent, unchanged
    no_errors(at)
    assert at.session_state["run_id"] == parent
    assert [e["epoch"] for e in store().epochs(parent)] == [1]


def test_a_run_without_training_state_cannot_be_continued(app):
    parent = _finished_run()
    from core.training.store import RunStore

    with sqlite3.connect(RunStore().path) as conn:  # as stored before continuing existed
        conn.execute("DELETE FROM artifacts WHERE name = 'train_state'")
    at = _open_run(app, TRAIN, parent)
    no_errors(at)
    step = _button(at, "step_run")
    assert step.disabled and "before continuing existed" in step.help


def test_results_page_links_a_continuation_and_its_parent(app):
    from core.training.runs import continuation_config, execute
    from core.training.store import RunStore

    parent = _finished_run(2)
    child = execute(continuation_config(RunStore(), parent, 1))["run_id"]
    at = _open_run(app, RESULTS, child)
    no_errors(at)
    assert at.selectbox(key="run").value == child
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Epochs"] == "3 / 3"
    links = {link.proto.label: link.proto.query_string for link in at.get("page_link")}
    assert links[f"continued from run {parent}"] == f"run={parent}"
    assert any(f"Continued from run {parent} (epoch 3 here" in c.value for c in at.caption)

    at.selectbox(key="run").set_value(parent).run()
    no_errors(at)
    links = {link.proto.label: link.proto.query_string for link in at.get("page_link")}
    assert links[f"run {child}"] == f"run={child}"
