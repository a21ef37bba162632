"""What a browser sends is untrusted: the canvas value, run ids and lists in links, long or hostile link values.
Each is refused or cut with one short notice, read with bounded work, and never ends in a traceback."""

import base64
import time

import pytest

from core.errors import UserInputError
from tests.ui.ui_helpers import no_errors
from ui.display import plain
from ui.draw_canvas import MAX_URL_CHARS, PNG_URL, drawing_png
from ui.url_state import SHOWN_CHARS, parse_run_id, parse_run_ids, shown_link_value

PLAYGROUND, RESULTS, TRAIN, EQUIVARIANCE = (
    "app_pages/playground.py",
    "app_pages/results.py",
    "app_pages/train.py",
    "app_pages/equivariance.py",
)
MANY_IDS = ",".join(str(i) for i in range(1, 10_001))  # a forged pg_runs / trio with 10,000 run ids


def _warnings(at) -> str:
    return " ".join(w.value for w in at.warning)


def _refused(value, *words: str) -> None:
    with pytest.raises(UserInputError) as err:
        drawing_png(value)
    assert "\n" not in str(err.value) and all(w in str(err.value) for w in words), str(err.value)


def test_the_canvas_value_must_be_a_short_png_data_url():
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    assert drawing_png(PNG_URL + base64.b64encode(png).decode()) == png
    assert drawing_png(None) is None and drawing_png("") is None  # an empty canvas, and after Clear
    _refused({"png": "x"}, "dict")
    _refused(["data:image/png;base64,", "x"], "list")
    _refused("data:image/svg+xml;base64," + base64.b64encode(b"<svg/>").decode(), "not a PNG data URL")
    _refused("javascript:alert(1)", "not a PNG data URL")
    _refused(PNG_URL + "not base64!", "not valid base64")
    _refused(PNG_URL + "QUJ", "not valid base64")  # bad padding: binascii.Error, not a traceback
    started = time.perf_counter()
    _refused(PNG_URL + "A" * MAX_URL_CHARS, "characters", f"{MAX_URL_CHARS:,}")  # refused unread, not decoded
    assert time.perf_counter() - started < 0.5
    largest = PNG_URL + base64.b64encode(b"\0" * (2 * 2**20)).decode()  # the largest drawing allowed still fits
    assert len(largest) <= MAX_URL_CHARS and len(drawing_png(largest)) == 2 * 2**20


def test_run_ids_in_links_are_ascii_digits_and_lists_are_short():
    assert parse_run_id("12") == 12 and parse_run_id("0") == 0
    for bad in ("²", "٣", "-1", "1e3", " 7", "7.0", "", "9" * 19, "9" * 5000, None):
        assert parse_run_id(bad) is None, bad  # '²'.isdigit() is True but int('²') raises; 19 digits overflow SQLite
    assert parse_run_ids("3, 7,,12", 3) == [3, 7, 12] and parse_run_ids("", 3) == []
    assert parse_run_ids("1,2,3,4", 3) is None and parse_run_ids("1,²", 3) is None and parse_run_ids(None, 3) is None
    started = time.perf_counter()
    assert parse_run_ids(MANY_IDS, 3) is None and parse_run_ids("1" * 1_000_000, 3) is None
    assert time.perf_counter() - started < 0.05  # refused by length, never split


def test_notices_quote_link_values_short_and_inert():
    assert shown_link_value("C8") == "C8"
    hostile = "x` [click me](https://evil.example) ![](https://evil.example/t.png) `"
    shown = shown_link_value(hostile)
    assert shown == plain(hostile[:SHOWN_CHARS]) + "…"  # the one quoting helper (tests/ui/test_error_hygiene.py)
    assert "](" not in shown and "https://" not in shown and "`" not in shown.replace("\\`", "")
    assert shown_link_value("a\nb\x00c") == "a b\ufffdc"
    long = shown_link_value("9" * 1_000_000)
    assert long == "9" * SHOWN_CHARS + "…"


