"""Adding a model is one file (tests/core/models/hop_model.py: its spec with a setting of its own, ``hops``, and its
registration): it is then found, with its setting, on the Train page, in the CLI, in the links to insight pages,
in the budget and in validation, with no other change (the Train page: tests/ui/test_registry_driven.py)."""

from __future__ import annotations

import argparse

import pytest

from core.errors import UserInputError
from core.models import MODELS, describe
from tests.core.models import hop_model


@pytest.fixture
def hop():
    hop_model.register()
    try:
        yield hop_model.SPEC
    finally:
        MODELS.unregister("hop")


def test_the_new_model_and_its_setting_are_run_settings_checked_by_its_spec(hop):
    from core.training import cost
    from core.training.runs import RunConfig, model_default, validate

    cfg = validate(RunConfig.make(model="hop", hops=4))
    assert cfg.label() == "Hop net, 4 hops" and cfg.to_dict()["hops"] == 4 and not cfg.uses_graph()
    assert RunConfig.make(model="hop").value("hops") == model_default("hop", "hops") == 2
    assert RunConfig.from_dict(cfg.to_dict()) == cfg
    assert RunConfig.make(model="cheb").ignored_settings(["hops", "K"]) == ["hops"]  # only the hop net reads it
    assert describe("hops").label == "Hops" and (describe("hops").lo, describe("hops").hi) == (1, 6)
    with pytest.raises(UserInputError) as err:
        validate(RunConfig.make(model="hop", hops=9))
    assert str(err.value) == "hops: 9 is out of range [1, 6]"  # one line, naming the setting
    more = cost.estimate(RunConfig.make(model="hop", hops=6))
    assert cost.estimate(cfg).known and more.seconds > cost.estimate(cfg).seconds  # its footprint prices its hops


def test_the_new_model_is_found_by_the_cli_and_links(hop):
    from core.cli.training import run_config_from_args, train_parser
    from core.training.runs import RunConfig, validate
    from ui.links import run_links

    sub = argparse.ArgumentParser().add_subparsers()
    args = train_parser(sub).parse_args(["--model", "hop", "--hops", "3", "--epochs", "1"])
    cfg = validate(run_config_from_args(args))
    assert (cfg.model, cfg.value("hops"), cfg.training.epochs) == ("hop", 3, 1)
    pages = {page: query for page, _, _, query in run_links(7, RunConfig.make(model="hop").to_dict())}
    assert pages == {"app_pages/results.py": {"run": "7"}, "app_pages/playground.py": {"pg_runs": "7"}}


def test_the_new_models_setting_is_swept_and_searched_by_its_own_declaration(hop):
    """Compare's sweeps and searches offer a model's setting when its declaration gives sweep values: the label and
    the values come from the spec, and the configs they make are the model's own, checked by its range."""
    from core.training.runs import RunConfig
    from core.training.search import parse_space, search_configs
    from core.training.sweep import SWEEPABLE, parse_values, sweep_configs, sweep_label

    assert "hops" in SWEEPABLE and sweep_label("hops") == "Hops (hops)" and SWEEPABLE["hops"].values == "1, 2, 3"
    base = RunConfig.make(model="hop", epochs=1)
    swept = sweep_configs(base, "hops", parse_values("hops", SWEEPABLE["hops"].values))
    assert [c.value("hops") for c in swept] == [1, 2, 3] and {c.model for c in swept} == {"hop"}
    with pytest.raises(UserInputError) as err:
        sweep_configs(base, "hops", [7])
    assert str(err.value) == "hops: 7 is out of range [1, 6]"
    space = parse_space(["hops=1..6"])
    trials = search_configs(base, space, 4, seed=0)
    assert len(trials) == 4 and all(1 <= c.value("hops") <= 6 for c in trials)
    MODELS.unregister("hop")
    try:
        assert "hops" not in SWEEPABLE  # read afresh from the registry: gone with its model
    finally:
        hop_model.register()


def test_a_stored_run_of_the_new_model_trains_and_reads_back(hop):
    from core.training.runs import RunConfig, execute, run_title
    from core.training.store import RunStore

    store = RunStore()
    out = execute(RunConfig.make(model="hop", hops=1, epochs=1, quick=True, device="cpu"), store)
    assert out["status"] == "finished" and out["test_accuracy"] > 0.3
    assert run_title(store.get_run(out["run_id"])) == f"Run {out['run_id']} · Hop net, 1 hops"
