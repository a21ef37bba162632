"""AppTest smoke tests of the Playground: a data-set digit through stored runs, turning it, links, no runs."""

import numpy as np

from tests.ui.ui_helpers import no_errors
from ui.url_state import shown_link_value

PLAYGROUND = "app_pages/playground.py"
SIX_NINE = (
    "cannot tell a 6 from a 9 by which way up it is: a 6 turned by 180° is a 9, so a net that is invariant to "
    "rotation gives both the same answer. It can only go by how the digit is written: a 6's stem usually curves "
    "into its loop, a 9's is straighter."
)


def answer_line(at) -> str:
    """Every run's answer in one line: the first markdown of the digit view's first column, under the canvas (without
    the time it took)."""
    line = next(m.value for m in at.columns[0].markdown if m.value.startswith("#"))
    assert " — answered in " in line and line.endswith(" ms")
    return line.split(" — answered in ")[0]


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
    cnn = execute(RunConfig.make(model="cnn", hidden=8, epochs=1, quick=True), store)["run_id"]
    mlp = execute(RunConfig.make(model="mlp", hidden=16, epochs=1, quick=True), store)["run_id"]
    at = app.run()
    at.switch_page(PLAYGROUND)
    at.query_params.update({"pg_src": "dataset", "pg_digit": "5", "pg_angle": "90", "pg_runs": f"{cnn},{mlp}"})
    at.run()
    no_errors(at)
    assert at.multiselect(key="pg_runs_w").value == [cnn, mlp]
    digit = load_dataset("mnist-5k", quick=True).x_test[5].numpy()
    want = probabilities(load_playground_model(cnn, store), digit, 90)
    turned = next(c.value for c in at.caption if c.value.startswith("Turned 90°: "))  # above the bars
    assert turned.startswith(f"Turned 90°: #{cnn} CNN: **{int(want.argmax())}** ({want.max():.0%}) · #{mlp} MLP: **")
    assert "answered in" in turned
    upright = probabilities(load_playground_model(cnn, store), digit)
    assert answer_line(at).startswith(f"#{cnn} CNN: **{int(upright.argmax())}** ({upright.max():.0%}) · #{mlp} MLP")
    assert len(at.get("plotly_chart")) == 2  # the answer at every angle, the probabilities
    assert len(at.get("image")) == 3  # the turned digit, the CNN's two conv layers' feature maps
    inside = at.selectbox(key="pg_inside")
    assert inside.label == "Run" and inside.value == cnn
    assert inside.options == [f"Run {cnn} · CNN", f"Run {mlp} · MLP"]  # the runs' titles, not their ids
    layers = [m.value for m in at.markdown if "channels, each on its own scale" in m.value]
    assert [line.split(":")[0] for line in layers] == ["**conv 1 (28×28)**", "**conv 2 (14×14)**"], layers
    assert "multiples of 90°" in " ".join(c.value for c in at.caption)
    assert at.get("download_button")[0].proto.label == "Download the digit (PNG)"
    at.selectbox(key="pg_inside").set_value(mlp).run()  # the MLP has no spatial layers
    no_errors(at)
    assert any(c.value.startswith(f"Run {mlp} · MLP has no spatial layers") for c in at.caption)
    assert at.query_params["pg_inside"] in (str(mlp), [str(mlp)])  # the link holds the run's id
    assert np.isfinite(want).all()


def test_playground_link_with_unknown_runs_falls_back_with_a_notice(app):
    from core.training.runs import RunConfig, execute
    from core.training.store import RunStore

    cnn = execute(RunConfig.make(model="cnn", hidden=8, epochs=1, quick=True), RunStore())["run_id"]
    at = app.run()
    at.switch_page(PLAYGROUND)
    at.query_params.update({"pg_src": "dataset", "pg_runs": "999,abc", "pg_angle": "400"})
    at.run()
    no_errors(at)
    assert at.multiselect(key="pg_runs_w").value == [cnn]  # the newest CNN instead
    notes = " ".join(w.value for w in at.warning)
    assert f"pg_runs={shown_link_value('999,abc')} (" in notes and "pg_angle=400 (" in notes


# ----------------------------------------------------------------------------- links that reopen what you see


def quick_run(model: str = "cnn", **kw) -> int:
    from core.training.runs import RunConfig, execute
    from core.training.store import RunStore

    return execute(RunConfig.make(model=model, hidden=8, epochs=1, quick=True, **kw), RunStore())["run_id"]


