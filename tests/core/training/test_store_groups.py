"""Run groups in the store: sweeps, searches and lesson launches are typed groups with fields, and a database
written before groups were stored (schema 2: each group packed into its runs' ``kind``) opens showing the same
sweeps, searches and lessons, its old kind strings read once by ``core.training.store.legacy_kinds``."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from core.analysis.lesson_rows import LessonLink, explain_links, lesson_rows, stored_lessons
from core.analysis.lessons import LESSONS, launch_configs, launch_plan, lesson_launch, new_lesson_group
from core.training.runs import RunConfig
from core.training.search import searched
from core.training.store import SCHEMA_VERSION, RunGroup, RunStore
from core.training.store.legacy_kinds import group_from_kind
from core.training.sweep import grid_configs, new_sweep_group, stored_sweeps, sweep_name
from tests.core.training.old_store import write_schema_2

SWEEP = "sweep:1700000000000:K"  # kinds as the previous version's new_sweep_kind, new_search_kind, new_lesson_kind
GRID = "sweep:1700000000100:lr:data"
UNNAMED = "sweep:1600000000000"  # a sweep from before sweeps named their settings
SEARCH = "search:1700000000200:asha:lr:hidden"
STAMP = "1700000000300-a1b2c3-s7"
ROTATION = f"lesson:rotation:full:{STAMP}"
ROTATION_SWEEP = f"sweep:{STAMP}:restriction:data:lesson-rotation"
TUTORIAL = "lesson:tutorial:quick:1700000000400-d4e5f6"


def _old_runs() -> list[tuple[str, RunConfig]]:
    """(kind, config) of every run the old database holds, in the order the old code stored them."""
    cheb = RunConfig.make(model="cheb", graph="grid", epochs=3)
    runs = [("image", RunConfig.make(model="mlp", epochs=1))]
    runs += [(SWEEP, c) for c in grid_configs(cheb, "K", [1, 2, 3])]
    runs += [
        (GRID, c)
        for c in grid_configs(
            RunConfig.make(model="mlp", epochs=1), "lr", [0.001, 0.0003], "data", ["mnist-5k", "mnist-rot"]
        )
    ]
    runs += [(UNNAMED, c) for c in grid_configs(RunConfig.make(epochs=2, data="mnist-rot"), "model", ["mlp", "cnn"])]
    runs += [(SEARCH, RunConfig.make(model="mlp", lr=lr, hidden=h, epochs=2)) for lr, h in ((0.001, 16), (0.01, 32))]
    _, plan = launch_plan("rotation", quick=False, seed=7)  # today's plan: the same rows the old launch stored
    runs += [(ROTATION if part.type == "lesson" else ROTATION_SWEEP, cfg) for cfg, part in plan]
    _, plan = launch_plan("tutorial", quick=True)
    runs += [(TUTORIAL, cfg) for cfg, _ in plan]
    runs += [("starter", RunConfig.make(model="cnn", epochs=1))]
    return runs


@pytest.fixture
def old_database(tmp_path: Path) -> Path:
    """A schema-2 run database with the old code's group kinds, written with plain SQL as the old store wrote it."""
    return write_schema_2(tmp_path / "runs.db", [(kind, cfg.label(), cfg.to_dict(), {}) for kind, cfg in _old_runs()])


def stored_group(store: RunStore, group_id: str) -> RunGroup:
    """The stored group ``group_id`` (the test fails here, naming it, when the store has none)."""
    group = store.get_group(group_id)
    assert group is not None, f"no stored group {group_id!r}"
    return group


