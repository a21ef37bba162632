"""A finished run's buttons open it on every page that can show it: each link's values are ones its page takes."""

import pytest

from core.analysis.node_arithmetic import KINDS
from tests.ui.ui_helpers import no_errors
from ui.links import run_links


@pytest.mark.parametrize("model", ["mlp", "cheb", "gat", "learned"])
def test_every_button_of_a_finished_run_opens_its_page_without_a_notice(app, model):
    from core.training.runs import RunConfig, execute

    run_id = execute(RunConfig.make(model=model, hidden=8, epochs=1, quick=True))["run_id"]
    from ui.resources import store

    links = run_links(run_id, store().get_run(run_id)["config"])
    pages = [page for page, *_ in links]
    assert "app_pages/results.py" in pages and ("app_pages/spectral.py" in pages) == (model == "cheb")
    assert ("app_pages/filters.py" in pages) == (model in ("gat", "learned"))  # a fixed graph's filter is not the run's
    assert ("app_pages/node.py" in pages) == (model in KINDS)  # one node's arithmetic: GCN, ChebNet, learned edges
    for page, label, _, query in links:
        at = app.run()
        at.switch_page(page)
        at.query_params.update(query)
        at.run()
        no_errors(at)
        notices = [w.value for w in at.warning if "link" in w.value or "`" in w.value]
        assert not notices, (label, query, notices)
        if page.endswith("equivariance.py"):
            assert any(v == run_id or str(v).startswith(f"#{run_id} ") for v in at.multiselect(key="runs").value)
        else:
            assert str(run_id) in " ".join(str(v) for v in at.query_params.values())
