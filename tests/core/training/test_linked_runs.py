"""Links that carry their runs (core/training/linked_runs.py): what a link says each run was, checked against a real
run store, as on a server that restarted on a fresh disk."""

from __future__ import annotations

import base64
import json
import zlib

import pytest

from core.errors import UserInputError
from core.training.linked_runs import (
    KEY,
    MAX_INFLATED,
    MAX_LINKED,
    MAX_TEXT,
    check_linked,
    decode_defs,
    encode_defs,
    rebuild_config,
    run_hash,
)
from core.training.runs import RunConfig, validate
from core.training.store import RunStore


def stored(store: RunStore, accuracy: float | None = None, **settings) -> int:
    """A run in the store with these settings (finished with ``accuracy`` when given, else queued)."""
    cfg = validate(RunConfig.make(**{"epochs": 3, "quick": True, **settings}))
    run_id = store.create_run(cfg.to_dict(), name=cfg.label())
    if accuracy is not None:
        store.start(run_id, "cpu")
        store.finish(run_id, {"test_accuracy": accuracy})
    return run_id


def pack(payload) -> str:
    return base64.urlsafe_b64encode(zlib.compress(json.dumps(payload).encode())).decode().rstrip("=")


def test_a_link_defines_its_runs_compactly_and_reads_them_back():
    store = RunStore()
    ids = [stored(store, 0.715, model="cheb"), stored(store, 0.535, model="mlp"), stored(store, model="cnn")]
    text = encode_defs(store.runs())
    assert len(text) < 600  # three runs' full configs, compressed together
    defs = decode_defs(text)
    assert sorted(defs) == sorted(ids)
    cheb = defs[ids[0]]
    assert cheb.config == store.require_run(ids[0]).config and cheb.accuracy == pytest.approx(0.715)
    assert cheb.hash == run_hash(store.require_run(ids[0]).config) and len(cheb.hash) == 12
    assert defs[ids[2]].accuracy is None  # queued when the link was made
    assert encode_defs([]) == "" and decode_defs("") == {} and decode_defs(None) == {}


def test_the_hash_is_of_the_settings_and_seed_not_of_how_they_were_stored():
    cfg = validate(RunConfig.make(model="cheb", epochs=3, seed=1))
    full = cfg.to_dict()
    older = {k: v for k, v in full.items() if k not in ("heads", "edge_sets")}  # a version that lacked two settings
    assert run_hash(older) == run_hash(full) == run_hash(cfg)
    assert run_hash({**full, "seed": 2}) != run_hash(full)  # the seed is part of the run
    assert run_hash({**full, "K": 6}) != run_hash(full)


def test_on_the_server_that_made_it_the_link_shows_its_runs_as_they_are():
    store = RunStore()
    run_id = stored(store, 0.715, model="cheb")
    defs = decode_defs(encode_defs([store.require_run(run_id)]))
    (check,) = check_linked(store, [run_id], defs)
    assert (check.state, check.run.id, check.message(), check.rebuildable) == ("same", run_id, "", False)


def test_after_a_wipe_the_next_visitors_run_1_is_not_shown_for_the_links_run_1(tmp_path, monkeypatch):
    """The measured failure of issue 32: after a restart on an empty folder, an MLP became "run 1" and the
    ChebNet's old link showed it. Now the link knows its run 1 was a ChebNet."""
    store = RunStore()
    cheb = stored(store, 0.715, model="cheb")
    link = encode_defs([store.require_run(cheb)])
    monkeypatch.setenv("GRAPHCONV_DATA_DIR", str(tmp_path / "fresh"))  # the server wakes on a fresh disk
    fresh = RunStore()
    (gone,) = check_linked(fresh, [cheb], decode_defs(link))
    assert gone.state == "missing" and gone.run is None and gone.rebuildable
    assert gone.message().startswith("The link's run 1") and "71.5% where the link was made" in gone.message()
    mlp = stored(fresh, 0.535, model="mlp")
    assert mlp == cheb  # ids start again at 1
    (other,) = check_linked(fresh, [cheb], decode_defs(link))
    assert other.state == "other" and other.run is None and other.stored.id == mlp and other.rebuildable
    assert other.message().startswith("Run 1 on this server is another run")


