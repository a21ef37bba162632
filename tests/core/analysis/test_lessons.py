"""Lessons: every lesson's runs, by their settings, in quick and full mode; the live table from real stored runs."""

import pytest

from core.analysis.lesson_rows import (
    LessonLink,
    epoch_ratio,
    existing_launch,
    explain_links,
    findings,
    karate_rows,
    lesson_rows,
    reused_line,
    settled,
    sources,
    stored_lessons,
    table,
)
from core.analysis.lessons import (
    LESSONS,
    get_lesson,
    launch_configs,
    launch_plan,
    lesson_configs,
    lesson_launch,
    new_lesson_group,
)
from core.errors import UserInputError
from core.models.escnn_net import restriction_depth
from core.training.runs import RunConfig, execute, validate

QUEUED = [k for k, lesson in LESSONS.items() if not lesson.in_page]


@pytest.mark.parametrize("quick", [True, False])
@pytest.mark.parametrize("key", QUEUED)
def test_every_queued_lessons_configs_validate(key, quick):
    configs = lesson_configs(key, quick)
    assert configs and all(isinstance(c, RunConfig) and validate(c) is c for c in configs)
    assert all(c.training.quick is quick and c.training.seed == 0 for c in configs)
    assert len(configs) <= 12  # the default per-session limit: a lesson is launched whole
    launch, plan = launch_plan(key, quick)
    assert [c.to_dict() for c, _ in plan] == [c.to_dict() for c in configs]
    assert (launch.type, launch.lesson, launch.mode, launch.seed) == ("lesson", key, "quick" if quick else "full", 0)
    assert lesson_launch(launch.id, launch) == launch  # its id reopens it: the store's group, its parts too
    old = lesson_launch(launch.id)  # a link that holds only the id, its group not stored (written before groups)
    assert (old.lesson, old.mode, old.seed) == (launch.lesson, launch.mode, launch.seed)


@pytest.mark.parametrize("quick", [True, False])
def test_the_tutorial_lesson_trains_its_four_adjacencies(quick):
    configs = lesson_configs("tutorial", quick)
    assert [c.model for c in configs] == ["tutorial"] * 4
    assert [c.value("adjacency") for c in configs] == ["none", "gaussian", "learned-offset", "learned-local"]
    assert {c.training.epochs for c in configs} == {20}  # an epoch of this one-layer net is short
    assert {c.data for c in configs} == {"mnist-5k"}


@pytest.mark.parametrize("quick", [True, False])
def test_the_cheb_cnn_lesson_is_chebnet_on_the_8_neighbour_grid_against_the_cnn(quick):
    cheb, cnn = lesson_configs("cheb-cnn", quick)
    assert (cheb.model, cheb.graph, cheb.graph_params["neighbours"], cheb.value("K")) == ("cheb", "grid", 8, 5)
    assert cnn.model == "cnn" and cnn.to_dict()["graph"] is None
    assert cheb.training.epochs == cnn.training.epochs == 8 and cheb.data == cnn.data == "mnist-5k"


def test_the_superpixel_lesson_trains_superpixel_convs():
    quick, full = lesson_configs("superpixels", True), lesson_configs("superpixels", False)
    for configs in (quick, full):
        assert {(c.model, c.graph) for c in configs} == {("superpixel", "superpixels")}
    assert [c.value("conv") for c in quick] == ["gcn", "gat", "pna"] and {c.training.epochs for c in quick} == {10}
    assert [c.value("conv") for c in full] == ["gcn", "monet", "gat", "gin", "sage", "gatedgcn", "pna"]
    assert {c.training.epochs for c in full} == {30}
    published = {r.settings["conv"]: r.published_accuracy for r in get_lesson("superpixels").rows}
    assert published["gcn"] == 0.9071 and published["pna"] == 0.9794


def test_the_rotation_lesson_is_a_cnn_and_a_c8_net_on_mnist_rot_then_the_restriction_sweep():
    for quick, data in ((True, ["mnist-rot"]), (False, ["mnist-rot", "mnist-5k"])):
        cnn, c8, *sweep = lesson_configs("rotation", quick)
        assert (cnn.model, cnn.data) == ("cnn", "mnist-rot")
        assert (c8.model, c8.value("group"), c8.data) == ("escnn", "C8", "mnist-rot")
        assert len(sweep) == 3 * len(data)
        assert sorted((restriction_depth(c.value("group")), c.data) for c in sweep) == sorted(
            (d, name) for d in (0, 1, 2) for name in data
        )
        assert {c.value("group") for c in sweep} == {"C8", "C8,C1,C1", "C8,C8,C1"}
        assert {(c.model, c.value("layers"), c.value("hidden")) for c in sweep} == {("escnn", 3, 16)}
    quick = lesson_configs("rotation", True)
    assert [c.training.epochs for c in quick] == [3] * 5  # quick mode keeps the escnn nets short
    assert (quick[1].value("layers"), quick[1].value("hidden")) == (2, 32)  # and the C8 net small (quick-mode defaults)


