"""AppTest tests of the One node page: no runs, a stored GCN / ChebNet / learned-edge / steerable run, bad links."""

from tests.ui.ui_helpers import no_errors, open_page
from ui.url_state import shown_link_value

NODE = "app_pages/node.py"


def _stored_run(model: str, **settings) -> int:
    """A finished run of ``model`` with an (untrained, seeded) checkpoint, without spending time on training."""
    import torch

    from core.graphs import build_graph
    from core.models import MODELS
    from core.training.runs import RunConfig
    from core.training.store import RunStore, checkpoint_path, save_checkpoint

    cfg = RunConfig.make(model=model, hidden=4, layers=2, epochs=1, quick=True, **settings)
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
    # named as the map names it, everywhere: the heading, the row of Â, the maps' caption; no node number
    assert any(
        h.value == "The node at pixel (row 0, column 27) · graph conv 1, output channel "
        f"{at.slider(key='nd_out').value}"
        for h in at.subheader
    ), [h.value for h in at.subheader]
    assert any(m.value.startswith("**The row of Â for pixel (row 0, column 27): its ") for m in at.markdown)
    assert any("around pixel (row 0, column 27)" in c.value for c in at.caption)
    shown = " ".join(x.value for x in [*at.markdown, *at.subheader, *at.caption])
    assert "Node 27" not in shown and "Row 27 of" not in shown and "node 27" not in shown
    neighbours = at.dataframe[0].value
    assert list(neighbours.columns[:3]) == ["row", "column", "self-loop"] and "node" not in neighbours.columns
    assert (neighbours["row"].tolist(), neighbours["column"].tolist()) == ([0, 0, 1, 1], [26, 27, 26, 27])
    layers = at.selectbox(key="nd_layer")
    assert list(layers.options) == ["graph conv 1", "graph conv 2"]  # readable names (the link keeps 1, 2)
    layers.set_value(2).run()  # the 14 x 14 graph: the row and column stay on it
    no_errors(at)
    assert at.number_input(key="nd_col").value == 13 and at.query_params["nd_layer"] in ("2", ["2"])
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
    # L̃ is explained in one plain sentence where it first appears
    assert any(c.value.startswith("L̃ is the graph's scaled Laplacian, L̃ = 2L/λmax − I") for c in at.caption)
    # the Chebyshev table: the terms added (they and the bias make the pre-activation) and real shares (sum to 1)
    terms = next(d.value for d in at.dataframe if "k" in d.value.columns)
    added, share = "term added, Θₖ (TₖX)ᵢ", "share, |term| ÷ Σ |terms|"
    assert "share of the pre-activation" not in terms.columns
    line = next(m.value for m in at.markdown if m.value.startswith("**3 · Bias and ReLU**"))
    bias = float(line.split("+ b (")[1].split(")")[0])
    pre = float(line.split("= **")[1].split("**")[0])
    assert abs(terms[added].sum() + bias - pre) < 1e-5
    assert abs(terms[share].sum() - 1) < 1e-9 and (terms[share] >= 0).all()
    assert abs(terms[share] - terms[added].abs() / terms[added].abs().sum()).max() < 1e-12


def test_the_page_opens_on_the_newest_graph_net_not_a_newer_steerable_run(app):
    cheb = _stored_run("cheb", K=3)
    steerable = _stored_run("escnn", group="C4")
    assert steerable > cheb
    at = open_page(app, NODE)
    no_errors(at)
    assert at.selectbox(key="nd_run").value == cheb
    assert any("Chebyshev terms" in m.value for m in at.markdown)  # the arithmetic, not channel permutations
    line = next(c.value for c in at.caption if c.value.startswith("Showing "))
    assert line == (
        "Showing **Run 1 · ChebNet K=3 on the 8-neighbour grid (10.0%)**, the newest graph network, on "
        "test digit #0 (label 0). Pick another run — steerable nets too — or digit in the sidebar (» at "
        "the top left on a phone)."
    ), line
    runs = at.selectbox(key="nd_run")
    assert f"Run {steerable} · Steerable CNN C4 (10.0%)" in runs.options
    runs.set_value(steerable).run()  # still selectable
    no_errors(at)
    assert any("cyclic shift by 1" in m.value for m in at.markdown)
    assert any(h.value.startswith("Field 0 of steerable conv 1 at pixel (row ") for h in at.subheader)
    assert any(
        c.value.startswith(f"Showing **Run {steerable} · ") and ", the newest" not in c.value for c in at.caption
    )


