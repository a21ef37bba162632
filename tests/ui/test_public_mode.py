"""Public mode on the pages: the Train page prices a run before Start and refuses one over the budget from a link;
the Compare page's search box and sweeps are refused whole; nothing is stored for a refused run."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]


def public_app(monkeypatch) -> AppTest:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("GRAPHCONV_PUBLIC", "1")  # quick mode follows
    monkeypatch.delenv("GRAPHCONV_QUICK", raising=False)
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)


def shown(elements) -> list[str]:
    """What the elements read on screen (their markdown source, with the escapes of ui.display.plain removed)."""
    return [e.value.replace("\\", "") for e in elements]


def stored_runs():
    from ui.resources import manager

    return manager().store.list_runs()


def test_the_train_page_prices_the_default_run_and_starts_it(monkeypatch):
    at = public_app(monkeypatch).run()
    at.switch_page("app_pages/train.py").run()
    assert not at.exception
    estimate = [c.value for c in at.caption if c.value.startswith("Estimated on this server: about ")]
    assert estimate and " MB (" in estimate[0], [c.value for c in at.caption]
    assert not [w.value for w in at.warning if "budget" in w.value]
    next(b for b in at.button if b.label == "Start").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert len(stored_runs()) == 1


def test_an_over_budget_link_is_refused_with_the_setting_to_lower(monkeypatch):
    at = public_app(monkeypatch)
    at.query_params.update({"model": "escnn", "group": "D16", "hidden": "128", "layers": "4"})
    at.run()
    at.switch_page("app_pages/train.py").run()
    assert not at.exception
    warned = [w for w in shown(at.warning) if "Over this server's budget" in w]
    assert (
        warned
        and "lower hidden from 128 to" in warned[0]
        and "allows 1,300 MB a run" in warned[0]
        and "GRAPHCONV" not in warned[0]
    ), warned  # the limit, not the operator's name for it
    next(b for b in at.button if b.label == "Start").click().run()
    assert not at.exception
    refused = shown(at.error)
    assert len(refused) == 1 and "lower hidden from 128 to" in refused[0], refused
    assert stored_runs() == []


def test_the_search_box_cannot_queue_an_oversized_net(monkeypatch):
    at = public_app(monkeypatch).run()
    at.switch_page("app_pages/compare.py").run()
    at.selectbox(key="se_model").set_value("escnn").run()
    at.text_input(key="se_space").set_value("group=D16; hidden=512; layers=6; epochs=500").run()
    at.slider(key="se_trials").set_value(1).run()
    next(b for b in at.button if b.label == "Launch search").click().run()
    assert not at.exception
    refused = shown(at.error)
    assert refused and any("this server allows" in r and "GRAPHCONV" not in r for r in refused), refused
    assert stored_runs() == []
