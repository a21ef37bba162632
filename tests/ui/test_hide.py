"""Classroom links (``hide=model,lr``): on every page a hidden control is not drawn and the page uses the link's
value for it; a key that is no control of the page is ignored with a notice; the builder lists the page's controls."""

import html
import json
import re

import pytest
from streamlit.testing.v1 import AppTest

from tests.ui.ui_helpers import APP, no_errors
from ui import nav
from ui.classroom import builder_html, fixed_text, parse_hide
from ui.display import plain as inert

PAGES = [e.file for e in nav.PAGES]  # every page app.py registers (ui/nav.py)
WIDGETS = (
    "selectbox",
    "slider",
    "select_slider",
    "radio",
    "toggle",
    "number_input",
    "text_input",
    "multiselect",
    "checkbox",
)


def widget_keys(at: AppTest) -> set[str]:
    return {w.key for kind in WIDGETS for w in getattr(at, kind)}


def builder(at: AppTest) -> str:
    bodies = [h.proto.body for h in at.get("html") if 'id="gcl-classroom"' in h.proto.body]
    assert len(bodies) <= 1
    return bodies[0] if bodies else ""


def controls(at: AppTest) -> dict[str, str]:
    """The Classroom link builder's controls: URL key -> label."""
    return {
        key: html.unescape(label)
        for label, key in re.findall(
            r'<input type="checkbox" value="[^"]+"(?: checked)?><span>(.*?) <code[^>]*>([^<]+)</code>', builder(at)
        )
    }


def ticked(at: AppTest) -> list[str]:
    return re.findall(r'<input type="checkbox" value="([^"]+)" checked>', builder(at))


def fixed(at: AppTest) -> str:
    """The sidebar's "Fixed by this link" caption ("" when none); the page's top repeats it word for word (a phone
    folds the sidebar away)."""
    side = [c.value for c in at.sidebar.caption if c.value.startswith("Fixed by this link")]
    top = [c.value for c in at.main.caption if c.value.startswith("Fixed by this link")]
    assert top == side, (top, side)
    return " ".join(side)


def hide_notices(at: AppTest) -> str:
    return " ".join(w.value for w in at.warning if "hide=" in w.value)


def opened(app: AppTest, page: str, params: dict[str, str]) -> AppTest:
    """A fresh session opening ``page`` with link ``params``."""
    at = app.run()
    if page != "app_pages/start.py":
        at.switch_page(page)
    at.query_params.update(params)
    return at.run()


@pytest.fixture(autouse=True)
def no_starter(monkeypatch):
    monkeypatch.setenv("GRAPHCONV_STARTER", "0")  # the Playground would train its starter set on an empty store


# ---------------------------------------------------------------- every page
NEEDS_A_RUN = {"app_pages/results.py": "mlp", "app_pages/node.py": "gcn"}
# controls that are buttons, not URL-bound widgets: a link that hides them does not offer them (the Lessons page's
# "Run this lesson" / "Run your own copy")
BUTTON_CONTROLS = {"ls_own"}


@pytest.mark.parametrize("page", PAGES)
def test_every_page_hides_the_controls_its_link_names(app, page):
    """Hide one of the page's controls (the builder lists them): it is not drawn, the caption says what the link
    fixed, the value stays in the link; no notice. The Start page hands a link to the Graph Builder."""
    plain = opened(app, page, {})
    no_errors(plain)
    found = controls(plain)
    if page == "app_pages/start.py":
        assert not found  # no controls: it forwards a link to the Graph Builder, hide and all (next test)
        return
    if not found and page in NEEDS_A_RUN:  # its controls come with a finished run
        from core.training.runs import RunConfig, execute

        execute(RunConfig.make(model=NEEDS_A_RUN[page], hidden=8, epochs=1, quick=True))
        plain = opened(AppTest.from_file(APP, default_timeout=180), page, {})
        no_errors(plain)
        found = controls(plain)
    if not found:
        pytest.skip(f"{page} has no URL-bound control (yet)")
    assert set(found) - BUTTON_CONTROLS <= widget_keys(plain)  # the builder lists what the page drew
    key, label = next(iter(found.items()))
    at = opened(AppTest.from_file(APP, default_timeout=180), page, {"hide": key})
    no_errors(at)
    assert key not in widget_keys(at)
    assert fixed(at).startswith(f"Fixed by this link: {inert(label)} = ")
    assert not hide_notices(at) and at.query_params["hide"] in (key, [key])
    assert key in controls(at) and ticked(at) == [key]  # the builder still offers it, ticked


