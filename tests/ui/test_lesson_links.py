"""A lesson's links, now written by the UI from core's link targets, are the links the old code wrote: the same
pages, labels, URL keys and values in the same order, so a link shared before opens the same thing.

``lesson_links_before.json`` holds what ``core.analysis.lesson_rows.explain_links`` returned at commit d7a16aa
(before core stopped naming page files and URL keys): ``[lesson, mode, scenario, [[page file, label, query], ...]]``
for every lesson and mode in the scenarios :func:`scenarios` builds, written by running that commit's code on them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from core.analysis.lesson_rows import LessonLink, explain_links, lesson_rows
from core.analysis.lessons import LESSONS, MODES
from core.training.store.groups import RunGroup
from tests.ui.ui_helpers import no_errors
from ui import nav
from ui.lesson_links import lesson_links, link_query
from ui.page_queries import FiltersQuery, KarateQuery, LessonsQuery

BEFORE = json.loads((Path(__file__).parent / "lesson_links_before.json").read_text(encoding="utf-8"))
# A fixed launch per lesson (a real one's id has a time stamp): its sweep part is what the rotation lesson links
LAUNCH = {
    k: RunGroup(
        "lesson", f"lesson:{k}:m:1-ab", lesson=k, mode="quick", parts=(("sweep", f"sweep:1-ab:restriction:lesson-{k}"),)
    )
    for k in LESSONS
}


def scenarios(key: str, mode: str) -> Iterator[tuple[str, Sequence[Mapping[str, Any]], RunGroup | None]]:
    """The lesson's rows with no run, every run finished (with and without its launch), only the first finished,
    only the last (the others failed): run ids 10, 11, ... in row order."""
    base = lesson_rows(LESSONS[key], mode, [], lambda _: [])
    n = len(base)
    yield "none", base, None
    yield "all", [dict(r, run=10 + i, status="finished") for i, r in enumerate(base)], LAUNCH[key]
    yield "all-nolaunch", [dict(r, run=10 + i, status="stopped") for i, r in enumerate(base)], None
    first = [dict(r, run=10 + i, status="finished" if i == 0 else "running") for i, r in enumerate(base)]
    yield "first", first, LAUNCH[key]
    last = [dict(r, run=10 + i, status="finished" if i == n - 1 else "failed") for i, r in enumerate(base)]
    yield "last", last, LAUNCH[key]


def test_the_stored_cases_cover_every_lesson_and_mode():
    assert {(k, m) for k, m, _, _ in BEFORE} == {(k, m) for k in LESSONS for m in MODES}
    assert len(BEFORE) == len(LESSONS) * len(MODES) * 5
    assert sum(len(links) for *_, links in BEFORE) > 60  # every kind of link is among them
    assert {file for *_, links in BEFORE for file, _, _ in links} == {
        nav.entry(k).file for k in ("filters", "spectral", "compare", "results", "equivariance", "karate")
    }


@pytest.mark.parametrize(("key", "mode", "name", "before"), BEFORE, ids=[f"{k}-{m}-{n}" for k, m, n, _ in BEFORE])
def test_every_lessons_links_are_the_ones_written_before(key, mode, name, before):
    rows, launch = next((rows, launch) for n, rows, launch in scenarios(key, mode) if n == name)
    now = [(nav.entry(page).file, label, query) for page, label, query in lesson_links(LESSONS[key], rows, launch)]
    assert now == [tuple(link) for link in before]
    for (_, _, query), (_, _, old) in zip(now, before, strict=True):
        assert list(query.items()) == list(old.items())  # the same keys in the same order: the same URL


def test_core_names_pages_by_key_and_targets_by_value():
    """Core's links say which page and what on it; no page file or URL key."""
    links = explain_links(
        LESSONS["superpixels"],
        [dict(r, run=4, status="finished") for r in lesson_rows(LESSONS["superpixels"], "quick", [], lambda _: [])][:1],
    )
    assert links[0] == LessonLink("filters", "Filters: GCN on a digit's superpixels", (4,), model="superpixel")
    assert links[1] == LessonLink("results", "Results: the run's confusion matrix and mistakes", (4,))
    assert link_query(links[0]) == FiltersQuery(source="superpixel", run=4)
    with pytest.raises(ValueError, match="no link to page 'spectral'"):
        link_query(LessonLink("spectral", "two runs cannot open on one spectral view", (1, 2)))
    with pytest.raises(ValueError, match="cannot show a run of model 'cnn'"):
        link_query(LessonLink("filters", "a CNN's filters are no page's", (1,), model="cnn"))


def test_the_karate_and_lessons_schemas_read_back_what_they_write():
    k = KarateQuery(model="gat", epochs=300, lr=0.003, seed=7)
    assert k.to_query() == {"k_model": "gat", "k_epochs": "300", "k_lr": "0.003", "k_seed": "7"}
    assert KarateQuery.from_query(k.to_query()) == k
    assert KarateQuery.from_query({"k_lr": "nan", "k_epochs": "-3", "k_seed": "x"}) == KarateQuery()
    assert KarateQuery().to_query() == {}
    show = LessonsQuery(lesson="rotation", show="lesson:rotation:full:1-ab")
    assert show.to_query() == {"lesson": "rotation", "ls_show": "lesson:rotation:full:1-ab"}
    assert LessonsQuery.from_query(show.to_query()) == show


def _karate_widgets(app, query: Mapping[str, str]) -> tuple:
    at = app.run()
    at.switch_page(nav.entry("karate").file)
    at.query_params.update(query)
    at.run()
    no_errors(at)
    assert not [w.value for w in at.warning if "link" in w.value]  # no value of the link was refused
    return (
        at.selectbox(key="k_model").value,
        at.slider(key="k_epochs").value,
        at.select_slider(key="k_lr").value,
        at.number_input(key="k_seed").value,
    )


def test_the_karate_link_opens_the_page_set_as_it_says(app):
    (_, _, query), *_ = lesson_links(LESSONS["karate"], lesson_rows(LESSONS["karate"], "quick", [], lambda _: []))
    assert _karate_widgets(app, query) == ("gcn", 200, 0.01, 0)


def test_the_karate_schema_writes_the_keys_the_page_reads(app):
    other = KarateQuery(model="cheb", epochs=30, lr=0.03, seed=7)  # the schema's keys are the ones the page reads
    assert _karate_widgets(app, other.to_query()) == ("cheb", 30, 0.03, 7)