def test_node_page_steerable_run(app):
    _stored_run("escnn", group="C4")
    at = open_page(app, NODE)
    no_errors(at)
    assert any(", the newest run, on test digit #0" in c.value for c in at.caption)  # no graph net at all
    assert any("cyclic shift by 1" in m.value for m in at.markdown), [m.value for m in at.markdown]
    at.query_params.update({"nd_ink": _a_six()[1]})
    at.selectbox(key="nd_src").set_value("draw").run()  # a drawn digit's field at a pixel
    no_errors(at)
    assert any(c.value.startswith("Showing ") and ", on the digit in the link." in c.value for c in at.caption)
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


# ---------------------------------------------------------------- a drawn digit (nd_src=draw, nd_ink)
def _a_six() -> tuple:
    """(a test 6 of mnist-5k, its link value from the encoder)."""
    from core.data.datasets import load_dataset
    from core.data.image_io import encode_digit_link

    ds = load_dataset("mnist-5k", quick=True)
    six = ds.x_test[int((ds.y_test == 6).nonzero()[0, 0])].numpy()
    return six, encode_digit_link(six)


def _network_value(run_id: int, image, at) -> float:
    """The network's own activation at the node and output channel the page shows, for ``image``, computed here."""
    from core.analysis.node_arithmetic import load_node_run, node_arithmetic, node_of
    from core.analysis.results import stored_run

    model, _ = load_node_run(stored_run(run_id))
    row, col = at.number_input(key="nd_row").value, at.number_input(key="nd_col").value
    na = node_arithmetic(model, image, 0, node_of(row, col, 28))
    return float(na.network[at.slider(key="nd_out").value])


def test_a_link_with_a_drawn_digit_shows_its_arithmetic(app):
    from core.data.image_io import decode_digit_link

    run_id = _stored_run("gcn")
    _six, ink = _a_six()
    app.query_params.update({"nd_run": str(run_id), "nd_src": "draw", "nd_ink": ink})
    at = open_page(app, NODE)
    no_errors(at)
    assert not at.warning, [w.value for w in at.warning]
    assert at.selectbox(key="nd_src").value == "draw" and "nd_digit" not in {s.key for s in at.slider}
    assert any(c.value.startswith("Showing ") and ", on the digit in the link." in c.value for c in at.caption)
    assert any("came with the link" in c.value for c in at.caption)
    line = _match_line(at)
    assert _difference(line) < 1e-5
    own = _network_value(run_id, decode_digit_link(ink), at)  # the arithmetic ran on the linked 6
    assert f"The network's own activation: {own:.6f}," in line, (own, line)
    assert at.query_params["nd_ink"] in (ink, [ink])  # the link keeps the digit
    at.selectbox(key="nd_src").set_value("dataset").run()  # back to the data set: the drawing leaves the link
    no_errors(at)
    assert "nd_ink" not in at.query_params and at.slider(key="nd_digit").value == 0


def test_a_corrupt_drawn_digit_in_a_link_gives_a_notice(app):
    from streamlit.testing.v1 import AppTest

    from tests.ui.ui_helpers import APP

    run_id = _stored_run("gcn")
    _, ink = _a_six()
    app.query_params.update({"nd_run": str(run_id), "nd_src": "draw"})
    at = open_page(app, NODE)
    for forged in ("abc", "A" * 523, "%" * 600, "A" * 5000, ink[:-1] + "~", "x" * 100_000):
        at.query_params.update({"nd_ink": forged})
        at.run()
        no_errors(at)
        notes = " ".join(w.value for w in at.warning)
        assert f"nd_ink={shown_link_value(forged)} (" in notes and "523 characters of A-Z" in notes, notes
        assert "nd_ink" not in at.query_params
        assert any("Draw a digit with the mouse" in i.value for i in at.info)  # the blank canvas, no arithmetic
        assert not [s for s in at.success if "network's own activation" in s.value]
    at = AppTest.from_file(APP, default_timeout=180)  # an unknown source (a new session): the data set
    at.query_params.update({"nd_run": str(run_id), "nd_src": "camera"})
    at = open_page(at, NODE)
    no_errors(at)
    assert "nd_src=camera (choose from dataset, draw)" in " ".join(w.value for w in at.warning)
    assert _difference(_match_line(at)) < 1e-5