# page, link, hidden keys, what the page shows with the link's values
def _train_config(at):
    return json.loads(next(c.value for c in at.code if '"model"' in c.value))


CASES = {
    "app_pages/start.py": (
        {"kind": "knn", "hide": "kind"},
        ["kind"],
        lambda at: "knn_k" in {s.key for s in at.slider},
    ),  # forwarded to the Graph Builder
    "app_pages/graph_builder.py": (
        {"kind": "knn", "hide": "kind"},
        ["kind"],
        lambda at: "knn_k" in {s.key for s in at.slider},
    ),
    "app_pages/train.py": (
        {"model": "cheb", "lr": "0.01", "hide": "model,lr"},
        ["model", "lr"],
        lambda at: (
            (_train_config(at)["model"], _train_config(at)["lr"]) == ("cheb", 0.01)
            and any(c.value.startswith("ChebNet (Defferrard et al. 2016): ") for c in at.caption)
        ),
    ),
    "app_pages/groups.py": (
        {"family": "D", "n": "8", "hide": "n"},
        ["n"],
        lambda at: any(m.value.startswith("**D8** has 16 elements") for m in at.markdown),
    ),
    "app_pages/karate.py": ({"k_model": "cheb", "hide": "k_model"}, ["k_model"], None),
    "app_pages/spectral.py": (
        {"s_kind": "knn", "hide": "s_kind"},
        ["s_kind"],
        lambda at: "knn_k" in {s.key for s in at.slider},
    ),
    "app_pages/filters.py": (
        {"f_kind": "knn", "hide": "f_kind,f_zoom", "f_zoom": "false"},
        ["f_kind", "f_zoom"],
        lambda at: "knn_k" in {s.key for s in at.slider},
    ),
    "app_pages/compare.py": (
        {"sw_model": "cnn", "hide": "sw_model"},
        ["sw_model"],
        lambda at: at.selectbox(key="sw_param").value == "model",
    ),  # cheb would sweep K
    "app_pages/equivariance.py": (
        {"group": "D4", "hide": "group"},
        ["group"],
        lambda at: any("escnn D4" in b.label for b in at.button),
    ),
    "app_pages/playground.py": ({"pg_src": "dataset", "pg_digit": "5", "hide": "pg_digit"}, ["pg_digit"], None),
}


@pytest.mark.parametrize("page", list(CASES))
def test_a_hidden_control_takes_the_links_value(app, page):
    params, keys, shows = CASES[page]
    at = opened(app, page, params)
    no_errors(at)
    assert not set(keys) & widget_keys(at), keys
    for key in keys:
        shown = {"model": "ChebNet", "f_zoom": "off", "sw_model": "CNN"}.get(key, params[key])
        assert f"= {inert(shown)}" in fixed(at), fixed(at)
        assert at.query_params[key] in (params[key], [params[key]])  # the link keeps the value
    if page == "app_pages/karate.py":
        from core.analysis.karate import MODEL_HELP

        assert any(c.value == MODEL_HELP["cheb"] for c in at.caption)
    if shows is not None:
        assert shows(at)
    assert not hide_notices(at)


@pytest.mark.parametrize("page", PAGES)
def test_a_bad_key_in_hide_is_ignored_with_a_notice_on_every_page(app, page):
    at = opened(app, page, {"hide": "nope"})
    no_errors(at)
    assert "hide=nope (" in hide_notices(at) and "not have" in hide_notices(at)
    assert not fixed(at)