def test_the_rotation_sweep_is_stored_as_a_sweep_the_compare_page_plots():
    from core.training.sweep import sweep_params

    launch, plan = launch_plan("rotation", False)
    sweep = plan[-1][1]
    assert sweep.type == "sweep" and sweep.id == launch.part("sweep") and sweep_params(sweep) == ("restriction", "data")
    assert [g for _, g in plan] == [launch] * 2 + [sweep] * 6
    assert launch.member_ids() == [launch.id, sweep.id]
    _, quick_plan = launch_plan("rotation", True)
    assert sweep_params(quick_plan[-1][1]) == ("restriction", None)
    cheb = launch_plan("cheb-cnn", True)[0]
    assert cheb.parts == () and cheb.member_ids() == [cheb.id]  # a lesson without a sweep has no sweep part


def test_the_karate_lesson_trains_in_the_page_with_one_label_per_class():
    from core.analysis.karate import KARATE_MODELS, train_karate

    assert [c["model"] for c in lesson_configs("karate", True)] == ["gcn"]
    full = lesson_configs("karate", False)
    assert {c["model"] for c in full} == set(KARATE_MODELS) and {c["epochs"] for c in full} == {200}
    assert new_lesson_group("karate", True).id == "lesson:karate:quick"  # its launch is the same each time
    with pytest.raises(UserInputError):
        launch_plan("karate", True)
    result = train_karate(**lesson_configs("karate", True)[0])
    assert len(result.labelled_nodes) == 4  # one per community
    rows = karate_rows(get_lesson("karate"), "quick", {"gcn": result})
    assert rows[0]["test accuracy"] == result.accuracy and rows[0]["status"] == "finished"


def test_lesson_launches_from_links_are_checked():
    assert lesson_launch(None) is None
    for bad in (
        "lesson:nope:quick:1",
        "lesson:tutorial:slow:1",
        "lesson:tutorial:quick",
        "lesson:karate:quick:1",
        "sweep:1:K",
        "lesson:tutorial:quick:1)x",
        "lesson:tutorial:quick:" + "1" * 200,
    ):
        assert lesson_launch(bad) is None, bad
    karate = lesson_launch("lesson:karate:full")
    assert (karate.lesson, karate.mode, karate.seed) == ("karate", "full", 0)
    with pytest.raises(UserInputError):
        get_lesson("nope")


