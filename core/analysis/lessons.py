"""Lessons: one per source experiment, each a set of runs trained beside the figures its source published.

A :class:`Lesson` names its question, its rows (:class:`LessonRow`: the settings of one run, the published figure
and where it comes from), why this project's numbers differ, and the pages that explain the result. Its runs are
ordinary queued runs, grouped in the store by one kind, ``lesson:<key>:<mode>:<stamp>`` (:func:`new_lesson_kind`;
a launch with another seed than 0 ends its stamp with ``-s<seed>``, :func:`lesson_seed`), as a sweep's runs are
by ``sweep:<id>``; a lesson's sweep part (the rotation lesson's restriction depths) is stored
as a sweep of its own, ``sweep:<stamp>:restriction[:data]:lesson-<key>`` (:func:`member_kinds`), so the Compare
page plots it. The KarateClub lesson trains in the page (34 nodes, about a second, seeded and deterministic):
:func:`lesson_configs` gives ``train_karate``'s settings for it, and its kind ``lesson:karate:<mode>`` reopens it by
training the same settings again.

:mod:`core.analysis.lesson_rows` turns a lesson's stored runs into its live table, findings and links.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from core.errors import UserInputError

MODES = ("quick", "full")
KARATE_KEY = "karate"
COMPARE, EQUIVARIANCE, FILTERS, SPECTRAL = ("app_pages/compare.py", "app_pages/equivariance.py",
                                             "app_pages/filters.py", "app_pages/spectral.py")
RESULTS, KARATE_PAGE = "app_pages/results.py", "app_pages/karate.py"
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
    published_accuracy: Optional[float] = None  # in [0, 1], when the source gives one number
    ours: str = ""  # this project's own full-length figure, where core.analysis.reference has none
    epochs: tuple[int, int] = (8, 8)  # (quick, full)
    modes: tuple[str, ...] = MODES  # the modes that train this row
    part: str = "main"  # "sweep": stored under the lesson's sweep kind
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
    return LessonRow(f"{what}, {DATA_WORDS[data]}", {"model": "escnn", "group": group, "layers": SWEEP_BLOCKS,
                                        "hidden": SWEEP_HIDDEN, "data": data},
                     published, "Weiler & Cesa 2019 (MNIST-rot, D16 → C16)", None, ours, (3, 5), modes, "sweep",
                     "Weiler & Cesa 2019")


ROT_CNN, ROT_C8 = "CNN, rotated digits", "Steerable C8 net, rotated digits"  # the rotation lesson's main rows
_KNYAZEV = "Knyazev 2019, GNN tutorial part 1 (full MNIST)"
_DEFFERRARD = "Defferrard et al. 2016, Table 1 (full MNIST)"
_BENCH = "Dwivedi et al., Benchmarking GNNs leaderboard (55,000 graphs, ~100k parameters)"
_WC = "best: D16 restricted to C16 after layer 5, 0.682% error"
_SP = (("gcn", "GCN", 0.9071, ("quick", "full")), ("monet", "MoNet", 0.9081, ("full",)),
       ("gat", "GAT", 0.9554, ("quick", "full")), ("gin", "GIN", 0.9649, ("full",)),
       ("sage", "GraphSAGE", 0.9731, ("full",)), ("gatedgcn", "GatedGCN", 0.9734, ("full",)),
       ("pna", "PNA", 0.9794, ("quick", "full")))
_SWEEP_OURS = {(0, "mnist-rot"): "96.2%", (1, "mnist-rot"): "93.0%", (2, "mnist-rot"): "93.1%",
               (0, "mnist-5k"): "96.9%", (1, "mnist-5k"): "97.9%", (2, "mnist-5k"): "98.0%"}

LESSONS: dict[str, Lesson] = {lesson.key: lesson for lesson in (
    Lesson(
        "tutorial", "The graph-convolution tutorial: one graph layer",
        "Does one graph layer on the pixels, before a linear classifier, beat the classifier alone? And does a "
        "graph whose edges are learned beat a fixed Gaussian one?",
        (LessonRow("No graph (linear classifier)", {"model": "tutorial", "adjacency": "none"},
                   "about 91%", _KNYAZEV, 0.91, epochs=(20, 20), cite="Knyazev 2019"),
         LessonRow("Gaussian graph (fixed, σ = 0.05)", {"model": "tutorial", "adjacency": "gaussian"},
                   "92.24%", _KNYAZEV, 0.9224, epochs=(20, 20), cite="Knyazev 2019"),
         LessonRow("Learned edges (from pixel offsets)", {"model": "tutorial", "adjacency": "learned-offset"},
                   "91.05% (learned from coordinates)", _KNYAZEV, 0.9105, "89.4% (20 epochs, 3 seeds)", (20, 20),
                   cite="Knyazev 2019"),
         LessonRow("Learned edges, Gaussian's reach",
                   {"model": "tutorial", "adjacency": "learned-local"},
                   "92.39% (with the tutorial's tricks)", _KNYAZEV, 0.9239, "91.0% (20 epochs, 3 seeds)", (20, 20),
                   cite="Knyazev 2019")),
        "The tutorial trained on all 60,000 MNIST digits; these runs train on 4,000 (full mode) or 1,000 (quick "
        "mode) for 20 epochs. On 4,000 digits no graph layer beats the linear classifier within 20 epochs; the "
        "tutorial's ordering comes from 60,000. Its learned edges read both pixels' coordinates, which did not "
        "learn here (stuck at chance), so this lesson learns them from the offset between the pixels."),
    Lesson(
        "cheb-cnn", "ChebNet against the CNN on the 8-neighbour grid",
        "On the pixel grid, does a graph ConvNet (ChebNet) reach a CNN's accuracy? And how much slower is its "
        "epoch?",
        (LessonRow("ChebNet, K=5", {"model": "cheb", "graph": "grid", "graph_params": {"neighbours": 8}, "K": 5},
                   "99.14% (K=25)", _DEFFERRARD, 0.9914, cite="Defferrard 2016"),
         LessonRow("CNN", {"model": "cnn"}, "99.33%", _DEFFERRARD, 0.9933, cite="Defferrard 2016")),
        "Both nets have the paper's shape: 32 filters, pooling, 64 filters, pooling, then 512 units. The paper "
        "trained on 60,000 digits for 20 epochs; these runs see 4,000 (full) or 1,000 (quick) for 8, so both "
        "models sit a few points lower and the quick test set (200 digits) moves in half-point steps. The paper's "
        "ChebNet used K=25, filters that reach 24 steps along the grid; these use K=5, which reach 4 steps. Its "
        "graph ConvNets were 7.6x (CPU, 1,600 ms against 210 ms a batch) to 14.6x (GPU, 100.8 s against 6.9 s an "
        "epoch) slower than the CNN. Here they are much closer: every image sits on the same grid, so the "
        "graph step is done for a whole batch of images at once. Epoch times are wall-clock on a shared machine: "
        "two runs training at once split the cores."),
    Lesson(
        "superpixels", "GNNs on superpixel graphs",
        "Each digit becomes about 75 SLIC superpixels, a different graph per image. Which message-passing layer "
        "classifies these graphs best?",
        tuple(LessonRow(name, {"model": "superpixel", "graph": "superpixels", "conv": conv}, f"{acc:.2%}", _BENCH,
                        acc, epochs=(10, 30), modes=modes, cite="Dwivedi et al. 2020")
              for conv, name, acc, modes in _SP),
        "The leaderboard trains on 55,000 graphs for up to 1,000 epochs with early stopping; these runs train on "
        "4,000 graphs for 30 epochs (full) or 1,000 for 10 (quick). With 14 times fewer graphs GCN and MoNet land "
        "near their leaderboard figures, while PNA, GatedGCN and GIN fit every training graph and trail theirs "
        "by 8-10 points: their extra expressiveness overfits 4,000 graphs.",
        ),
    Lesson(
        KARATE_KEY, "KarateClub, semi-supervised",
        "The network sees the community of one member per community and the friendships between all 34. Can "
        "graph convolution label the other 30 from the friendships alone?",
        (LessonRow("GCN", {"model": "gcn"}, "– (the embedding is the result)", "Kipf & Welling 2017; PyG's example",
                   ours="76.7% (23 of 30, 200 epochs, seed 0)", epochs=(200, 200), cite="Kipf & Welling 2017"),
         *(LessonRow(name, {"model": m}, "–", "this project", epochs=(200, 200), modes=("full",))
           for m, name in (("cheb", "ChebNet"), ("sage", "GraphSAGE"), ("gin", "GIN"), ("gat", "GAT")))),
        "Kipf & Welling and PyG's example show the 2-D embedding separating the communities rather than an "
        "accuracy. With one label per community, 30 members to guess and identity features, every wrong member "
        "moves the accuracy by 3.3 points, and the layers that can memorise a member's own id (GraphSAGE, GIN) "
        "overfit the four labels.",
        in_page=True),
    Lesson(
        "rotation", "Rotation: a CNN against a C8 steerable net",
        "On digits turned by any angle, does building rotations into the layers (a C8 steerable CNN) beat a plain "
        "CNN? And how deep should the rotation symmetry go before it is given up?",
        (LessonRow(ROT_CNN, {"model": "cnn", "data": "mnist-rot"}, "–", "–", epochs=(3, 10)),
         LessonRow(ROT_C8, {"model": "escnn", "group": "C8", "data": "mnist-rot"},
                   "97.96% (30 epochs)", "QUVA-Lab escnn example notebook", 0.9796, epochs=(3, 10),
                   cite="escnn example"),
         *(_sweep_row(d, "mnist-rot", _WC, _SWEEP_OURS[d, "mnist-rot"] + " (5 epochs)") for d in (0, 1, 2)),
         *(_sweep_row(d, "mnist-5k", "–", _SWEEP_OURS[d, "mnist-5k"] + " (5 epochs)", ("full",)) for d in (0, 1, 2))),
        "The escnn example trains its C8 net for 30 epochs on 12,000 rotated digits; these runs see 4,000 (full) or "
        "1,000 (quick) for 10 or 3 epochs (the sweep's nets 5 or 3), and quick mode makes the C8 net smaller (2 "
        "blocks of width 32). Weiler & Cesa restrict D16 to C16 in a 6-layer net; the sweep here restricts C8 to "
        "C1 (no symmetry) in 3 blocks of width 16, so only the direction of the effect carries over: on rotated "
        "digits, the deeper the symmetry goes, the better. After 3 quick epochs on 200 test digits the sweep's "
        "differences are mostly noise; full mode shows them.",
        sweep_over={"quick": ("restriction",), "full": ("restriction", "data")}),
)}


def get_lesson(key: str) -> Lesson:
    if key not in LESSONS:
        raise UserInputError("lesson", f"unknown lesson {key!r} (choose from {', '.join(LESSONS)})")
    return LESSONS[key]


def _mode(quick: bool) -> str:
    return "quick" if quick else "full"


def row_config(row: LessonRow, quick: bool, seed: int = 0):
    """The validated RunConfig of one queued lesson row (a launch's runs share one seed; the teacher's: 0)."""
    from core.training.runs import RunConfig, validate

    return validate(RunConfig(**dict(row.settings), epochs=row.epochs[0 if quick else 1], quick=quick,
                              seed=int(seed)))


def lesson_configs(key: str, quick: bool, seed: int = 0) -> list:
    """The lesson's runs in ``quick`` or full mode, in row order: validated RunConfigs, or for the KarateClub lesson
    the settings of ``core.analysis.karate.train_karate`` (model, epochs, lr, seed)."""
    lesson = get_lesson(key)
    rows = lesson.rows_in(_mode(quick))
    if lesson.in_page:
        from core.analysis.karate import DEFAULT_LR

        return [{**row.settings, "epochs": row.epochs[0 if quick else 1], "lr": DEFAULT_LR, "seed": 0}
                for row in rows]
    return [row_config(row, quick, seed) for row in rows]


SEED_TAIL = re.compile(r"-s([0-9]{1,10})$")  # a launch's stamp ends so when its seed is not 0


def new_lesson_kind(key: str, quick: bool, seed: int = 0) -> str:
    """A fresh store kind for one launch of a lesson, ``lesson:<key>:<mode>:<stamp>``, the stamp ending ``-s<seed>``
    for another seed than 0 (KarateClub, trained in the page and deterministic: ``lesson:karate:<mode>``)."""
    if get_lesson(key).in_page:
        return f"lesson:{key}:{_mode(quick)}"
    tail = f"-s{int(seed)}" if int(seed) else ""
    return f"lesson:{key}:{_mode(quick)}:{int(time.time() * 1000)}-{secrets.token_hex(3)}{tail}"


def lesson_seed(kind: Optional[str]) -> int:
    """The seed of a lesson launch's runs (0 unless its stamp ends ``-s<seed>``; 0 for anything else)."""
    parsed = parse_lesson_kind(kind)
    found = SEED_TAIL.search(parsed[2]) if parsed else None
    return int(found.group(1)) if found and int(found.group(1)) < 2**31 else 0