def test_hide_mixes_good_and_bad_keys_and_checks_a_hidden_value_as_a_drawn_one(app):
    at = opened(app, "app_pages/groups.py", {"hide": "n, nope ,digit", "n": "99", "digit": "7"})
    no_errors(at)
    assert not {"n", "digit"} & widget_keys(at)
    assert "n=99 (must be between 1 and 16)" in " ".join(w.value for w in at.warning)  # the usual notice
    assert "N = 4," in fixed(at) + "," and "Digit = 7," in fixed(at) + ","  # the default instead
    assert "hide=nope (" in hide_notices(at) and at.query_params["hide"] == "n,digit"
    assert "n" not in at.query_params  # an invalid value comes off the link, as a drawn widget's does


def test_a_control_drawn_before_it_is_hidden_keeps_its_link_value(app):
    """In one session: a widget bound on an earlier run, then hidden; Streamlit would drop its parameter."""
    at = opened(app, "app_pages/groups.py", {"n": "8"})
    at.query_params["hide"] = "n"
    at.run()
    at.run()
    no_errors(at)
    assert "n" not in widget_keys(at) and at.query_params["n"] == "8"
    assert any(m.value.startswith("**C8** has 8 elements") for m in at.markdown)


def test_an_overlong_hide_list_is_ignored_with_a_notice(app):
    at = opened(app, "app_pages/groups.py", {"hide": "n," * 2000})
    no_errors(at)
    assert "n" in widget_keys(at) and "too long" in " ".join(w.value for w in at.warning)


# ---------------------------------------------------------------- the builder's parts
def test_parse_hide_reads_a_bounded_comma_list():
    assert parse_hide(["model, lr,,model", "K"]) == ["model", "lr", "K"]
    assert parse_hide([]) == [] and parse_hide(["x" * 5000]) is None


def test_builder_markup_escapes_labels_and_holds_no_link_value():
    body = builder_html(
        {"model": "Layer <b>type</b>", "lr": "Learning rate", 'bad key"': "x"},
        ["lr"],
        {"model": "cnn", "lr": "0.001", 'bad key"': "1"},
    )
    assert 'value="model">' in body and 'value="lr" checked>' in body and "bad key" not in body
    assert "Layer &lt;b&gt;type&lt;/b&gt;" in body and "<b>" not in body
    fill = json.loads(html.unescape(re.search(r'data-fill="([^"]*)"', body).group(1)))
    assert fill == {"model": "cnn", "lr": "0.001"} and 'data-base="lr"' in body
    assert "gcl-copy" not in body  # Copy link's own markup stays the only one with that id


def test_fixed_caption_quotes_values_inert():
    text = fixed_text({"a": ("Layer *type*", "x` [a](https://evil.example) `")})
    assert text.startswith(
        "Fixed by this link: Layer \\*type\\* = x\\` \\[a\\]\\(https\\:\u2215\u2215evil\\.example\\) \\`"
    )
    assert fixed_text({}) is None


def test_the_hand_synced_run_and_source_pickers_hide_too(app):
    """The Playground's source radio and run picker and the Equivariance page's runs are synced by hand (not through
    the url_* helpers): they hide as well and keep the link's runs."""
    from core.training.runs import RunConfig, execute

    first = execute(RunConfig.make(model="mlp", hidden=8, epochs=1, quick=True))["run_id"]
    second = execute(RunConfig.make(model="cnn", epochs=1, quick=True))["run_id"]
    at = opened(app, "app_pages/playground.py", {"pg_src": "dataset", "pg_runs": str(second), "hide": "pg_src,pg_runs"})
    no_errors(at)
    assert not {"pg_src", "pg_runs_w"} & widget_keys(at)
    assert "Digit = data set," in fixed(at) and f"Runs = Run {second} · CNN" in fixed(at)
    assert at.query_params["pg_runs"] in (str(second), [str(second)]) and not hide_notices(at)
    assert any(f"#{second}" in m.value for m in at.markdown) and not any(f"#{first} " in m.value for m in at.markdown)

    eq = opened(AppTest.from_file(APP, default_timeout=180), "app_pages/equivariance.py", {"hide": "runs"})
    no_errors(eq)
    assert "runs" not in widget_keys(eq) and not hide_notices(eq)
    default = inert(f"Run {second} · CNN · mnist-5k")  # the default run, named from its config
    assert fixed(eq) == f"Fixed by this link: Runs to compare = {default}"
    assert "Accuracy of rotated digits" in [h.value for h in eq.subheader]  # the page goes on with it: measured
