"""The sweep launcher on the Compare page trains real runs in the background and plots them."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]


def test_launch_sweep_and_plot(monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("GRAPHCONV_QUICK", "1")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.switch_page("app_pages/compare.py").run()
    assert not at.exception
    at.selectbox(key="sw_model").set_value("mlp").run()
    at.slider(key="sw_epochs").set_value(1).run()
    at.selectbox(key="sw_param").set_value("seed").run()
    at.text_input(key="sw_values_seed").set_value("0, 1").run()
    at.selectbox(key="sw_param2").set_value("hidden").run()  # a 2 x 2 grid
    at.text_input(key="sw_values2_hidden").set_value("8, 16").run()
    next(b for b in at.button if b.label == "Launch sweep").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    kind = at.session_state["sweep"]
    from ui.common import manager

    ids = [r["id"] for r in manager().store.list_runs(kind=kind)]
    assert len(ids) == 4
    configs = [manager().store.get_run(i)["config"] for i in ids]
    assert sorted((c["seed"], c["hidden"]) for c in configs) == [(0, 8), (0, 16), (1, 8), (1, 16)]
    for run_id in ids:
        assert manager().wait(run_id, timeout=180)["state"] == "finished"
    at.run()
    assert not at.exception
    assert any("4 of 4 runs finished" in m.value for m in at.markdown)
    chart = at.get("plotly_chart")[0]
    assert "hidden = 8" in chart.proto.spec and "hidden = 16" in chart.proto.spec  # one line per hidden width