def a_drawing() -> bytes:
    """The PNG the canvas sends after a stroke: a 280 x 280 black canvas with a slanted white bar."""
    import io

    from PIL import Image

    rgba = np.zeros((280, 280, 4), np.uint8)
    rgba[..., 3] = 255
    for row in range(50, 230):
        col = 120 + (row - 50) // 6
        rgba[row, col : col + 24, :3] = 255
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, format="PNG")
    return buf.getvalue()


class FakeCanvas:
    """Stands in for the canvas component, which AppTest cannot draw on: ``png`` is what it sends (None: blank),
    ``clear`` presses Clear (its callback runs once, before the rerun, as the component's trigger does)."""

    def __init__(self, monkeypatch):
        self.png, self.clear = None, False
        monkeypatch.setattr("ui.draw_canvas.draw_canvas", self)

    def __call__(self, key, size=280, stroke=22, on_clear=None):
        if self.clear:
            self.clear, self.png = False, None
            if on_clear is not None:
                on_clear()
        return self.png


def test_a_drawing_travels_in_the_link_and_the_link_reopens_the_digit_and_its_answers(app, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from core.analysis.playground import load_playground_model, probabilities
    from core.data.image_io import decode_digit_link, drawing_ink, encode_digit_link, mnist_digit, quantize_digit
    from tests.ui.ui_helpers import APP

    cnn = quick_run()
    canvas = FakeCanvas(monkeypatch)
    at = app.run()
    at.switch_page(PLAYGROUND)
    at.query_params.update({"pg_runs": str(cnn)})
    at.run()
    no_errors(at)
    assert at.radio(key="pg_src").value == "draw" and "pg_ink" not in at.query_params
    assert any("Draw with the mouse" in c.value for c in at.caption)
    canvas.png = a_drawing()  # a stroke: the drawing view (a fragment) writes the digit into the link
    at.run()
    no_errors(at)
    digit = quantize_digit(mnist_digit(drawing_ink(canvas.png)))
    ink = at.query_params["pg_ink"]
    ink = ink[0] if isinstance(ink, list) else ink
    assert ink == encode_digit_link(digit) and len(ink) == 523
    drawn_answer = answer_line(at)
    want = probabilities(load_playground_model(cnn), digit)  # the models answered the digit the link holds
    assert drawn_answer == f"#{cnn} CNN: **{int(want.argmax())}** ({want.max():.0%})"
    assert any("Your drawing, prepared as MNIST prepares digits" in c.value for c in at.caption)

    friend = AppTest.from_file(APP, default_timeout=180)  # someone else opens the link: a new session, no stroke
    friend.run()
    friend.switch_page(PLAYGROUND)
    friend.query_params.update({"pg_src": "draw", "pg_ink": ink, "pg_runs": str(cnn)})
    canvas.png = None
    friend.run()
    no_errors(friend)
    assert not friend.warning, [w.value for w in friend.warning]
    assert answer_line(friend) == drawn_answer  # the same digit, the same answers
    assert np.array_equal(decode_digit_link(ink), digit)
    assert any(
        "came with the link" in c.value and "A new stroke on the canvas replaces it" in c.value for c in friend.caption
    )
    assert ["The digit in this link"] in [i.captions for i in friend.columns[0].image]  # beside the blank canvas
    canvas.clear = True  # Clear on a blank canvas: the link's digit goes
    friend.run()
    no_errors(friend)
    assert "pg_ink" not in friend.query_params
    assert any("Draw a digit (or pick one in the sidebar)" in i.value for i in friend.info)

    at.run()  # the drawer's canvas is blank again (cleared): their own digit leaves the link too
    no_errors(at)
    assert "pg_ink" not in at.query_params
    assert any("Draw with the mouse" in c.value for c in at.caption)


def test_a_forged_linked_digit_gets_a_notice_and_is_dropped(app):
    cnn = quick_run()
    at = app.run()
    at.switch_page(PLAYGROUND)
    for forged in ("abc", "A" * 523, "%" * 600, "A" * 5000):
        at.query_params.update({"pg_ink": forged, "pg_runs": str(cnn)})
        at.run()
        no_errors(at)
        notes = " ".join(w.value for w in at.warning)
        assert f"pg_ink={shown_link_value(forged)} (" in notes and "523 characters of A-Z" in notes, notes
        assert "pg_ink" not in at.query_params
        assert any("Draw with the mouse" in c.value for c in at.caption)  # no digit: the blank canvas


def test_the_source_is_one_word_in_the_link_and_old_links_still_open_the_data_set(app):
    cnn = quick_run()
    at = app.run()
    at.switch_page(PLAYGROUND)
    at.query_params.update({"pg_src": "data set", "pg_runs": str(cnn)})  # a link from before: a space in it
    at.run()
    no_errors(at)
    radio = at.radio(key="pg_src")
    assert radio.value == "dataset" and radio.options == ["draw", "data set", "upload"]  # shown with its space
    assert at.query_params["pg_src"] in ("dataset", ["dataset"]) and not at.warning
    assert any("test digit #0" in c.value for c in at.caption)
    radio.set_value("upload").run()
    assert at.query_params["pg_src"] in ("upload", ["upload"])
    at.radio(key="pg_src").set_value("dataset").run()
    assert at.query_params["pg_src"] in ("dataset", ["dataset"])
    at.query_params.update({"pg_src": "camera"})
    at.run()
    no_errors(at)
    assert "pg_src=camera (choose from draw, dataset, upload)" in " ".join(w.value for w in at.warning)


def test_without_runs_the_page_links_to_the_train_page_set_up_for_each_net(app):
    at = app.run()
    at.switch_page(PLAYGROUND).run()
    no_errors(at)
    links = {(p.proto.label, p.proto.query_string) for p in at.get("page_link")}
    assert all(p.proto.page.endswith("train") or "train" in p.proto.page for p in at.get("page_link")), [
        p.proto.page for p in at.get("page_link")
    ]
    assert ("Train", "") in links  # under the page's caption, and beside the no-run notice
    assert ("Train a CNN", "model=cnn") in links and ("Train a ChebNet", "model=cheb") in links
    assert ("Train a C8 steerable net on rotated digits", "model=escnn&group=C8&data=mnist-rot") in links


def test_a_rotation_invariant_net_answering_9_says_why_it_cannot_tell_6_from_9(app):
    import torch

    from core.training.runs import RunConfig, build_everything
    from core.training.store import RunStore, checkpoint_path, save_checkpoint

    store = RunStore()
    cfg = RunConfig.make(model="escnn", group="C8", hidden=4, layers=2, quick=True)
    model = build_everything(cfg)[3].eval()
    with torch.no_grad():
        model.classifier[-1].bias[9] += 20.0  # says 9 to everything, as the net did to an upright 6
    escnn = store.create_run(cfg.to_dict(), name=cfg.label())
    store.finish(
        escnn, {"test_accuracy": 0.1}, checkpoint=str(save_checkpoint(model.state_dict(), checkpoint_path(escnn)))
    )
    cnn = quick_run()
    at = app.run()
    at.switch_page(PLAYGROUND)
    at.query_params.update({"pg_src": "dataset", "pg_runs": f"{cnn},{escnn}"})
    at.run()
    no_errors(at)
    assert f"#{escnn} Steerable CNN C8: **9** (100%)" in answer_line(at)
    notes = [i.value for i in at.info if "cannot tell a 6 from a 9" in i.value]
    assert notes == [f"#{escnn} Steerable CNN C8 {SIX_NINE}"], [i.value for i in at.info]
    assert SIX_NINE.startswith("cannot tell a 6 from a 9 by which way up it is: a 6 turned by 180° is a 9")
    at.multiselect(key="pg_runs_w").set_value([cnn]).run()  # the CNN alone: the sentence only if its answer never turns
    no_errors(at)
    from core.analysis.playground import angle_sweep, load_playground_model, six_nine_ambiguous
    from core.data.datasets import load_dataset

    sw = angle_sweep(load_playground_model(cnn, store), load_dataset("mnist-5k", quick=True).x_test[0].numpy())
    said = [i.value for i in at.info if "cannot tell a 6 from a 9" in i.value]
    assert said == (
        [f"#{cnn} CNN {SIX_NINE}"] if six_nine_ambiguous(sw["probabilities"][0], "cnn", None, sw["predicted"]) else []
    )


# ----------------------------------------------------------------------------- no steerable net yet: one button


NO_STEERABLE = "No steerable net has finished on this server yet, so no answer here stays put as the digit turns."


def steerable_runs() -> list[dict]:
    from core.training.store import RunStore

    return [r for r in RunStore().list_runs() if r["config"]["model"] == "escnn"]


def open_playground(app_test, cnn: int):
    app_test.run()
    app_test.switch_page(PLAYGROUND)
    app_test.query_params.update({"pg_src": "dataset", "pg_runs": str(cnn)})
    app_test.run()
    no_errors(app_test)
    return app_test


def test_without_a_steerable_net_one_button_queues_the_starter_c8_net_once_for_everyone(app, served_manager):
    from streamlit.testing.v1 import AppTest

    from core.training.starter import STARTER, STARTER_KIND
    from tests.ui.ui_helpers import APP

    cnn = quick_run()
    at = open_playground(app, cnn)
    assert [i.value for i in at.info if i.value.startswith("No steerable net")] == [NO_STEERABLE]
    button = at.button(key="pg_train_c8")
    assert button.label.startswith("Train a steerable C8 net on rotated digits (about ")
    assert steerable_runs() == []  # nothing is queued until someone presses
    friend = open_playground(AppTest.from_file(APP, default_timeout=180), cnn)  # a second session, button shown too
    assert friend.button(key="pg_train_c8").label == button.label

    button.click().run()
    no_errors(at)
    queued = steerable_runs()
    assert len(queued) == 1 and queued[0]["kind"] == STARTER_KIND and queued[0]["session"] is None
    recipe = next(s for s in STARTER if s.model == "escnn").config().to_dict()
    assert queued[0]["config"] == recipe  # the starter set's own C8 net, as the manager stores it
    assert queued[0]["status"] in ("queued", "running")
    assert not any(b.key == "pg_train_c8" for b in at.button)  # pressed: no second button ...
    assert not any(i.value == NO_STEERABLE for i in at.info)
    panel = [
        m.value
        for m in at.markdown
        if m.value.startswith("**Training a C8 steerable net so you can try the Playground:**")
    ]
    assert len(panel) == 1, [m.value for m in at.markdown]  # ... its progress instead

    friend.button(key="pg_train_c8").click().run()  # the friend's page still showed the button: pressed late
    no_errors(friend)
    assert [r["id"] for r in steerable_runs()] == [queued[0]["id"]]  # reused, not queued again
    assert any(m.value.startswith("**Training a C8 steerable net") for m in friend.markdown)
    third = open_playground(AppTest.from_file(APP, default_timeout=180), cnn)  # and a session that opens now
    assert not any(b.key == "pg_train_c8" for b in third.button) and len(steerable_runs()) == 1


def test_a_steerable_net_a_visitor_is_training_is_waited_for_and_joins_the_runs_shown(app):
    import torch

    from core.training.runs import RunConfig, build_everything
    from core.training.store import RunStore, checkpoint_path, save_checkpoint

    store = RunStore()
    cnn = quick_run()
    cfg = RunConfig.make(model="escnn", group="C4", hidden=4, layers=2, quick=True)
    theirs = store.create_run(cfg.to_dict(), name=cfg.label(), session="someone-else", status="queued")
    at = open_playground(app, cnn)
    assert not any(b.key == "pg_train_c8" for b in at.button)  # one is coming: no button
    waiting = [m.value for m in at.markdown if "is training on this server" in m.value]
    assert len(waiting) == 1 and waiting[0].startswith(
        f"**Run {theirs} · Steerable CNN C4 is training on this server** (waiting for a training slot)"
    ), waiting
    assert at.multiselect(key="pg_runs_w").value == [cnn]
    store.start(theirs, "cpu")
    model = build_everything(cfg)[3].eval()
    with torch.no_grad():
        store.finish(
            theirs, {"test_accuracy": 0.5}, checkpoint=str(save_checkpoint(model.state_dict(), checkpoint_path(theirs)))
        )
    at.run()  # what the progress bar does when the run ends
    no_errors(at)
    assert at.multiselect(key="pg_runs_w").value == [cnn, theirs]  # it joined the run shown
    assert f" · #{theirs} Steerable CNN C4: **" in answer_line(at)
    assert not any("is training on this server" in m.value for m in at.markdown)
    assert not any(i.value == NO_STEERABLE for i in at.info)


def test_a_c1_escnn_net_does_not_count_as_steerable(app):
    from core.training.starter import steerable

    assert steerable({"model": "escnn", "group": "C8"}) and steerable({"model": "escnn", "group": "D16,D16,C4"})
    assert steerable({"model": "escnn", "group": "SO2"}) and steerable({"model": "escnn"})  # the default, C8
    assert not steerable({"model": "escnn", "group": "C1"}) and not steerable({"model": "escnn", "group": "D1"})
    assert not steerable({"model": "cnn"}) and not steerable(None)
    c1 = quick_run("escnn", group="C1", layers=1)
    at = open_playground(app, c1)
    assert any(i.value == NO_STEERABLE for i in at.info)  # a C1 net's answer turns with the digit
