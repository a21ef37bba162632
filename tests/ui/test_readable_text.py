"""Every page reached through app.py's navigation reads as a person talks: with a store holding small finished runs
of several models, no visible text (markdown, captions, headings, notices, metrics, table cells, widget labels and
options, buttons, links, chart titles and labels) holds an environment variable's name (``GRAPHCONV_...``: operators'
settings belong in docs/hosting.md), a raw run label (``grid(neighbours=8)``) or a torch or escnn class name
(``Conv2d``, ``Module``, ``PointwiseAvgPoolAntialiased2D``)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from streamlit.testing.v1 import AppTest

from ui import nav

PAGES = [e.file for e in nav.PAGES]  # every page app.py registers (ui/nav.py)
# people say "ReLU" for the activation; torch's class of that name is the concept, not an internal
CONCEPTS = {
    "ReLU",
    "ELU",
    "GELU",
    "SELU",
    "CELU",
    "PReLU",
    "LeakyReLU",
    "Softmax",
    "Dropout",
    "Linear",
    "Identity",
    "Flatten",
    "Tanh",
    "Sigmoid",
    "Threshold",
    "Bilinear",
}


def class_names() -> set[str]:
    """The class names of torch.nn and escnn.nn that no visitor should read."""
    import torch.nn

    names = {n for n in dir(torch.nn) if isinstance(getattr(torch.nn, n), type)}
    try:
        import escnn.nn

        names |= {n for n in dir(escnn.nn) if isinstance(getattr(escnn.nn, n), type)}
    except ImportError:  # escnn is a dependency of the app; without it its pages have no such names
        pass
    # a code-shaped name (an inner capital or a digit: Conv2d, BatchNorm2d, MaskModule, PointwiseAvgPoolAntialiased2D)
    # or a bare one that is no English word in a sentence here (Module, Sequential); "Embedding" may be a word
    return {
        n
        for n in names
        if n[:1].isupper()
        and n not in CONCEPTS
        and (re.search(r"[a-z][A-Z]|\d", n) or n in ("Module", "Sequential", "Parameter"))
    }


def forbidden() -> list[tuple[str, re.Pattern]]:
    classes = sorted(class_names(), key=len, reverse=True)
    return [
        ("environment variable", re.compile(r"GRAPHCONV_\w*")),
        ("raw run label", re.compile(r"\b(grid|knn|gaussian|superpixels|complete)\((neighbours|k|sigma|segments)=")),
        ("class name", re.compile(r"(?<!\w)(" + "|".join(map(re.escape, classes)) + r")(?![\w])")),
    ]


def _chart_texts(spec: str) -> Iterator[str]:
    """A plotly chart's words: its title, axis titles and tick labels, trace names and annotations."""
    fig = json.loads(spec)
    layout = fig.get("layout", {})

    def text_of(title) -> str:
        return title.get("text", "") if isinstance(title, dict) else str(title or "")

    yield text_of(layout.get("title"))
    for key, axis in layout.items():
        if re.fullmatch(r"[xy]axis\d*", key) and isinstance(axis, dict):
            yield text_of(axis.get("title"))
            yield from (str(t) for t in axis.get("ticktext") or [])
    yield from (str(a.get("text", "")) for a in layout.get("annotations") or [])
    for trace in fig.get("data", []):
        yield str(trace.get("name") or "")
        for axis in ("x", "y"):  # category labels (layer names drawn as rows or bars); numbers may come encoded
            values = trace.get(axis)
            if isinstance(values, list) and values and isinstance(values[0], str):
                yield from values


def visible_texts(at: AppTest) -> Iterator[tuple[str, str]]:
    """(what, text) for everything a visitor can read on the page as the last run left it."""
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success"):
        for el in getattr(at, kind):
            yield kind, str(el.value)
    for m in at.metric:
        yield "metric", f"{m.label}: {m.value}"
    for df in at.dataframe:
        frame = df.value
        yield "table header", " | ".join(map(str, frame.columns))
        for row in frame.itertuples(index=False):
            yield "table cell", " | ".join(map(str, row))
    for kind in ("selectbox", "multiselect", "radio", "select_slider"):
        for w in getattr(at, kind):
            yield f"{kind} label", str(w.label)
            yield f"{kind} options", " | ".join(map(str, w.options))
    for kind in ("slider", "number_input", "text_input", "toggle", "checkbox", "button"):
        for w in getattr(at, kind):
            yield f"{kind} label", str(w.label)
    for kind in ("expander", "tabs"):
        for block in getattr(at, kind):
            yield kind, str(block.label)
    for link in at.get("page_link"):
        yield "page link", link.proto.label
    for chart in at.get("plotly_chart"):
        for text in _chart_texts(chart.proto.spec):
            yield "chart", text


def test_no_page_shows_environment_variables_raw_labels_or_class_names(app: AppTest) -> None:
    from core.training.runs import RunConfig, execute

    runs = {
        name: execute(cfg)["run_id"]
        for name, cfg in {
            "mlp": RunConfig.make(model="mlp", hidden=8, epochs=1, quick=True),
            "cheb": RunConfig.make(model="cheb", hidden=8, epochs=1, quick=True),
            "gcn": RunConfig.make(model="gcn", graph="knn", graph_params={"k": 6}, hidden=8, epochs=1, quick=True),
            "escnn": RunConfig.make(
                model="escnn", data="mnist-rot", group="C4", layers=1, hidden=8, epochs=1, quick=True
            ),
        }.items()
    }
    linked = {
        "app_pages/train.py": {"run": str(runs["cheb"])},  # its live panel: the run's heading
        "app_pages/results.py": {"run": str(runs["cheb"])},
        "app_pages/compare.py": {"cmp_runs": ",".join(map(str, runs.values()))},
    }  # their settings side by side
    patterns = forbidden()
    failures: dict[str, list[str]] = {}
    read: dict[str, int] = {}
    seen: list[str] = []
    at = app
    at.run()
    for page in PAGES:
        at.switch_page(page)
        at.query_params.clear()
        at.query_params.update(linked.get(page, {}))
        at.run()
        assert not at.exception, (page, [e.value for e in at.exception])
        for what, text in visible_texts(at):
            read[page] = read.get(page, 0) + len(text)
            seen.append(text)
            for name, pattern in patterns:
                for hit in pattern.finditer(text):
                    failures.setdefault(page, []).append(f"{name} {hit.group(0)!r} in {what}: {text[:160]!r}")
    assert set(read) == set(PAGES) and min(read.values()) > 50, read  # every page was read, and had text
    shown = "\n".join(seen)  # the runs were there, named as people say them
    assert f"Run {runs['cheb']} · ChebNet K=5 on the 8-neighbour grid" in shown
    assert "GCN on the 6-nearest-neighbour graph" in shown and "Steerable CNN C4" in shown
    assert not failures, "\n".join(
        f"{page}:\n  " + "\n  ".join(dict.fromkeys(lines)) for page, lines in failures.items()
    )
