"""Error hygiene on a public server: an uncaught exception shows a visitor no details, every message that quotes
outside text quotes it inert (``ui.display.plain``), messages name no absolute path, and a value a browser forged
for a selector is never an exception."""

import os
import re
import time
import tomllib
from pathlib import Path

import pytest
from streamlit import config as st_config

from core.errors import StoreError
from tests.ui.ui_helpers import ROOT, no_errors, open_page
from ui.display import error_line, labelled, plain
from ui.url_state import SHOWN_CHARS, shown_link_value

MARK = r"[!-/:-@\[-`{-~]"  # the ASCII punctuation characters: every markdown construct starts with one
GENERIC = "This app has encountered an error"  # what Streamlit shows instead of an exception's details


def live_marks(markdown: str) -> list[str]:
    """The markdown marks in ``markdown`` that are not backslash-escaped. CommonMark treats an escaped ASCII
    punctuation character as a plain character, so text with none left can open no link, image, autolink, HTML tag,
    entity, emphasis, code span, math, directive or icon: it renders as exactly the characters it holds."""
    return re.findall(MARK, re.sub(r"\\" + MARK, "", markdown))


def as_read(markdown: str) -> str:
    """What a reader sees of inert markdown: the escapes resolved."""
    return re.sub(r"\\(" + MARK + ")", r"\1", markdown)


# ---------------------------------------------------------------- 1. no tracebacks for visitors
def test_the_server_config_hides_error_details():
    client = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["client"]
    assert client.get("showErrorDetails") == "none", "an uncaught exception would show visitors its traceback"
    assert client["showErrorDetails"] in {o.value for o in st_config.ShowErrorDetailsConfigOptions}  # this Streamlit's


def _sent(node) -> str:
    """Every element's proto under ``node``, as text: what the browser would receive."""
    proto = getattr(node, "proto", None)
    children = getattr(node, "children", {}) or {}
    return (str(proto) if proto is not None else "") + "".join(_sent(c) for c in children.values())


def test_an_exception_in_a_page_shows_the_browser_no_details(app, monkeypatch):
    """A page that raises (a fault put into the engine's group code, as a bug would be) shows Streamlit's generic
    box: no exception type, no message (it names a file of the server), no traceback."""
    st_config.get_config_options(force_reparse=True)  # read .streamlit/config.toml (the fixture's cwd), as a server
    assert st_config.get_option("client.showErrorDetails") == "none"
    from core.analysis import groups

    secret = f"cannot read {Path(os.environ['GRAPHCONV_DATA_DIR']) / 'runs.db'}"

    def broken(*args, **kwargs):
        raise RuntimeError(secret)

    monkeypatch.setattr(groups, "element", broken)
    at = open_page(app, "app_pages/groups.py")
    assert len(at.exception) == 1
    shown = at.exception[0]
    assert shown.value.startswith(GENERIC) and not shown.stack_trace and not shown.proto.type
    everything = _sent(at._tree)
    assert secret not in everything and "RuntimeError" not in everything and "Traceback" not in everything
    assert 'File "' not in everything and str(ROOT) not in everything


# ---------------------------------------------------------------- 2. one helper quotes outside text inert
NASTY = [
    "[Sign in again](https://evil.example)",
    "![tracker](https://evil.example/t.png)",
    "<https://evil.example> https://evil.example www.evil.example mail@evil.example",
    "[ref]: https://evil.example  [ref] [^1]",
    "<script>alert(1)</script><img src=x onerror=alert(1)>",
    "&lt;b&gt; &#x202E; &amp;",
    "**bold** __strong__ *em* _em_ ~~strike~~ ~sub~",
    "`code` ``two`` ```fence```",
    ":material/warning: :red[alert] :blue-background[x] :smile: :streamlit:",
    "$x^2$ $$\\int f$$ \\(y\\)",
    "# heading",
    "- item",
    "1. item",
    "> quote",
    "| a | b |\n|---|---|\n| 1 | 2 |",
    "line one\nline two\r\n\n=====",
    "    indented code",
    "\\[already escaped\\] \\",
    "bidi\u202etxt zero\u200bwidth nul\x00 esc\x1b[31m tab\tend\u2028para\u2029",
    "C8, D8 and 1e-3 (plain) — fine",
]


@pytest.mark.parametrize("text", NASTY)
def test_plain_makes_markdown_inert_and_keeps_it_readable(text):
    shown = plain(text)
    assert live_marks(shown) == [], shown
    assert "\n" not in shown and "\r" not in shown and "\u2028" not in shown and "\u2029" not in shown
    assert all(c.isprintable() or c == " " for c in shown), repr(shown)  # no control, zero-width or bidi character
    breaks = re.sub(r"[\r\n\t\u2028\u2029]", " ", text)
    read = as_read(shown)
    assert not re.search(r"://|www\.|@", read, re.IGNORECASE), read  # GFM links bare URLs found after unescaping
    look_alikes = {"\u2215\u2215": "//", "\u2024": ".", "\ufe6b": "@"}  # "https:∕∕x", "www․x", "a﹫b" read the same
    for alike, real in look_alikes.items():
        read = read.replace(alike, real)
    assert read == "".join(c if c.isprintable() or c == " " else "\ufffd" for c in breaks)  # as given


