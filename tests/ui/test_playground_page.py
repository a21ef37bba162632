"""AppTest smoke tests of the Playground: a data-set digit through stored runs, turning it, links, no runs."""

import numpy as np
from ui_helpers import no_errors

PLAYGROUND = "app_pages/playground.py"


def test_playground_without_runs_says_how_to_train_one(app):
    at = app.run()
    at.switch_page(PLAYGROUND).run()
    no_errors(at)
    assert any("No finished run yet" in i.value for i in at.info)


def test_playground_answers_for_a_test_digit_and_at_every_angle(app):
    from core.analysis.playground import load_playground_model, probabilities
    from core.data.datasets import load_dataset
    from core.training.runs import RunConfig, execute
    from core.training.store import RunStore

    store = RunStore()
    cnn = execute(RunConfig(model="cnn", hidden=8, epochs=1, quick=True), store)["run_id"]
    mlp = execute(RunConfig(model="mlp", hidden=16, epochs=1, quick=True), store)["run_id"]
    at = app.run()
    at.switch_page(PLAYGROUND)
    at.query_params.update({"pg_src": "data set", "pg_digit": "5", "pg_angle": "90", "pg_runs": f"{cnn},{mlp}"})
    at.run()
    no_errors(at)
    assert at.multiselect(key="pg_runs_w").value == [cnn, mlp]
    digit = load_dataset("mnist-5k", quick=True).x_test[5].numpy()
    want = probabilities(load_playground_model(cnn, store), digit, 90)
    answer = next(c.value for c in at.caption if c.value.startswith(f"#{cnn} cnn"))
    assert f"#{cnn} cnn: **{int(want.argmax())}** ({want.max():.0%})" in answer and "answered in" in answer
    assert len(at.get("plotly_chart")) == 2  # the answer at every angle, the probabilities
    assert len(at.get("image")) == 3  # the turned digit, the CNN's two conv layers' feature maps
    assert "multiples of 90°" in " ".join(c.value for c in at.caption)
    assert at.get("download_button")[0].proto.label == "Download the digit (PNG)"
    at.selectbox(key="pg_inside").set_value(mlp).run()  # the MLP has no spatial layers
    no_errors(at)
    assert any("no spatial layers" in c.value for c in at.caption)
    assert np.isfinite(want).all()


def test_playground_link_with_unknown_runs_falls_back_with_a_notice(app):
    from core.training.runs import RunConfig, execute
    from core.training.store import RunStore

    cnn = execute(RunConfig(model="cnn", hidden=8, epochs=1, quick=True), RunStore())["run_id"]
    at = app.run()
    at.switch_page(PLAYGROUND)
    at.query_params.update({"pg_src": "data set", "pg_runs": "999,abc", "pg_angle": "400"})
    at.run()
    no_errors(at)
    assert at.multiselect(key="pg_runs_w").value == [cnn]  # the newest CNN instead
    notes = " ".join(w.value for w in at.warning)
    assert "pg_runs=999,abc" in notes and "pg_angle=400" in notes