def test_rows_from_real_stored_runs_give_accuracy_and_epoch_time(tmp_path):
    """A tiny quick ChebNet-vs-CNN lesson (1 epoch each, small nets), trained and stored as the queue would."""
    from core.training.store import RunStore

    store = RunStore(tmp_path / "runs.db")
    lesson = get_lesson("cheb-cnn")
    launch, plan = launch_plan("cheb-cnn", True)
    before = lesson_rows(lesson, "quick", [], store.epochs, launch)
    assert [r["status"] for r in before] == ["not started"] * 2 and settled(before)
    for cfg, group in plan:
        cfg = cfg.with_values(epochs=1, hidden=8)
        run_id = store.create_run(cfg.to_dict(), name=cfg.label(), group=group)
        execute(cfg, store, run_id=run_id)
    store.create_run(RunConfig.make(model="cnn", quick=True).to_dict(), name="another run", kind="image")
    members = [r for group_id in launch.member_ids() for r in store.list_runs(group=group_id)]
    rows = lesson_rows(lesson, "quick", members, store.epochs, launch)
    assert [r["status"] for r in rows] == ["finished", "finished"] and settled(rows)
    assert [r["epochs"] for r in rows] == ["1 of 1", "1 of 1"]
    for row in rows:
        assert 0.0 <= row["test accuracy"] <= 1.0 and row["s/epoch"] > 0
        assert row["test accuracy"] == store.get_run(row["run"])["summary"]["test_accuracy"]
        assert row["s/epoch"] == store.epochs(row["run"])[0]["seconds"]
    assert rows[0]["published"].startswith("99.14%") and rows[1]["published"] == "99.33%"
    ratio = epoch_ratio(rows)
    assert ratio == pytest.approx(rows[0]["s/epoch"] / rows[1]["s/epoch"])
    lines = findings(lesson, rows)
    assert lines[0] == f"ChebNet epoch = {ratio:.1f}x the CNN's (published 7.6-14.6x)."
    assert "against the CNN's" in lines[1]
    assert list(table(rows, lesson)[0]) == [
        "model",
        "run",
        "status",
        "epochs",
        "test accuracy",
        "s/epoch",
        "ours, 4,000 digits",
        "published",
        "source",
    ]
    assert table(rows, lesson)[0]["model"] == "ChebNet, K=5" and table(rows, lesson)[1]["model"] == "CNN"
    assert table(rows, lesson)[0]["source"] == "Defferrard 2016"  # short; in full once, under the table
    assert sources(rows) == ["Defferrard et al. 2016, Table 1 (full MNIST)"]
    links = {link.label: link for link in explain_links(lesson, rows, launch)}
    cheb_id, cnn_id = rows[0]["run"], rows[1]["run"]
    assert links["Spectral view: ChebNet's learned frequency responses"] == LessonLink(
        "spectral", "Spectral view: ChebNet's learned frequency responses", (cheb_id,)
    )
    assert links["Compare runs: their settings and curves"].runs == (cheb_id, cnn_id)
    found = stored_lessons(store.list_runs(), store.groups(), "cheb-cnn")
    assert [(s["id"], s["runs"], s["mode"]) for s in found] == [(launch.id, 2, "quick")]
    assert stored_lessons(store.list_runs(), store.groups(), "tutorial") == []


def test_the_rotation_lessons_rows_find_its_sweep_part_and_link_it():
    """Rows match stored runs by settings within their part's group: the C8 net and the restriction-0 sweep net
    (both C8 throughout, on mnist-rot) are told apart by the group they are stored in."""
    lesson = get_lesson("rotation")
    launch, plan = launch_plan("rotation", True)
    runs = [
        {
            "id": i,
            "group_id": g.id,
            "config": cfg.to_dict(),
            "status": "finished",
            "summary": {"test_accuracy": 0.5 + i / 100},
        }
        for i, (cfg, g) in enumerate(plan, start=1)
    ]
    runs.append({"id": 99, "group_id": None, "config": plan[1][0].to_dict(), "status": "finished", "summary": {}})
    rows = lesson_rows(lesson, "quick", runs, lambda run_id: [{"epoch": 1, "seconds": float(run_id)}], launch)
    assert [r["run"] for r in rows] == [1, 2, 3, 4, 5]
    assert [r["s/epoch"] for r in rows] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert rows[2]["row"] == "C8 throughout, rotated digits" and rows[2]["part"] == "sweep"
    lines = findings(lesson, rows)
    assert lines[0].startswith("On rotated digits the C8 net scores 52.0% against the CNN's 51.0%")
    assert lines[1] == "Restriction sweep on rotated digits: best C8 → C1 after block 2 (55.0%)."
    links = {link.label: link for link in explain_links(lesson, rows, launch)}
    c8 = links["Equivariance: accuracy against the angle, C8 net beside the CNN"]
    assert (c8.page, c8.runs) == ("equivariance", (2,))
    sweep = links["Compare: accuracy against the restriction depth"]
    assert (sweep.page, sweep.runs, sweep.sweep) == ("compare", (), plan[-1][1].id)
    groups = {g.id: g for _, g in plan}
    assert [(s["id"], s["runs"]) for s in stored_lessons(runs, groups)] == [(launch.id, 5)]