def parse_lesson_kind(kind: Optional[str]) -> Optional[tuple[str, str, str]]:
    """(lesson key, mode, stamp) of a lesson kind, or None for anything else (a link's value)."""
    parts = (kind or "").split(":")
    if len(kind or "") > 100 or len(parts) not in (3, 4) or parts[0] != "lesson" or parts[1] not in LESSONS:
        return None
    key, mode, stamp = parts[1], parts[2], (parts[3] if len(parts) == 4 else "")
    if mode not in MODES or bool(stamp) == LESSONS[key].in_page:
        return None
    if stamp and not all(c.isalnum() or c == "-" for c in stamp):
        return None
    return key, mode, stamp


def part_kind(kind: str, part: str) -> str:
    """The store kind of a lesson launch's ``part`` ("main": the lesson kind; "sweep": its sweep's kind)."""
    parsed = parse_lesson_kind(kind)
    if part == "main" or parsed is None:
        return kind
    key, mode, stamp = parsed
    return ":".join(["sweep", stamp, *LESSONS[key].sweep_over.get(mode, ()), f"lesson-{key}"])


def member_kinds(kind: str) -> list[str]:
    """Every store kind that holds one lesson launch's runs (the lesson kind first)."""
    parsed = parse_lesson_kind(kind)
    parts = {r.part for r in LESSONS[parsed[0]].rows} if parsed else {"main"}
    return [kind] + [part_kind(kind, p) for p in sorted(parts - {"main"})]


def launch_plan(key: str, quick: bool, seed: int = 0) -> tuple[str, list[tuple[Any, str]]]:
    """(lesson kind, [(RunConfig, store kind)]) for one launch of a queued lesson, every config validated, all of
    them with ``seed``."""
    lesson = get_lesson(key)
    if lesson.in_page:
        raise UserInputError("lesson", f"the {lesson.title} lesson trains in the page, not in the queue")
    kind = new_lesson_kind(key, quick, seed)
    rows = lesson.rows_in(_mode(quick))
    return kind, [(row_config(row, quick, seed), part_kind(kind, row.part)) for row in rows]


def launch_configs(kind: str) -> list:
    """The RunConfigs a queued lesson launch trains, in row order (its lesson, mode and seed), or [] for a kind
    that is no queued lesson's launch."""
    parsed = parse_lesson_kind(kind)
    if parsed is None or LESSONS[parsed[0]].in_page:
        return []
    return lesson_configs(parsed[0], parsed[1] == "quick", lesson_seed(kind))
