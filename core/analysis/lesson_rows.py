"""A lesson's live table: its stored runs beside the published figures, what they show, and where to look next.

``lesson_rows(lesson, mode, runs, epochs_of)`` matches a launch's stored runs (rows of ``RunStore.list_runs``, from
every group of the launch: ``RunGroup.member_ids``) to the lesson's rows by their settings, and gives each
row its status, epochs done, test accuracy and mean seconds per epoch (from the store's epoch records); a row with
no run of its own shows the identical run it reuses (``identical``: found by ``core.training.runner.identical_runs``,
the same config and seed trained for another launch or page);
``findings`` says what the numbers show (ChebNet's epoch time as a multiple of the CNN's), ``explain_links`` which
pages explain the result on these runs (:class:`LessonLink`: a page's key and what it opens; the UI writes the
link), ``stored_lessons`` which launches the store holds (from its run groups).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from statistics import mean
from typing import Any

from core.analysis.lessons import (
    DATA_WORDS,
    KARATE_KEY,
    LESSONS,
    ROT_C8,
    ROT_CNN,
    Lesson,
    LessonRow,
    row_config,
)
from core.training.store import Run, as_run
from core.training.store.groups import RunGroup

NOT_STARTED = "not started"
MISSING = "—"
ENDED = ("finished", "stopped", "failed")
# The table's columns as the page shows them (``table``), from the rows' keys; "ours" is named per lesson
# (``ours_column``)
SHOWN = {
    "row": "model",
    "run": "run",
    "status": "status",
    "epochs": "epochs",
    "test accuracy": "test accuracy",
    "s/epoch": "s/epoch",
    "this project, full length": "ours",
    "published": "published",
    "source": "source",
}


@dataclass(frozen=True)
class FixedGraph:
    """A fixed pixel graph by its builder's settings: ``core.graphs`` kind, its parameters, its normalisation
    (None: the page's default)."""

    kind: str
    params: Mapping[str, Any]
    norm: str | None = None


@dataclass(frozen=True)
class KarateSettings:
    """One KarateClub training, as ``core.analysis.karate.train_karate`` takes it."""

    model: str
    epochs: int
    lr: float
    seed: int


@dataclass(frozen=True)
class LessonLink:
    """A page that explains a lesson's result, named by what it shows, never by a file or a URL key: ``page`` is a
    page's key in the UI's registry ("results", "compare", ...), ``label`` the link's words, and the target is the
    runs it opens (``model``: theirs, where the page shows a run by its model's spec, as Filters does), the sweep
    group whose plot it shows, the fixed graph whose filter it draws, or the KarateClub training it is set up for.
    ``ui/lesson_links.py`` turns it into the page's link."""

    page: str
    label: str
    runs: tuple[int, ...] = ()
    model: str = ""
    sweep: str | None = None
    graph: FixedGraph | None = None
    karate: KarateSettings | None = None


def _value(config: Mapping[str, Any], name: str) -> Any:
    value = config.get(name)
    return value.upper() if name == "group" and isinstance(value, str) else value


def matches(row: LessonRow, config: Mapping[str, Any]) -> bool:
    """Whether a stored run's ``config`` has every setting that defines ``row`` (graph parameters: those named)."""
    for name, want in row.settings.items():
        if name == "graph_params":
            have = config.get("graph_params") or {}
            if any(have.get(k) != v for k, v in want.items()):
                return False
        elif _value(config, name) != (want.upper() if name == "group" else want):
            return False
    # a row that names no data set holds runs on the default one only
    return "data" in row.settings or config.get("data", "mnist-5k") == "mnist-5k"


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def epoch_seconds(epochs: Sequence[Mapping[str, Any]]) -> float | None:
    """Mean wall-clock seconds of the logged epochs (None before the first)."""
    seconds = [s for s in (_number(e.get("seconds")) for e in epochs) if s is not None]
    return mean(seconds) if seconds else None


def _ours(row: LessonRow, quick: bool) -> str:
    from core.analysis.reference import reference_for

    if row.ours:
        return row.ours
    if row.part != "main":
        return MISSING
    ref = reference_for(row_config(row, quick).to_dict())
    return f"{ref.accuracy:.1%} ({ref.epochs} epochs)" if ref else MISSING


def lesson_rows(
    lesson: Lesson,
    mode: str,
    runs: Sequence[Run | Mapping[str, Any]],
    epochs_of: Callable[[int], Sequence[Mapping[str, Any]]],
    launch: RunGroup | None = None,
    identical: Sequence[Run | Mapping[str, Any] | None] = (),
) -> list[dict[str, Any]]:
    """One table row per lesson row of ``mode``, filled from ``runs`` (store rows; the newest run matching a row's
    settings and, with ``launch``, in the launch's group of the row's part): run id, status, epochs done, test
    accuracy, seconds per epoch, this project's full-length figure and the published one. A row with no run of its
    own takes ``identical[i]`` (the i-th row's identical run, reused; ``"reused": True``); a row without either reads
    "not started"."""
    quick = mode == "quick"
    stored = [as_run(r) for r in runs]
    out = []
    for i, row in enumerate(lesson.rows_in(mode)):
        want = launch.part(row.part) if launch else None
        found = [r for r in stored if matches(row, r.config) and (want is None or r.group_id == want)]
        run = max(found, key=lambda r: r.id) if found else None
        same = identical[i] if i < len(identical) else None
        reused = run is None and same is not None
        if run is None and same is not None:
            run = as_run(same)
        total = row.epochs[0 if quick else 1]
        cells: dict[str, Any] = {
            "run": None,
            "status": NOT_STARTED,
            "epochs": f"0 of {total}",
            "test accuracy": None,
            "s/epoch": None,
        }
        if run is not None:
            epochs = list(epochs_of(run.id))
            accuracy = _number(run.summary.test_accuracy)
            if accuracy is None and epochs:
                accuracy = _number(epochs[-1].get("test_accuracy"))
            total = int(run.config.get("epochs") or total)
            cells = {
                "run": run.id,
                "status": run.status or MISSING,
                "epochs": f"{len(epochs)} of {total}",
                "test accuracy": accuracy,
                "s/epoch": epoch_seconds(epochs),
                "train images": run.summary.train_images,
            }
        out.append(
            {
                "row": row.label,
                **cells,
                "this project, full length": _ours(row, quick),
                "published": row.published,
                "source": row.short_source,
                "full source": row.source,
                "published accuracy": row.published_accuracy,
                "part": row.part,
                "reused": reused,
                "config": run.config if run is not None else {},
            }
        )
    return out


def ours_column(lesson: Lesson) -> str:
    """The heading of this project's own full-length figures: how they were trained, beside these runs' own."""
    return "ours" if lesson.in_page else "ours, 4,000 digits"


def table(rows: Sequence[Mapping[str, Any]], lesson: Lesson | None = None) -> list[dict[str, Any]]:
    """The rows as the page shows them: the columns a reader needs, in order, under the headings of ``SHOWN`` (this
    project's figures under :func:`ours_column`)."""
    names = dict(SHOWN, **({"this project, full length": ours_column(lesson)} if lesson else {}))
    return [{shown: r.get(k) for k, shown in names.items()} for r in rows]


def sources(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Each source of the rows in full, once, in row order (the table names them short)."""
    out: list[str] = []
    for r in rows:
        full = r.get("full source") or r.get("source")
        if full and full not in ("–", MISSING, "this project") and full not in out:
            out.append(full)
    return out


def reused_line(rows: Sequence[Mapping[str, Any]]) -> str:
    """One line on the rows that show a run trained earlier with the same settings and seed ("" when none)."""
    ids = [r["run"] for r in rows if r.get("reused") and r.get("run") is not None]
    if not ids:
        return ""
    named = f"run {ids[0]}" if len(ids) == 1 else "runs " + ", ".join(map(str, ids[:-1])) + f" and {ids[-1]}"
    return (
        f"The same settings and seed were trained in {named}: shown here. Pick another seed under "
        "**Run your own copy** to train your own."
    )


def existing_launch(
    runs: Sequence[Run | Mapping[str, Any] | None], key: str, mode: str, seed: int, groups: Mapping[str, RunGroup]
) -> RunGroup | None:
    """The lesson launch (of lesson ``key``, ``mode`` and ``seed``) that one of ``runs`` (store rows) was trained
    for, the oldest first, from the store's ``groups``; None when none was."""
    for run in sorted((as_run(r) for r in runs if r), key=lambda r: r.id):
        group = groups.get(run.group_id or "")
        if group is not None and group.type == "lesson" and (group.lesson, group.mode, group.seed) == (key, mode, seed):
            return group
    return None


def settled(rows: Sequence[Mapping[str, Any]]) -> bool:
    """No row's run is queued or training (a lesson not launched is settled too)."""
    return not any(r["status"] in ("queued", "running") for r in rows)


def so_far(rows: Sequence[Mapping[str, Any]]) -> str:
    """ "" once every run has ended; else how far the runs with a figure are, e.g. "So far, after 1 of 8 epochs"."""
    if settled(rows):
        return ""
    done = [tuple(map(int, r["epochs"].split(" of "))) for r in rows if r.get("test accuracy") is not None]
    if not done:
        return "So far"
    low, high, total = min(d for d, _ in done), max(d for d, _ in done), max(t for _, t in done)
    count = f"{low}" if low == high else f"{low}–{high}"
    return f"So far, after {count} of {total} epoch{'s' if total != 1 else ''}"


def _by_label(rows: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    return {r["row"]: r for r in rows}


def epoch_ratio(rows: Sequence[Mapping[str, Any]]) -> float | None:
    """ChebNet's mean epoch seconds over the CNN's, in the ChebNet-vs-CNN lesson (None until both have an epoch)."""
    cheb = next((r for r in rows if r["row"].startswith("ChebNet")), None)
    cnn = next((r for r in rows if r["row"].startswith("CNN")), None)
    if not cheb or not cnn or not cheb.get("s/epoch") or not cnn.get("s/epoch"):
        return None
    return cheb["s/epoch"] / cnn["s/epoch"]


def findings(lesson: Lesson, rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """What the numbers so far show, in sentences (empty before any accuracy)."""
    done = [r for r in rows if r.get("test accuracy") is not None]
    lines = []
    partial = so_far(rows)
    lead = f"{partial}: " if partial else ""
    if lesson.key == "cheb-cnn":
        ratio = epoch_ratio(rows)
        if ratio is not None:
            lines.append(f"{lead}ChebNet epoch = {ratio:.1f}x the CNN's (published 7.6-14.6x).")
        if len(done) == 2:
            cheb, cnn = done[0]["test accuracy"], done[1]["test accuracy"]
            lines.append(
                f"{lead}ChebNet {cheb:.1%} against the CNN's {cnn:.1%}: {100 * (cheb - cnn):+.1f} points "
                f"({'the paper, after 20 epochs' if partial else 'published'}: 99.14% against 99.33%, "
                "-0.2 points)."
            )
    elif lesson.key == "rotation":
        by = _by_label(done)
        cnn, c8 = by.get(ROT_CNN), by.get(ROT_C8)
        if cnn and c8:
            lines.append(
                f"{lead}On rotated digits the C8 net scores {c8['test accuracy']:.1%} against the CNN's "
                f"{cnn['test accuracy']:.1%} ({100 * (c8['test accuracy'] - cnn['test accuracy']):+.1f} "
                "points)."
            )
        for words in (DATA_WORDS["mnist-rot"], DATA_WORDS["mnist-5k"]):
            sweep = [r for r in done if r["part"] == "sweep" and r["row"].endswith(words)]
            if len(sweep) > 1:
                best = max(sweep, key=lambda r: r["test accuracy"])
                lines.append(
                    f"{lead}Restriction sweep on {words}: best {best['row'].rsplit(',', 1)[0]} "
                    f"({best['test accuracy']:.1%})."
                )
    elif lesson.key == "karate":
        lines += [
            f"{r['row']} labels {round(30 * r['test accuracy'])} of the 30 unlabelled members "
            f"({r['test accuracy']:.1%})."
            for r in done
        ]
    elif len(done) > 1:
        low, high = min(done, key=lambda r: r["test accuracy"]), max(done, key=lambda r: r["test accuracy"])
        lines.append(
            f"{lead or 'Here: '}{low['row']} {low['test accuracy']:.1%} to {high['row']} {high['test accuracy']:.1%}."
        )
        ranked = [r for r in rows if r.get("published accuracy") is not None]
        if ranked:
            top = max(ranked, key=lambda r: r["published accuracy"])
            lines.append(f"Published best: {top['row']} {top['published']}.")
    return lines


def data_line(rows: Sequence[Mapping[str, Any]], mode: str, quick_server: bool = False) -> str:
    """How much these runs trained, for the "why they differ" caption (``quick_server``: this server trains every
    run on the quick data, full mode too)."""
    images = sorted({int(r["train images"]) for r in rows if _number(r.get("train images"))})
    epochs = sorted({int(r["epochs"].split(" of ")[1]) for r in rows})
    shown = (
        " / ".join(f"{n:,}" for n in images) if images else ("1,000" if mode == "quick" or quick_server else "4,000")
    )
    return (
        f"These runs ({mode} mode): {shown} training digits, "
        f"{' / '.join(map(str, epochs))} epoch{'s' if epochs != [1] else ''}."
    )


def _ids(rows: Sequence[Mapping[str, Any]], part: str = "main") -> list[int]:
    return [
        r["run"] for r in rows if r["run"] is not None and r["status"] in ("finished", "stopped") and r["part"] == part
    ]


def explain_links(
    lesson: Lesson, rows: Sequence[Mapping[str, Any]], launch: RunGroup | None = None
) -> list[LessonLink]:
    """The pages that explain this lesson's result on its finished runs, each by what it shows (the UI writes the
    links: ``ui/lesson_links.py``)."""
    finished = {r["row"]: r["run"] for r in rows if r["run"] is not None and r["status"] in ("finished", "stopped")}
    ids = _ids(rows)
    links: list[LessonLink] = []
    if lesson.key == "tutorial":
        gaussian = FixedGraph("gaussian", {"sigma": 0.05, "cutoff": 0.01}, "sym")
        links.append(LessonLink("filters", "Filters: the fixed Gaussian graph's filter", graph=gaussian))
    if lesson.key == "cheb-cnn":
        cheb = next((i for label, i in finished.items() if label.startswith("ChebNet")), None)
        if cheb is not None:
            links.append(LessonLink("spectral", "Spectral view: ChebNet's learned frequency responses", (cheb,)))
        grid = FixedGraph("grid", {"neighbours": 8})
        links.append(LessonLink("filters", "Filters: the 8-neighbour grid's fixed filter", graph=grid))
    if lesson.key == "superpixels":
        model = {r.label: r.settings["model"] for r in lesson.rows}
        for label, run_id in list(finished.items())[:3]:
            links.append(
                LessonLink("filters", f"Filters: {label} on a digit's superpixels", (run_id,), model=model[label])
            )
    if lesson.key == "rotation":
        c8 = finished.get(ROT_C8)
        if c8 is not None:
            links.append(
                LessonLink("equivariance", "Equivariance: accuracy against the angle, C8 net beside the CNN", (c8,))
            )
        if launch is not None and _ids(rows, "sweep"):
            links.append(
                LessonLink("compare", "Compare: accuracy against the restriction depth", sweep=launch.part("sweep"))
            )
    if lesson.key == KARATE_KEY:
        gcn = KarateSettings("gcn", 200, 0.01, 0)  # the GCN row's training, as links already shared state it
        links.append(LessonLink("karate", "KarateClub: train it yourself, one layer type at a time", karate=gcn))
    if len(ids) > 1:
        links.append(LessonLink("compare", "Compare runs: their settings and curves", tuple(ids)))
    elif len(ids) == 1:
        links.append(LessonLink("results", "Results: the run's confusion matrix and mistakes", (ids[0],)))
    return links


def stored_lessons(
    runs: Sequence[Mapping[str, Any]], groups: Mapping[str, RunGroup], key: str | None = None
) -> list[dict[str, Any]]:
    """Lesson launches among stored ``runs`` (store rows) by the store's ``groups``, of lesson ``key`` if given,
    newest first: ``{"id", "group", "key", "mode", "seed", "runs", "first_run", "label"}``."""
    found: dict[str, list[int]] = {}
    for r in runs:
        group = groups.get(r.get("group_id") or "")
        if (
            group is not None
            and group.type == "lesson"
            and group.lesson in LESSONS
            and (key is None or group.lesson == key)
        ):
            found.setdefault(group.id, []).append(int(r["id"]))
    out = []
    for group_id, ids in found.items():
        group = groups[group_id]
        parts = set(group.member_ids()[1:])  # a sweep part's runs count too
        ids += [int(r["id"]) for r in runs if r.get("group_id") in parts]
        seed = group.seed
        out.append(
            {
                "id": group_id,
                "group": group,
                "key": group.lesson,
                "mode": group.mode,
                "runs": len(ids),
                "first_run": min(ids),
                "seed": seed,
                "label": f"{LESSONS[group.lesson].title} · {group.mode}{f' · seed {seed}' if seed else ''}"
                f" · from run #{min(ids)}",
            }
        )
    return sorted(out, key=lambda e: -e["first_run"])


def karate_rows(lesson: Lesson, mode: str, results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The KarateClub lesson's table from ``train_karate`` results by model (KarateResult)."""
    out: list[dict[str, Any]] = []
    for row in lesson.rows_in(mode):
        res = results.get(row.settings["model"])
        out.append(
            {
                "row": row.label,
                "run": None,
                "status": "finished" if res is not None else NOT_STARTED,
                "epochs": f"{res.epochs if res is not None else 0} of {row.epochs[mode == 'full']}",
                "test accuracy": None if res is None else res.accuracy,
                "s/epoch": None if res is None else res.seconds / max(res.epochs, 1),
                "this project, full length": row.ours or MISSING,
                "published": row.published,
                "source": row.short_source,
                "full source": row.source,
                "published accuracy": None,
                "part": "main",
                "reused": False,
                "config": {},
            }
        )
    return out