def test_hostile_run_ids_in_links_are_refused_with_a_notice(app):
    from core.training.runs import RunConfig, execute

    run_id = execute(RunConfig.make(model="mlp", hidden=16, epochs=1, quick=True))["run_id"]
    at = app.run()
    at.switch_page(RESULTS)
    at.query_params["run"] = "²"  # str.isdigit() says yes, int() raised a ValueError before
    at.run()
    no_errors(at)
    assert "run=² in this link is not a finished or stopped run" in _warnings(at)
    assert at.selectbox(key="run").value == run_id

    for forged in ("²", "9" * 30):  # the second overflowed SQLite's integers in the run manager
        at = app.run()
        at.switch_page(TRAIN)
        at.query_params["run"] = forged
        at.run()
        no_errors(at)
        assert f"run={shown_link_value(forged)} (a run id)" in _warnings(at)
        assert "run" not in at.query_params  # dropped from the link

    at = app.run()
    at.switch_page(EQUIVARIANCE)
    at.query_params["trio"] = MANY_IDS  # polled every second, one store read per id, before this guard
    at.run()
    no_errors(at)
    notes = _warnings(at)
    assert f"trio={plain(MANY_IDS[:SHOWN_CHARS])}… (at most 3 run ids)" in notes and len(notes) < 1000
    assert "eq_trio" not in at.session_state and "trio" not in at.query_params


def test_playground_link_values_that_are_huge_or_hostile(app):
    from core.training.runs import RunConfig, execute

    cnn = execute(RunConfig.make(model="cnn", hidden=8, epochs=1, quick=True))["run_id"]
    at = app.run()
    at.switch_page(PLAYGROUND)
    at.query_params.update(
        {
            "pg_src": "x` [click me](https://evil.example) `",
            "pg_runs": MANY_IDS,
            "pg_mirror": "1" * 400_000,  # Streamlit drops a query string over 512 Ki characters
            "note": "a&b=c#d",
        }
    )  # an unknown key: kept, and one value in the copied link
    at.run()
    no_errors(at)
    assert at.multiselect(key="pg_runs_w").value == [cnn]  # the newest CNN instead
    notes = _warnings(at)
    assert (
        "pg_src=x\\` \\[click me\\]\\(https\\:\u2215\u2215evil\\.example\\) \\` (" in notes
    )  # escaped: text, not a link
    assert f"pg_runs={plain(MANY_IDS[:SHOWN_CHARS])}… (" in notes and "pg_mirror=" + "1" * SHOWN_CHARS + "… (" in notes
    assert len(notes) < 1000  # a 400 KB value is not echoed back
    copy_link = [h.proto.body for h in at.get("html") if "gcl-copy" in h.proto.body]
    assert len(copy_link) == 1 and "note" not in copy_link[0]  # Copy link reads the address bar in the browser:
    #                                                             no link value is written into its markup


def test_an_overlong_text_value_in_a_link_is_cut_with_a_notice(app):
    at = app.run()
    at.switch_page(TRAIN)
    at.query_params.update({"model": "escnn", "schedule_groups": "C8," * 5000})
    at.run()
    no_errors(at)
    assert "schedule_groups=C8\\,C8\\," in _warnings(at) and "(at most 200 characters)" in _warnings(at)
    assert len(at.text_input(key="schedule_groups").value) <= 200


def test_forged_table_and_chart_selections_are_filtered(app):
    """Selections are component values too: rows and points that name nothing are dropped, not a traceback."""
    from core.training.runs import RunConfig, execute

    run_id = execute(RunConfig.make(model="mlp", hidden=16, epochs=1, quick=True))["run_id"]
    at = app.run()
    at.switch_page("app_pages/compare.py").run()
    at.session_state["runs_table"] = {"selection": {"rows": [-1, "x", 0, 0, 5000], "columns": [], "cells": []}}
    at.run()
    no_errors(at)
    assert "1 selected run" in [s.value for s in at.subheader]  # row 0, once

    at = app.run()
    at.switch_page(RESULTS).run()
    assert at.selectbox(key="run").value == run_id
    points = [{"customdata": [10**9]}, {"customdata": ["x"]}, "junk", {"customdata": [-1]}, {"customdata": [3, 1, 1]}]
    at.session_state["pca_chart"] = {"selection": {"points": points, "point_indices": [], "box": [], "lasso": []}}
    at.run()
    no_errors(at)
    gallery = [c.proto.spec for c in at.get("plotly_chart") if "Selected digits" in (c.proto.spec or "")]
    assert len(gallery) == 1 and "Selected digits (1 of 1)" in gallery[0] and '"#3: true' in gallery[0]