def test_an_old_database_opens_with_its_groups_and_their_fields(old_database: Path):
    store = RunStore(old_database)
    with closing(sqlite3.connect(old_database)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
    groups = store.groups()
    assert set(groups) == {SWEEP, GRID, UNNAMED, SEARCH, ROTATION, ROTATION_SWEEP, TUTORIAL}
    assert groups[SWEEP] == RunGroup("sweep", SWEEP, params=("K",), created_at=groups[SWEEP].created_at)
    assert groups[GRID].params == ("lr", "data") and groups[UNNAMED].params == ()
    assert (groups[SEARCH].type, searched(groups[SEARCH]), groups[SEARCH].early_stopping) == (
        "search",
        ["lr", "hidden"],
        True,
    )
    rotation = groups[ROTATION]
    assert (rotation.type, rotation.lesson, rotation.mode, rotation.seed) == ("lesson", "rotation", "full", 7)
    assert rotation.part("sweep") == ROTATION_SWEEP and rotation.member_ids() == [ROTATION, ROTATION_SWEEP]
    assert (groups[ROTATION_SWEEP].params, groups[ROTATION_SWEEP].lesson) == (("restriction", "data"), "rotation")
    assert (groups[TUTORIAL].seed, groups[TUTORIAL].parts) == (0, ())
    runs = store.list_runs()
    assert {r["kind"] for r in runs if r["group_id"] is None} == {"image", "starter"}  # plain runs stay plain
    assert all(r["group_id"] == r["kind"] for r in runs if r["group_id"])  # each run in the group its kind named
    assert [r["id"] for r in store.list_runs(group=SWEEP)] == [4, 3, 2]


def test_an_old_database_shows_the_same_sweeps_searches_and_lessons(old_database: Path):
    store = RunStore(old_database)
    runs, groups = store.list_runs(), store.groups()
    sweeps = {s["id"]: s for s in stored_sweeps(runs, groups)}
    assert list(sweeps) == [ROTATION_SWEEP, UNNAMED, GRID, SWEEP]  # newest first, the lesson's sweep part too
    assert sweeps[SWEEP]["name"] == (
        "Sweep of Chebyshev order (K) over 1, 2, 3 · ChebNet on the 8-neighbour grid, 3\u00a0epochs"
    )
    assert sweeps[GRID]["name"].startswith("Sweep of learning rate (lr) over 0.001, 0.0003 × data set (data)")
    assert sweeps[UNNAMED]["name"] == "Sweep of layer type (model) over MLP, CNN · 2\u00a0epochs, mnist-rot"
    assert sweeps[ROTATION_SWEEP]["name"].startswith("Sweep of restriction depth (restriction) over 0, 1, 2 × data")
    (search,) = stored_sweeps(runs, groups, "search")
    assert (search["id"], search["runs"]) == (SEARCH, 2)

    lessons = stored_lessons(runs, groups)
    assert [(s["id"], s["key"], s["mode"], s["seed"], s["runs"]) for s in lessons] == [
        (TUTORIAL, "tutorial", "quick", 0, 4),
        (ROTATION, "rotation", "full", 7, 8),
    ]
    launch = lesson_launch(ROTATION, store.get_group(ROTATION))  # a link's ls_show, as the page reads it
    assert launch is not None
    members = [r for gid in launch.member_ids() for r in store.list_runs(group=gid)]
    rows = lesson_rows(LESSONS["rotation"], "full", members, store.epochs, launch)
    assert [r["run"] for r in rows] == sorted(r["id"] for r in members)  # every row found its own run
    link = LessonLink("compare", "Compare: accuracy against the restriction depth", sweep=ROTATION_SWEEP)
    assert link in explain_links(LESSONS["rotation"], rows, launch)  # ui/lesson_links.py writes sw_show from it


def test_old_link_values_name_the_same_launch_without_a_stored_group():
    """A link written before groups were stored names a launch the store may not hold (every run reused): the
    legacy reader gives its lesson, mode and seed; in-page launches are the same each time."""
    karate = lesson_launch("lesson:karate:quick")
    assert karate == new_lesson_group("karate", True) and karate.lesson == "karate"
    assert lesson_launch("lesson:karate:full").mode == "full"
    old = lesson_launch("lesson:cheb-cnn:quick:1700000000500-abcdef-s12")
    assert (old.lesson, old.mode, old.seed) == ("cheb-cnn", "quick", 12)
    assert [c.training.seed for c in launch_configs(old)] == [12, 12]
    for bad in (
        "lesson:karate:quick:123",
        "lesson:tutorial:quick",
        "lesson:nope:quick:1",
        "lesson:tutorial:slow:1",
        "sweep:1:K",
        "image",
        "",
        None,
        "lesson:tutorial:quick:<script>",
        "x" * 300,
    ):
        assert lesson_launch(bad) is None, bad


def test_the_legacy_reader_reads_only_group_kinds():
    assert group_from_kind("image") is None and group_from_kind("starter") is None and group_from_kind(None) is None
    assert group_from_kind("search:1:asha") is None  # a search names at least one setting
    assert group_from_kind("sweep:1:K;drop") is None and group_from_kind("sweep::K") is None
    assert group_from_kind(SWEEP) == RunGroup("sweep", SWEEP, params=("K",))


def test_new_groups_keep_their_fields_in_the_store_and_the_old_spelling_in_their_id(tmp_path: Path):
    store = RunStore(tmp_path / "runs.db")
    sweep = new_sweep_group("K", "seed")
    assert sweep.id.startswith("sweep:") and sweep.id.endswith(":K:seed")  # links and tools that hold ids match
    ids = [store.create_run({"model": "cheb", "K": k}, group=sweep) for k in (1, 2)]
    assert store.get_group(sweep.id) == RunGroup(
        "sweep", sweep.id, params=("K", "seed"), created_at=stored_group(store, sweep.id).created_at
    )
    assert sorted(r["id"] for r in store.list_runs(group=sweep.id)) == ids
    assert store.list_runs(kind=sweep.id)  # older readers of the kind column still find the sweep's runs
    launch, plan = launch_plan("rotation", quick=True, seed=3)
    assert dict(launch.parts)["sweep"].startswith("sweep:") and (launch.lesson, launch.seed) == ("rotation", 3)
    for cfg, part in plan:
        store.create_run(cfg.to_dict(), group=part)
    assert stored_group(store, launch.id).parts == launch.parts
    assert stored_group(store, launch.part("sweep")).params == ("restriction",)
    (found,) = stored_lessons(store.list_runs(), store.groups())
    assert (found["id"], found["runs"], found["seed"]) == (launch.id, len(plan), 3)
    configs = [r["config"] for r in sorted(store.list_runs(group=sweep.id), key=lambda r: r["id"])]
    assert sweep_name(store.get_group(sweep.id), configs) == sweep_name(sweep.id, configs)  # the CLI's id string
    with pytest.raises(ValueError):
        RunGroup("bundle", "x")