def test_a_launch_with_another_seed_carries_it_in_its_group():
    launch, plan = launch_plan("cheb-cnn", True, seed=7)
    assert (launch.lesson, launch.mode, launch.seed) == ("cheb-cnn", "quick", 7) and launch.id.endswith("-s7")
    assert lesson_launch(launch.id).seed == 7  # a link that holds only the id (written before groups were stored)
    assert {cfg.training.seed for cfg, _ in plan} == {7} and [c.to_dict() for c in launch_configs(launch)] == [
        cfg.to_dict() for cfg, _ in plan
    ]
    teacher, _ = launch_plan("cheb-cnn", True)
    assert teacher.seed == 0 and {c.training.seed for c in launch_configs(teacher)} == {0}
    assert lesson_launch("lesson:cheb-cnn:quick:1-s99999999999").seed == 0  # past a seed's range: no seed
    assert launch_configs(lesson_launch("lesson:karate:quick")) == [] and launch_configs(None) == []
    runs = [{"id": 3, "group_id": launch.id, "config": {}, "status": "finished", "summary": {}}]
    label = stored_lessons(runs, {launch.id: launch}, "cheb-cnn")[0]["label"]
    assert label.endswith("· quick · seed 7 · from run #3")


def test_live_findings_say_so_far_and_the_papers_final_figure():
    """After one epoch of eight the lines say how far the runs are, not a result."""
    lesson = get_lesson("cheb-cnn")
    launch, plan = launch_plan("cheb-cnn", True)
    runs = [
        {"id": i, "group_id": g.id, "config": cfg.to_dict(), "status": "running", "summary": {}}
        for i, (cfg, g) in enumerate(plan, start=1)
    ]
    epoch = {
        1: [{"epoch": 1, "seconds": 3.0, "test_accuracy": 0.85}],
        2: [{"epoch": 1, "seconds": 2.0, "test_accuracy": 0.84}],
    }
    rows = lesson_rows(lesson, "quick", runs, epoch.__getitem__, launch)
    lines = findings(lesson, rows)
    assert lines == [
        "So far, after 1 of 8 epochs: ChebNet epoch = 1.5x the CNN's (published 7.6-14.6x).",
        "So far, after 1 of 8 epochs: ChebNet 85.0% against the CNN's 84.0%: +1.0 points (the paper, "
        "after 20 epochs: 99.14% against 99.33%, -0.2 points).",
    ]
    for run in runs:
        run["status"] = "finished"
    assert findings(lesson, lesson_rows(lesson, "quick", runs, epoch.__getitem__, launch))[1].startswith(
        "ChebNet 85.0% against the CNN's 84.0%: +1.0 points (published: "
    )


def test_the_data_line_says_what_full_mode_trains_on_this_server():
    from core.analysis.lesson_rows import data_line

    rows = lesson_rows(get_lesson("cheb-cnn"), "full", [], lambda _: [])
    assert data_line(rows, "full") == "These runs (full mode): 4,000 training digits, 8 epochs."
    assert data_line(rows, "full", quick_server=True) == "These runs (full mode): 1,000 training digits, 8 epochs."


def test_the_cheb_lessons_words_name_k_and_no_setting_of_the_server():
    why = get_lesson("cheb-cnn").why
    assert "K=25" in why and "K=5" in why
    assert "one product per layer" not in why
    for lesson in LESSONS.values():
        assert "GRAPHCONV" not in lesson.why + lesson.question


def test_a_row_without_a_run_of_its_launch_shows_the_identical_run_it_reuses():
    """A launch that queued only the ChebNet (the CNN's settings and seed were trained for another page) shows the
    CNN's earlier run, says so in one line, and that run's launch is found for a launch that reused everything."""
    lesson = get_lesson("cheb-cnn")
    teacher, plan = launch_plan("cheb-cnn", True)
    (cheb, _), (cnn, _) = plan
    earlier = {
        "id": 4,
        "group_id": None,
        "config": cnn.to_dict(),
        "status": "finished",
        "summary": {"test_accuracy": 0.93},
    }
    mine = {"id": 5, "group_id": teacher.id, "config": cheb.to_dict(), "status": "queued", "summary": {}}
    groups = {teacher.id: teacher}
    rows = lesson_rows(lesson, "quick", [mine], lambda run_id: [], teacher, [None, earlier])
    assert [(r["run"], r["status"], r["reused"]) for r in rows] == [(5, "queued", False), (4, "finished", True)]
    assert rows[1]["test accuracy"] == 0.93 and not settled(rows)
    assert reused_line(rows).startswith("The same settings and seed were trained in run 4: shown here.")
    assert reused_line(lesson_rows(lesson, "quick", [mine], lambda run_id: [], teacher)) == ""
    assert existing_launch([earlier, mine], "cheb-cnn", "quick", 0, groups) == teacher
    assert existing_launch([earlier, mine], "cheb-cnn", "quick", 1, groups) is None
    assert existing_launch([earlier], "cheb-cnn", "quick", 0, groups) is None
