"""The Train page lists exactly the registered models and data sets, and draws a model's own declared settings:
registering a new model and a new data set needs no page change."""

from core.data.datasets import DATASETS
from core.models import MODELS
from tests.ui.ui_helpers import no_errors, open_page

TRAIN = "app_pages/train.py"


def test_the_train_page_lists_exactly_the_registered_models_and_data_sets(app):
    at = open_page(app, TRAIN)
    no_errors(at)
    assert at.selectbox(key="model").options == [MODELS.title(n) for n in MODELS.names()]
    assert at.selectbox(key="data").options == DATASETS.names()


def test_pages_that_show_digits_offer_the_data_sets_that_load_without_a_download(app):
    from core.data.datasets import mnist_available, ready_datasets

    assert ready_datasets()[:2] == ["mnist-5k", "mnist-rot"] and ("mnist" in ready_datasets()) == mnist_available()
    at = open_page(app, "app_pages/graph_builder.py")
    assert at.selectbox(key="data").options == ready_datasets()


def test_a_newly_registered_model_and_data_set_appear_with_the_models_settings(app):
    """A model added in one file (tests/core/models/hop_model.py, with a setting of its own) is on the Train page with
    its setting drawn from its spec; a registered data set is offered too."""
    from tests.core.models import hop_model

    hop_model.register()
    DATASETS.register("toy-digits")(DATASETS.get("mnist-5k"))
    try:
        at = open_page(app, TRAIN)
        assert "Hop net (added by a test)" in at.selectbox(key="model").options
        assert "toy-digits" in at.selectbox(key="data").options
        at.selectbox(key="model").set_value("hop").run()
        no_errors(at)
        assert any(c.value == "blurs each pixel over its neighbours, hops times" for c in at.caption)
        hops = at.slider(key="hops")  # declared, so drawn from its spec (core/models/spec.py)
        assert (hops.label, hops.value, hops.min, hops.max) == ("Hops", 2, 1, 6)
        assert "K" not in [s.key for s in at.slider]  # not declared, not drawn
        assert any(c.value.startswith("Hop net\\, 2 hops:") for c in at.caption)  # What Start trains names it
        builder = open_page(app, "app_pages/graph_builder.py")  # pages that show digits offer it too
        assert "toy-digits" in builder.selectbox(key="data").options
    finally:
        MODELS.unregister("hop")
        DATASETS.unregister("toy-digits")


def test_a_newly_registered_models_setting_is_offered_to_compares_sweeps_and_searches(app):
    """The hop net's ``hops`` declares sweep values: Compare's sweep lists it by its spec's label and starts its
    values box from them, and the search section names it among the settings it can search (searching it:
    tests/core/models/test_adding_a_model.py)."""
    from tests.core.models import hop_model

    hop_model.register()
    try:
        at = open_page(app, "app_pages/compare.py")
        at.selectbox(key="sw_model").set_value("hop").run()
        no_errors(at)
        assert "Hops (hops)" in at.selectbox(key="sw_param").options
        at.selectbox(key="sw_param").set_value("hops").run()
        assert at.text_input(key="sw_values").value == "1, 2, 3"
        assert "Hops (hops)" in at.text_input(key="se_space").help  # the search's help names what it can search
    finally:
        MODELS.unregister("hop")
