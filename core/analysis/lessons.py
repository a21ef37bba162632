"""Lessons: one per source experiment, each a set of runs trained beside the figures its source published.

A :class:`Lesson` names its question, its rows (:class:`LessonRow`: the settings of one run, the published figure
and where it comes from), why this project's numbers differ, and the pages that explain the result. Its runs are
ordinary queued runs in one run group per launch (:func:`new_lesson_group`: a ``RunGroup`` of type ``lesson`` with
its lesson, mode and seed), as a sweep's runs are in the sweep's group; a lesson's sweep part (the rotation lesson's
restriction depths) is a sweep group of its own, named in the launch's ``parts``, so the Compare page plots it.
The KarateClub lesson trains in the page (34 nodes, about a second, seeded and deterministic): :func:`lesson_configs`
gives ``train_karate``'s settings for it, and its launch, never stored, is the same group each time (its id
``lesson:karate:<mode>`` reopens it by training the same settings again). A link's ``ls_show`` names a launch by its
group id; :func:`lesson_launch` finds it (a stored group, or a link written before groups were stored).

:mod:`core.analysis.lesson_rows` turns a lesson's stored runs into its live table, findings and links.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.errors import UserInputError
from core.training.store.groups import RunGroup
from core.training.store.legacy_kinds import group_from_kind

MODES = ("quick", "full")
KARATE_KEY = "karate"
# The restriction sweep's nets (README "How much equivariance, and where"): C8 for the first blocks, C1 after
SWEEP_FULL, SWEEP_SUB, SWEEP_BLOCKS, SWEEP_HIDDEN = "C8", "C1", 3, 16
DATA_WORDS = {"mnist-rot": "rotated digits", "mnist-5k": "upright digits"}  # a row's data set, as its label says it


@dataclass(frozen=True)
class LessonRow:
    """One run of a lesson: the settings that make it (RunConfig fields; for KarateClub ``train_karate``'s) and the
    figure its source published."""

    label: str  # short: the table's first column (the settings that differ between rows, in words)
    settings: Mapping[str, Any]
    published: str  # the published figure as text ("–" when the source has none)
    source: str  # in full, listed once under the table
    published_accuracy: float | None = None  # in [0, 1], when the source gives one number
    ours: str = ""  # this project's own full-length figure, where core.analysis.reference has none
    epochs: tuple[int, int] = (8, 8)  # (quick, full)
    modes: tuple[str, ...] = MODES  # the modes that train this row
    part: str = "main"  # "sweep": stored in the launch's sweep group
    cite: str = ""  # the source in a few words, for the table's source column ("" : the source as it is)

    @property
    def short_source(self) -> str:
        return self.cite or self.source

    def in_mode(self, mode: str) -> bool:
        return mode in self.modes


@dataclass(frozen=True)
class Lesson:
    key: str
    title: str
    question: str  # two sentences
    rows: tuple[LessonRow, ...]
    why: str  # why this project's numbers differ from the published ones
    sweep_over: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # mode -> the sweep part's settings
    in_page: bool = False  # trained in the page (KarateClub), not queued

    def rows_in(self, mode: str) -> list[LessonRow]:
        return [r for r in self.rows if r.in_mode(mode)]


def _sweep_row(depth: int, data: str, published: str, ours: str, modes=MODES) -> LessonRow:
    from core.models.escnn_net import restricted_schedule

    group = restricted_schedule(SWEEP_FULL, SWEEP_SUB, SWEEP_BLOCKS, depth)
    what = "C8 throughout" if depth == 0 else f"C8 → C1 after block {depth}"
    return LessonRow(
        f"{what}, {DATA_WORDS[data]}",
        {"model": "escnn", "group": group, "layers": SWEEP_BLOCKS, "hidden": SWEEP_HIDDEN, "data": data},
        published,
        "Weiler & Cesa 2019 (MNIST-rot, D16 → C16)",
        None,
        ours,
        (3, 5),
        modes,
        "sweep",
        "Weiler & Cesa 2019",
    )


ROT_CNN, ROT_C8 = "CNN, rotated digits", "Steerable C8 net, rotated digits"  # the rotation lesson's main rows
_KNYAZEV = "Knyazev 2019, GNN tutorial part 1 (full MNIST)"
_DEFFERRARD = "Defferrard et al. 2016, Table 1 (full MNIST)"
_BENCH = "Dwivedi et al., Benchmarking GNNs leaderboard (55,000 graphs, ~100k parameters)"
_WC = "best: D16 restricted to C16 after layer 5, 0.682% error"
_SP = (
    ("gcn", "GCN", 0.9071, ("quick", "full")),
    ("monet", "MoNet", 0.9081, ("full",)),
    ("gat", "GAT", 0.9554, ("quick", "full")),
    ("gin", "GIN", 0.9649, ("full",)),
    ("sage", "GraphSAGE", 0.9731, ("full",)),
    ("gatedgcn", "GatedGCN", 0.9734, ("full",)),
    ("pna", "PNA", 0.9794, ("quick", "full")),
)
_SWEEP_OURS = {
    (0, "mnist-rot"): "96.2%",
    (1, "mnist-rot"): "93.0%",
    (2, "mnist-rot"): "93.1%",
    (0, "mnist-5k"): "96.9%",
    (1, "mnist-5k"): "97.9%",
    (2, "mnist-5k"): "98.0%",
}

LESSONS: dict[str, Lesson] = {
    lesson.key: lesson
    for lesson in (
        Lesson(
            "tutorial",
            "The graph-convolution tutorial: one graph layer",
            "Does one graph layer on the pixels, before a linear classifier, beat the classifier alone? And does a "
            "graph whose edges are learned beat a fixed Gaussian one?",
            (
                LessonRow(
                    "No graph (linear classifier)",
                    {"model": "tutorial", "adjacency": "none"},
                    "about 91%",
                    _KNYAZEV,
                    0.91,
                    epochs=(20, 20),
                    cite="Knyazev 2019",
                ),
                LessonRow(
                    "Gaussian graph (fixed, σ = 0.05)",
                    {"model": "tutorial", "adjacency": "gaussian"},
                    "92.24%",
                    _KNYAZEV,
                    0.9224,
                    epochs=(20, 20),
                    cite="Knyazev 2019",
                ),
                LessonRow(
                    "Learned edges (from pixel offsets)",
                    {"model": "tutorial", "adjacency": "learned-offset"},
                    "91.05% (learned from coordinates)",
                    _KNYAZEV,
                    0.9105,
                    "89.4% (20 epochs, 3 seeds)",
                    (20, 20),
                    cite="Knyazev 2019",
                ),
                LessonRow(
                    "Learned edges, Gaussian's reach",
                    {"model": "tutorial", "adjacency": "learned-local"},
                    "92.39% (with the tutorial's tricks)",
                    _KNYAZEV,
                    0.9239,
                    "91.0% (20 epochs, 3 seeds)",
                    (20, 20),
                    cite="Knyazev 2019",
                ),
            ),
            "The tutorial trained on all 60,000 MNIST digits; these runs train on 4,000 (full mode) or 1,000 (quick "
            "mode) for 20 epochs. On 4,000 digits no graph layer beats the linear classifier within 20 epochs; the "
            "tutorial's ordering comes from 60,000. Its learned edges read both pixels' coordinates, which did not "
            "learn here (stuck at chance), so this lesson learns them from the offset between the pixels.",
        ),
        Lesson(
            "cheb-cnn",
            "ChebNet against the CNN on the 8-neighbour grid",
            "On the pixel grid, does a graph ConvNet (ChebNet) reach a CNN's accuracy? And how much slower is its "
            "epoch?",
            (
                LessonRow(
                    "ChebNet, K=5",
                    {"model": "cheb", "graph": "grid", "graph_params": {"neighbours": 8}, "K": 5},
                    "99.14% (K=25)",
                    _DEFFERRARD,
                    0.9914,
                    cite="Defferrard 2016",
                ),
                LessonRow("CNN", {"model": "cnn"}, "99.33%", _DEFFERRARD, 0.9933, cite="Defferrard 2016"),
            ),
            "Both nets have the paper's shape: 32 filters, pooling, 64 filters, pooling, then 512 units. The paper "
            "trained on 60,000 digits for 20 epochs; these runs see 4,000 (full) or 1,000 (quick) for 8, so both "
            "models sit a few points lower and the quick test set (200 digits) moves in half-point steps. The paper's "
            "ChebNet used K=25, filters that reach 24 steps along the grid; these use K=5, which reach 4 steps. Its "
            "graph ConvNets were 7.6x (CPU, 1,600 ms against 210 ms a batch) to 14.6x (GPU, 100.8 s against 6.9 s an "
            "epoch) slower than the CNN. Here they are much closer: every image sits on the same grid, so the "
            "graph step is done for a whole batch of images at once. Epoch times are wall-clock on a shared machine: "
            "two runs training at once split the cores.",
        ),
        Lesson(
            "superpixels",
            "GNNs on superpixel graphs",
            "Each digit becomes about 75 SLIC superpixels, a different graph per image. Which message-passing layer "
            "classifies these graphs best?",
            tuple(
                LessonRow(
                    name,
                    {"model": "superpixel", "graph": "superpixels", "conv": conv},
                    f"{acc:.2%}",
                    _BENCH,
                    acc,
                    epochs=(10, 30),
                    modes=modes,
                    cite="Dwivedi et al. 2020",
                )
                for conv, name, acc, modes in _SP
            ),
            "The leaderboard trains on 55,000 graphs for up to 1,000 epochs with early stopping; these runs train on "
            "4,000 graphs for 30 epochs (full) or 1,000 for 10 (quick). With 14 times fewer graphs GCN and MoNet land "
            "near their leaderboard figures, while PNA, GatedGCN and GIN fit every training graph and trail theirs "
            "by 8-10 points: their extra expressiveness overfits 4,000 graphs.",
        ),
        Lesson(
            KARATE_KEY,
            "KarateClub, semi-supervised",
            "The network sees the community of one member per community and the friendships between all 34. Can "
            "graph convolution label the other 30 from the friendships alone?",
            (
                LessonRow(
                    "GCN",
                    {"model": "gcn"},
                    "– (the embedding is the result)",
                    "Kipf & Welling 2017; PyG's example",
                    ours="76.7% (23 of 30, 200 epochs, seed 0)",
                    epochs=(200, 200),
                    cite="Kipf & Welling 2017",
                ),
                *(
                    LessonRow(name, {"model": m}, "–", "this project", epochs=(200, 200), modes=("full",))
                    for m, name in (("cheb", "ChebNet"), ("sage", "GraphSAGE"), ("gin", "GIN"), ("gat", "GAT"))
                ),
            ),
            "Kipf & Welling and PyG's example show the 2-D embedding separating the communities rather than an "
            "accuracy. With one label per community, 30 members to guess and identity features, every wrong member "
            "moves the accuracy by 3.3 points, and the layers that can memorise a member's own id (GraphSAGE, GIN) "
            "overfit the four labels.",
            in_page=True,
        ),
        Lesson(
            "rotation",
            "Rotation: a CNN against a C8 steerable net",
            "On digits turned by any angle, does building rotations into the layers (a C8 steerable CNN) beat a plain "
            "CNN? And how deep should the rotation symmetry go before it is given up?",
            (
                LessonRow(ROT_CNN, {"model": "cnn", "data": "mnist-rot"}, "–", "–", epochs=(3, 10)),
                LessonRow(
                    ROT_C8,
                    {"model": "escnn", "group": "C8", "data": "mnist-rot"},
                    "97.96% (30 epochs)",
                    "QUVA-Lab escnn example notebook",
                    0.9796,
                    epochs=(3, 10),
                    cite="escnn example",
                ),
                *(_sweep_row(d, "mnist-rot", _WC, _SWEEP_OURS[d, "mnist-rot"] + " (5 epochs)") for d in (0, 1, 2)),
                *(
                    _sweep_row(d, "mnist-5k", "–", _SWEEP_OURS[d, "mnist-5k"] + " (5 epochs)", ("full",))
                    for d in (0, 1, 2)
                ),
            ),
            "The escnn example trains its C8 net for 30 epochs on 12,000 rotated digits; these runs see 4,000 (full) "
            "or 1,000 (quick) for 10 or 3 epochs (the sweep's nets 5 or 3), and quick mode makes the C8 net smaller (2 "
            "blocks of width 32). Weiler & Cesa restrict D16 to C16 in a 6-layer net; the sweep here restricts C8 to "
            "C1 (no symmetry) in 3 blocks of width 16, so only the direction of the effect carries over: on rotated "
            "digits, the deeper the symmetry goes, the better. After 3 quick epochs on 200 test digits the sweep's "
            "differences are mostly noise; full mode shows them.",
            sweep_over={"quick": ("restriction",), "full": ("restriction", "data")},
        ),
    )
}


def get_lesson(key: str) -> Lesson:
    if key not in LESSONS:
        raise UserInputError("lesson", f"unknown lesson {key!r} (choose from {', '.join(LESSONS)})")
    return LESSONS[key]


def _mode(quick: bool) -> str:
    return "quick" if quick else "full"


def row_config(row: LessonRow, quick: bool, seed: int = 0):
    """The validated RunConfig of one queued lesson row (a launch's runs share one seed; the teacher's: 0)."""
    from core.training.runs import RunConfig, validate

    return validate(
        RunConfig.make(**dict(row.settings), epochs=row.epochs[0 if quick else 1], quick=quick, seed=int(seed))
    )


def lesson_configs(key: str, quick: bool, seed: int = 0) -> list:
    """The lesson's runs in ``quick`` or full mode, in row order: validated RunConfigs, or for the KarateClub lesson
    the settings of ``core.analysis.karate.train_karate`` (model, epochs, lr, seed)."""
    lesson = get_lesson(key)
    rows = lesson.rows_in(_mode(quick))
    if lesson.in_page:
        from core.analysis.karate import DEFAULT_LR

        return [{**row.settings, "epochs": row.epochs[0 if quick else 1], "lr": DEFAULT_LR, "seed": 0} for row in rows]
    return [row_config(row, quick, seed) for row in rows]


def _launch_id(key: str, mode: str, stamp: str = "") -> str:
    """A launch group's id: ``lesson:<key>:<mode>[:<stamp>]``, as older versions spelled the launch's kind."""
    return ":".join(["lesson", key, mode] + ([stamp] if stamp else []))


def new_lesson_group(key: str, quick: bool, seed: int = 0) -> RunGroup:
    """A fresh group for one launch of a lesson, with its lesson, mode, seed and (the rotation lesson) its sweep
    part's group id (:func:`part_groups`). Its id ends in a stamp, ``-s<seed>`` for another seed than 0; KarateClub,
    trained in the page and deterministic, has the same launch each time, ``lesson:karate:<mode>``."""
    mode = _mode(quick)
    if get_lesson(key).in_page:
        return RunGroup("lesson", _launch_id(key, mode), lesson=key, mode=mode)
    tail = f"-s{int(seed)}" if int(seed) else ""
    stamp = f"{int(time.time() * 1000)}-{secrets.token_hex(3)}{tail}"
    parts = tuple((name, group.id) for name, group in _parts(key, mode, stamp).items())
    return RunGroup("lesson", _launch_id(key, mode, stamp), lesson=key, mode=mode, seed=int(seed), parts=parts)


def _parts(key: str, mode: str, stamp: str) -> dict[str, RunGroup]:
    """The groups of a launch's parts other than its main one: the sweep part, a sweep over ``sweep_over[mode]``."""
    lesson = LESSONS[key]
    if not any(r.part == "sweep" for r in lesson.rows_in(mode)):
        return {}
    params = tuple(lesson.sweep_over.get(mode, ()))
    return {"sweep": RunGroup("sweep", ":".join(["sweep", stamp, *params, f"lesson-{key}"]), params=params, lesson=key)}


def part_groups(launch: RunGroup) -> dict[str, RunGroup]:
    """Each part of a launch as its group ("main": the launch itself; "sweep": its sweep, a sweep group)."""
    out = {"main": launch}
    for name, group_id in launch.parts:
        params = tuple(LESSONS[launch.lesson].sweep_over.get(launch.mode, ())) if name == "sweep" else ()
        out[name] = RunGroup("sweep", group_id, params=params, lesson=launch.lesson)
    return out


def lesson_launch(value: str | None, stored: RunGroup | None = None) -> RunGroup | None:
    """The lesson launch a link's ``ls_show`` value names: an in-page lesson's launch, ``stored`` (the store's group
    of that id), or a launch named by a link written before groups were stored; None for anything else."""
    for key, lesson in LESSONS.items():
        for mode in MODES if lesson.in_page else ():
            if value == _launch_id(key, mode):
                return RunGroup("lesson", value, lesson=key, mode=mode)
    group = stored if stored is not None and stored.id == value else group_from_kind(value)
    if group is None or group.type != "lesson" or group.lesson not in LESSONS or group.mode not in MODES:
        return None
    if LESSONS[group.lesson].in_page or group.id == _launch_id(group.lesson, group.mode):
        return None  # an in-page lesson's launch is one of the ids above; a queued lesson's has a stamp
    return group


def launch_plan(key: str, quick: bool, seed: int = 0) -> tuple[RunGroup, list[tuple[Any, RunGroup]]]:
    """(launch group, [(RunConfig, the group of its part)]) for one launch of a queued lesson, every config
    validated, all of them with ``seed``."""
    lesson = get_lesson(key)
    if lesson.in_page:
        raise UserInputError("lesson", f"the {lesson.title} lesson trains in the page, not in the queue")
    launch = new_lesson_group(key, quick, seed)
    parts = part_groups(launch)
    rows = lesson.rows_in(_mode(quick))
    return launch, [(row_config(row, quick, seed), parts.get(row.part, launch)) for row in rows]


def launch_configs(launch: RunGroup | None) -> list:
    """The RunConfigs a queued lesson launch trains, in row order (its lesson, mode and seed), or [] for no queued
    lesson's launch."""
    if launch is None or launch.type != "lesson" or launch.lesson not in LESSONS or LESSONS[launch.lesson].in_page:
        return []
    return lesson_configs(launch.lesson, launch.mode == "quick", launch.seed)