def test_a_run_with_the_links_settings_and_seed_is_reused_not_trained_again(tmp_path, monkeypatch):
    store = RunStore()
    cheb = stored(store, 0.715, model="cheb")
    link = decode_defs(encode_defs([store.require_run(cheb)]))
    monkeypatch.setenv("GRAPHCONV_DATA_DIR", str(tmp_path / "fresh"))
    fresh = RunStore()
    stored(fresh, 0.5, model="mlp")  # run 1 here is another run
    rebuilt = fresh.create_run(rebuild_config(link[cheb]).to_dict())  # someone pressed Rebuild: run 2, queued
    (check,) = check_linked(fresh, [cheb], link)
    assert (check.state, check.run.id, check.stored.id) == ("reused", rebuilt, 1)
    assert f"are queued in run {rebuilt}: shown here; change the seed to train your own" in check.message()
    fresh.start(rebuilt, "cpu")
    fresh.finish(rebuilt, {"test_accuracy": 0.715})
    (check,) = check_linked(fresh, [cheb], link)
    assert f"were trained in run {rebuilt}: shown here" in check.message()


def test_an_old_bare_id_link_still_opens_with_a_notice():
    store = RunStore()
    run_id = stored(store, 0.7, model="cnn")
    unchecked, unknown = check_linked(store, [run_id, 99], {})
    assert unchecked.state == "unchecked" and unchecked.run.id == run_id and "cannot be checked" in unchecked.message()
    assert unknown.state == "unknown" and unknown.run is None and "not in the run store" in unknown.message()


def test_rebuilding_gives_the_same_config_and_seed_validated_here():
    store = RunStore()
    run_id = stored(store, 0.7, model="cheb", K=7, seed=3)
    linked = decode_defs(encode_defs([store.require_run(run_id)]))[run_id]
    cfg = rebuild_config(linked)
    assert run_hash(cfg) == linked.hash and cfg.value("K") == 7 and cfg.training.seed == 3


@pytest.mark.parametrize(
    "text, says",
    [
        ("x" * (MAX_TEXT + 1), "characters, more than"),
        ("%%%not-base64", "do not decode"),
        (base64.urlsafe_b64encode(b"not zlib").decode(), "do not decode"),
        (pack({"v": 99, "runs": {}}), "not of a form this version reads"),
        (pack(["a list"]), "not of a form this version reads"),
        (pack({"v": 1, "runs": {"abc": ["h", {}, None]}}), "'abc' is not a run id"),
        (pack({"v": 1, "runs": {"1": ["h", "cfg", None]}}), "run 1's definition is not of a form"),
        (pack({"v": 1, "runs": {"1": ["h", {"model": "cheb"}, 7]}}), "run 1's accuracy is not a fraction"),
        (pack({"v": 1, "runs": {"1": ["0" * 12, {"model": "cheb"}, None]}}), "do not match their hash"),
        (pack({"v": 1, "runs": {str(i): ["h", {}, None] for i in range(MAX_LINKED + 1)}}), "defines 13 runs"),
    ],
)
def test_a_link_value_a_browser_made_up_is_refused_in_one_line(text, says):
    with pytest.raises(UserInputError) as err:
        decode_defs(text)
    assert err.value.param == KEY and says in str(err.value) and "\n" not in str(err.value)


def test_a_link_that_inflates_without_bound_stops_at_the_limit():
    bomb = base64.urlsafe_b64encode(zlib.compress(b"[" * (MAX_INFLATED * 20), 9)).decode()
    assert len(bomb) < MAX_TEXT  # small on the wire
    with pytest.raises(UserInputError) as err:
        decode_defs(bomb)
    assert "inflate to more than" in str(err.value)


def test_a_changed_config_is_caught_by_its_hash():
    store = RunStore()
    run_id = stored(store, 0.7, model="cheb")
    text = encode_defs([store.require_run(run_id)])
    payload = json.loads(zlib.decompress(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))))
    payload["runs"][str(run_id)][1]["seed"] = 5  # someone edits the seed but keeps the hash
    with pytest.raises(UserInputError) as err:
        decode_defs(pack(payload))
    assert "do not match their hash" in str(err.value)


def test_a_link_defines_at_most_a_sweeps_worth_of_runs():
    store = RunStore()
    for seed in range(MAX_LINKED + 3):
        stored(store, model="mlp", seed=seed)
    defs = decode_defs(encode_defs(store.runs()))
    assert len(defs) == MAX_LINKED