def test_an_error_is_one_line_without_the_servers_paths():
    folder = Path(os.environ["GRAPHCONV_DATA_DIR"])
    missing = FileNotFoundError(2, "No such file or directory", str(folder / "checkpoints" / "run-9.pt"))
    assert error_line(missing) == "No such file or directory: checkpoints/run-9.pt"
    assert error_line(PermissionError(13, "Permission denied", os.fsencode("/var/lib/app/x.pt"))) == (
        "Permission denied: x.pt"
    )
    assert error_line(RuntimeError(f"cannot read {folder}/runs.db\nat /opt/app/core/x.py")) == (
        "cannot read runs.db at x.py"
    )
    assert error_line(RuntimeError()) == "RuntimeError"


def test_plain_cuts_long_text_and_takes_an_error_without_its_paths():
    assert plain("x" * 100, 40) == "x" * 40 + "…" and plain("x" * 40, 40) == "x" * 40
    started = time.perf_counter()
    assert len(plain("[a](b)" * 1_000_000, SHOWN_CHARS)) < 3 * SHOWN_CHARS  # cut before any work
    assert time.perf_counter() - started < 0.05
    db = Path(os.environ["GRAPHCONV_DATA_DIR"]) / "runs.db"
    shown = plain(StoreError(f"run database {db} is corrupt: file is not a database"))
    assert as_read(shown) == "run database runs.db is corrupt: file is not a database" and live_marks(shown) == []
    assert shown_link_value("x` [click](https://evil.example)") == plain("x` [click](https://evil.example)", 40)


def test_a_typed_search_space_is_quoted_inert_in_the_error(app):
    """/compare?se_space=[Sign in again](https://evil.example), then Launch search: the error quotes the value as
    text (its brackets and URL escaped), not as a live link inside the app's error box."""
    hostile = "[Sign in again](https://evil.example)"
    at = app.run()
    at.switch_page("app_pages/compare.py")
    at.query_params["se_space"] = hostile
    at.run()
    assert at.text_input(key="se_space").value == hostile
    next(b for b in at.button if b.label == "Launch search").click().run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and errors[0].startswith("Invalid setting — "), errors
    assert live_marks(errors[0]) == [] and "](" not in errors[0] and "://" not in as_read(errors[0]), errors[0]
    assert "[Sign in again](https:\u2215\u2215evil.example)" in as_read(errors[0])  # reads as typed: ∕∕ looks like //


def test_link_notices_quote_values_inert(app):
    at = app.run()
    at.switch_page("app_pages/train.py")
    at.query_params.update({"model": "[x](https://evil.example)", "epochs": "<b>9e99</b>"})
    at.run()
    no_errors(at)
    notes = " ".join(w.value for w in at.warning)
    for key, value in (("model", "[x](https://evil.example)"), ("epochs", "<b>9e99</b>")):
        assert f"{key}={plain(value)} (" in notes and live_marks(plain(value)) == [], notes
    assert "](" not in notes and "<b>" not in notes


# ---------------------------------------------------------------- 3. no absolute paths in messages
def test_a_corrupt_run_database_is_named_without_its_path(app):
    db = Path(os.environ["GRAPHCONV_DATA_DIR"]) / "runs.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    db.write_bytes(b"this is not an SQLite database " * 64)
    at = open_page(app, "app_pages/compare.py")
    errors = [e.value for e in at.error]
    assert errors and all(str(db.parent) not in e for e in errors), errors
    assert any("runs.db" in as_read(e) and "corrupt" in e for e in errors), errors
    assert not any(re.search(r"(^|\s)/\w", as_read(e)) for e in errors), errors  # no absolute path of any kind


# ---------------------------------------------------------------- 4. forged selector values
def test_format_functions_take_forged_values():
    shown = labelled({"draw": "draw", "dataset": "data set"})
    assert shown("dataset") == "data set"
    for forged in ("camera", "", None, 10**30, ["a"], {"a": 1}):
        assert shown(forged) == "—"


def test_a_forged_search_to_show_is_not_offered(app):
    """The search selector's value names a stored search or one this browser launched; a value the browser sent
    that is neither is no option (it used to be added to the list, shown, and written into the link)."""
    at = app.run()
    at.session_state["se_show"] = "search:evil:asha:lr"  # before the page draws its selector, as a browser's value
    at.switch_page("app_pages/compare.py").run()
    no_errors(at)
    chosen = at.selectbox(key="se_show")
    assert chosen.value == "none" and len(chosen.options) == 1, chosen.options
    assert at.query_params.get("se_show") in (None, "none")


def test_forged_run_selections_are_dropped(app):
    from core.training.runs import RunConfig, execute

    cnn = execute(RunConfig.make(model="cnn", hidden=8, epochs=1, quick=True))["run_id"]
    at = app.run()
    at.switch_page("app_pages/playground.py").run()
    assert at.multiselect(key="pg_runs_w").value == [cnn]
    at.multiselect(key="pg_runs_w").set_value([f"#{cnn + 999} forged", f"#{cnn} {'x' * 5}"]).run()  # not options
    no_errors(at)
    assert at.multiselect(key="pg_runs_w").value == []

    at = app.run()  # a classroom link hides the picker: the runs a browser sent for it are not taken unchecked
    at.switch_page("app_pages/equivariance.py")
    at.query_params["hide"] = "runs"
    at.run()  # the page is open: a value sent now is a rerun's, not forgotten as a page switch's (url_state.start_page)
    at.session_state["runs"] = ["#999 forged · mnist-5k", ["not", "a", "label"]]
    at.run()
    no_errors(at)
    fixed = " ".join(c.value for c in at.caption if c.value.startswith("Fixed by this link"))
    assert f"Runs to compare = Run {cnn} · CNN" in fixed and "forged" not in fixed and "999" not in fixed, fixed
    assert at.query_params.get("runs") == str(cnn)  # the link's real run, not what the browser sent
