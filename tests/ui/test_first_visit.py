"""The first visit to a fresh server: the Playground (and the Equivariance page) train a starter set in the
background, show its progress, and answer with its runs once they finish (core.training.starter, ui.starter)."""

from tests.ui.ui_helpers import no_errors

PLAYGROUND, EQUIVARIANCE = "app_pages/playground.py", "app_pages/equivariance.py"
HEADLINE = "Training a starter set so you can try "


def compared(at) -> list[int]:
    """The run ids the Equivariance page compares (its multiselect holds run ids, or "#5 ..." labels)."""
    return [
        v if isinstance(v, int) else int(str(v).split(" ")[0].lstrip("#")) for v in at.multiselect(key="runs").value
    ]


def answer_line(at) -> str:
    return next(m.value for m in at.columns[0].markdown if " — answered in " in m.value)


def test_a_fresh_store_trains_the_starter_set_and_the_playground_answers_with_it(app, monkeypatch, served_manager):
    monkeypatch.setenv("GRAPHCONV_STARTER", "1")  # the app's default (the fixture turns it off for other tests)
    at = app.run()
    at.switch_page(PLAYGROUND)
    at.query_params.update({"pg_src": "dataset", "pg_digit": "0"})
    at.run()
    no_errors(at)
    headline = next(m.value for m in at.markdown if HEADLINE in m.value)
    assert "the Playground" in headline and "CNN" in headline and "ChebNet" in headline
    assert "C8 steerable net" in headline
    assert any("a starter set is training" in i.value for i in at.info)
    from core.training.starter import STARTER_KIND
    from ui.resources import manager

    mgr = manager()
    starter = sorted(r["id"] for r in mgr.store.list_runs(kind=STARTER_KIND))
    assert len(starter) == 3 and all(r["session"] is None for r in mgr.store.list_runs())

    at.switch_page(EQUIVARIANCE).run()  # the other page that needs runs shows the same set, and submits nothing more
    no_errors(at)
    assert any(HEADLINE + "the Equivariance page" in m.value for m in at.markdown)
    assert any("a starter set is training" in i.value for i in at.info)
    assert len(mgr.store.list_runs()) == 3

    cnn, cheb, _escnn = starter
    for run_id in (cnn, cheb):
        assert mgr.wait(run_id, timeout=300)["state"] == "finished"
    at.switch_page(PLAYGROUND).run()  # in a browser the progress panel reruns the page itself
    no_errors(at)
    line = answer_line(at)
    assert line.startswith(f"#{cnn} CNN: **") and f" · #{cheb} ChebNet" in line, line
    assert at.multiselect(key="pg_runs_w").value[:2] == [cnn, cheb]
    assert len(mgr.store.list_runs()) == 3  # runs exist now: nothing more was submitted

    at.switch_page(EQUIVARIANCE).run()
    no_errors(at)
    selected = [f"#{i}" for i in compared(at)]
    assert f"#{cnn}" in selected and f"#{cheb}" in selected


def test_a_starter_run_that_finishes_joins_the_runs_shown(app):
    """A starter run that finishes while the page is open joins the runs the page shows (it does not replace them),
    once: a run the visitor then removes stays removed."""
    from core.training.runs import RunConfig, execute
    from core.training.starter import STARTER_KIND
    from core.training.store import RunStore

    store = RunStore()

    def starter_run(cfg: RunConfig) -> int:  # as the starter's worker stores it
        run_id = store.create_run(cfg.to_dict(), name=cfg.label(), status="queued", kind=STARTER_KIND)
        return execute(cfg, store, run_id=run_id)["run_id"]

    cnn = starter_run(RunConfig.make(model="cnn", hidden=8, epochs=1, quick=True))
    at = app.run()
    at.switch_page(PLAYGROUND)
    at.query_params.update({"pg_src": "dataset", "pg_digit": "3"})
    at.run()
    assert at.multiselect(key="pg_runs_w").value == [cnn]
    assert not any(HEADLINE in m.value for m in at.markdown)  # nothing of the starter set is training: no panel
    cheb = starter_run(RunConfig.make(model="cheb", hidden=8, epochs=1, quick=True))
    at.run()  # what the progress panel does when a starter run ends
    no_errors(at)
    assert at.multiselect(key="pg_runs_w").value == [cnn, cheb]
    assert answer_line(at).startswith(f"#{cnn} CNN: **") and f" · #{cheb} ChebNet" in answer_line(at)
    at.multiselect(key="pg_runs_w").set_value([cheb]).run()
    at.run()
    assert at.multiselect(key="pg_runs_w").value == [cheb]  # handed over once: the visitor's choice stands


def test_a_starter_run_that_finishes_joins_the_runs_compared(app):
    """The Equivariance page too: a starter run that finishes joins the runs it compares."""
    from core.training.runs import RunConfig, execute
    from core.training.starter import STARTER_KIND
    from core.training.store import RunStore

    store = RunStore()

    def starter_run(cfg: RunConfig) -> int:
        run_id = store.create_run(cfg.to_dict(), name=cfg.label(), status="queued", kind=STARTER_KIND)
        return execute(cfg, store, run_id=run_id)["run_id"]

    cnn = starter_run(RunConfig.make(model="cnn", hidden=8, epochs=1, quick=True))
    at = app.run()
    at.switch_page(EQUIVARIANCE).run()
    assert compared(at) == [cnn]
    cheb = starter_run(RunConfig.make(model="cheb", hidden=8, epochs=1, quick=True))
    at.run()
    no_errors(at)
    assert sorted(compared(at)) == sorted([cnn, cheb])