def test_a_forged_canvas_value_is_one_line_not_an_exception(app, monkeypatch):
    from ui.draw_canvas import drawing_png

    run_id = _stored_run("gcn")
    app.query_params.update({"nd_run": str(run_id), "nd_src": "draw"})
    at = open_page(app, NODE)
    for forged in (
        "data:text/html;base64,PHNjcmlwdD4=",
        "data:image/png;base64,@@@",
        "data:image/png;base64," + "A" * 4_000_000,
        {"png": 1},
    ):
        monkeypatch.setattr("ui.draw_canvas.draw_canvas", lambda key, forged=forged, **kw: drawing_png(forged))
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        assert [e.value for e in at.error if e.value.startswith("Invalid setting — ")], [e.value for e in at.error]
        assert any("Draw a digit with the mouse" in i.value for i in at.info)


def test_drawing_on_the_canvas_puts_the_digit_in_the_link(app, monkeypatch):
    from core.data.image_io import drawing_ink, encode_digit_link, mnist_digit, quantize_digit
    from tests.ui.test_playground_page import FakeCanvas, a_drawing

    run_id = _stored_run("cheb", K=3)
    canvas = FakeCanvas(monkeypatch)
    app.query_params.update({"nd_src": "draw"})
    at = open_page(app, NODE)
    no_errors(at)
    assert "nd_ink" not in at.query_params and not at.success
    canvas.png = a_drawing()
    at.run()
    no_errors(at)
    code = encode_digit_link(quantize_digit(mnist_digit(drawing_ink(canvas.png))))
    assert at.query_params["nd_ink"] in (code, [code])
    assert any(c.value.startswith("Showing ") and ", on your drawing." in c.value for c in at.caption)
    assert at.selectbox(key="nd_run").value == run_id and _difference(_match_line(at)) < 1e-5
    canvas.clear = True  # Clear: the arithmetic goes, and so does the link's digit
    at.run()
    no_errors(at)
    assert "nd_ink" not in at.query_params and not at.success


# ---------------------------------------------------------------- from the Playground
def _node_links(at) -> list:
    return [p.proto for p in at.get("page_link") if p.proto.label.startswith("See one node's arithmetic")]


def test_the_playground_links_a_gcn_run_to_its_node_arithmetic(app, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from tests.ui.test_playground_page import PLAYGROUND, FakeCanvas, a_drawing, quick_run
    from tests.ui.ui_helpers import APP

    gcn = _stored_run("gcn")
    cnn = quick_run()
    canvas = FakeCanvas(monkeypatch)
    app.query_params.update({"pg_src": "dataset", "pg_digit": "5", "pg_runs": f"{gcn},{cnn}"})
    at = open_page(app, PLAYGROUND)
    no_errors(at)
    links = _node_links(at)  # the gcn run's, not the CNN's
    assert [p.query_string for p in links] == [f"nd_run={gcn}&nd_src=dataset&nd_digit=5"]
    assert links[0].label.startswith(f"See one node's arithmetic: #{gcn} ")  # the Playground names the run
    assert links[0].page.endswith("node")

    at.radio(key="pg_src").set_value("draw").run()
    no_errors(at)
    assert not _node_links(at)  # no digit yet
    canvas.png = a_drawing()
    at.run()
    no_errors(at)
    ink = at.query_params["pg_ink"]
    ink = ink[0] if isinstance(ink, list) else ink
    links = _node_links(at)
    assert [p.query_string for p in links] == [f"nd_run={gcn}&nd_src=draw&nd_ink={ink}"]

    friend = AppTest.from_file(APP, default_timeout=180)  # the link opened: the same drawing's arithmetic
    friend.query_params.update({"nd_run": str(gcn), "nd_src": "draw", "nd_ink": ink})
    canvas.png = None
    friend = open_page(friend, NODE)
    no_errors(friend)
    assert not friend.warning, [w.value for w in friend.warning]
    assert _difference(_match_line(friend)) < 1e-5


def test_a_link_opens_the_given_run_layer_and_pixel(app):
    """What the Results and Lessons pages link with: st.page_link("app_pages/node.py", query_params={"nd_run": ...,
    "nd_layer": ..., "nd_row": ..., "nd_col": ...}) opens that run's layer at that pixel."""
    gcn = _stored_run("gcn")
    _stored_run("cheb", K=3)  # newer: the page's default, which the link overrides
    app.query_params.update({"nd_run": str(gcn), "nd_layer": "2", "nd_row": "5", "nd_col": "6", "nd_out": "1"})
    at = open_page(app, NODE)
    no_errors(at)
    assert not at.warning, [w.value for w in at.warning]
    assert at.selectbox(key="nd_run").value == gcn
    assert any(h.value == "The node at pixel (row 5, column 6) · graph conv 2, output channel 1" for h in at.subheader)
    assert any(c.value.startswith(f"Showing **Run {gcn} · GCN") and "the newest" not in c.value for c in at.caption)
    assert _difference(_match_line(at)) < 1e-5
