"""AppTest tests of the One node page: no runs, a stored GCN / ChebNet / learned-edge / steerable run, bad links."""

from ui_helpers import no_errors, open_page

NODE = "app_pages/node.py"


def _stored_run(model: str, **settings) -> int:
    """A finished run of ``model`` with an (untrained, seeded) checkpoint, without spending time on training."""
    import torch

    from core.graphs import build_graph
    from core.models import MODELS
    from core.training.runs import RunConfig
    from core.training.store import RunStore, checkpoint_path, save_checkpoint

    cfg = RunConfig(model=model, hidden=4, layers=2, epochs=1, quick=True, **settings)
    store = RunStore()
    run_id = store.create_run(cfg.to_dict(), name=cfg.label())
    torch.manual_seed(run_id)
    graph = None if model == "escnn" else build_graph(cfg.graph, size=28, **cfg.graph_params)
    net = MODELS.get(model)(cfg.model_config(), graph).eval()
    with torch.no_grad():  # a bias, so the arithmetic's bias step is not all zeros
        for name, p in net.named_parameters():
            if name.endswith("bias") and p.dim() == 1:
                p.uniform_(-0.1, 0.1)
    path = save_checkpoint(net.state_dict(), checkpoint_path(run_id))
    store.finish(run_id, {"test_accuracy": 0.1}, checkpoint=path)
    return run_id


def _match_line(at) -> str:
    lines = [s.value for s in at.success if "network's own activation" in s.value]
    assert lines, [s.value for s in at.success]
    return lines[0]


def _difference(line: str) -> float:
    return float(line.split("difference ")[1].split(" ")[0])


def test_node_page_without_runs_links_to_training(app):
    at = open_page(app, NODE)
    no_errors(at)
    assert at.title[0].value == "One node"
    assert any("No finished" in i.value for i in at.info), [i.value for i in at.info]
    links = at.get("page_link")
    assert links and "model=gcn" in str(links[0].proto), links


def test_node_page_shows_a_gcn_nodes_arithmetic(app):
    run_id = _stored_run("gcn")
    at = open_page(app, NODE)
    no_errors(at)
    assert at.selectbox(key="nd_run").value == run_id
    assert _difference(_match_line(at)) < 1e-5
    assert any("Sum of the products" in m.value for m in at.markdown)
    assert any("Bias and ReLU" in m.value for m in at.markdown)
    assert len(at.dataframe) >= 2  # neighbours, channels through W
    at.number_input(key="nd_row").set_value(0).run()
    at.number_input(key="nd_col").set_value(27).run()
    no_errors(at)
    assert any("Node 27 (row 0, column 27)" in h.value for h in at.subheader)
    at.selectbox(key="nd_layer").set_value(2).run()  # the 14 x 14 graph: the row and column stay on it
    no_errors(at)
    assert at.number_input(key="nd_col").value == 13
    assert _difference(_match_line(at)) < 1e-5
    at.selectbox(key="nd_in").set_value("through W").run()
    no_errors(at)
    assert _difference(_match_line(at)) < 1e-5


def test_node_page_cheb_and_learned_runs(app):
    cheb = _stored_run("cheb", K=3)
    learned = _stored_run("learned")
    at = open_page(app, NODE)
    no_errors(at)
    assert at.selectbox(key="nd_run").value == learned
    assert any("edge MLP predicted" in m.value for m in at.markdown)
    assert _difference(_match_line(at)) < 1e-5
    at.selectbox(key="nd_run").set_value(cheb).run()
    no_errors(at)
    assert any("Chebyshev terms" in m.value for m in at.markdown)
    assert _difference(_match_line(at)) < 1e-5


def test_node_page_steerable_run(app):
    _stored_run("escnn", group="C4")
    at = open_page(app, NODE)
    no_errors(at)
    assert any("cyclic shift by 1" in m.value for m in at.markdown), [m.value for m in at.markdown]


def test_node_page_bad_link_values_give_a_notice(app):
    run_id = _stored_run("gcn")
    app.query_params.update({"nd_run": "99999", "nd_row": "500", "nd_layer": "7"})
    at = open_page(app, NODE)
    no_errors(at)
    text = " ".join(w.value for w in at.warning)
    assert "nd_run=99999" in text and "nd_row=500" in text and "nd_layer=7" in text, text
    assert at.selectbox(key="nd_run").value == run_id
    assert _difference(_match_line(at)) < 1e-5
