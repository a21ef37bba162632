"""``python -m core store export FILE`` and ``store import FILE``: runs move between stores and machines whole.

Real runs (a trained MLP, its continuation, a sweep's run with artifacts, a failed run) go from SQLite to a real
PostgreSQL server and back to another SQLite file, and come out equal: config, epochs, summary, artifacts, live curve,
groups and the checkpoint's bytes, under new ids with the parent link following. Bad files are one line on stderr
and leave the target store as it was.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
import torch

from core.cli import main
from core.cli.store_checks import FORMAT_VERSION, MANIFEST
from core.training.runs import RunConfig, continuation_config, execute
from core.training.store import AbstractStore, RunGroup, RunStore, load_checkpoint, save_checkpoint, store_at
from tests.core.training.postgres_server import shared_server


@pytest.fixture(autouse=True)
def _no_store_url(monkeypatch):
    monkeypatch.delenv("GRAPHCONV_STORE_URL", raising=False)


@pytest.fixture
def postgres_url():
    server = shared_server()
    url = server.create_database()
    yield url
    server.drop_database(url)


def _cli(capsys, *args: str) -> tuple[int, dict, str]:
    """Run the CLI with --json; (exit code, its JSON output or {}, stderr)."""
    code = main([*args, "--json"])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else {}), err


def _made_runs(store: AbstractStore) -> list[int]:
    """Runs of every kind an export carries: trained, continued, grouped with artifacts, failed without weights."""
    trained = execute(RunConfig.make(model="mlp", hidden=16, epochs=2, quick=True, seed=3), store)["run_id"]
    continued = execute(continuation_config(store, trained, 1), store)["run_id"]
    sweep = RunGroup("sweep", "sweep:1:hidden", params=("hidden",))
    grouped = store.create_run(RunConfig.make(model="mlp", hidden=8, quick=True).to_dict(), name="swept", group=sweep)
    store.start(grouped, "cpu")
    store.log_epoch(grouped, 1, train_loss=0.7, test_accuracy=0.6, seconds=1.0, threads={"min": 1, "max": 2})
    store.log_progress(grouped, 1, 16, 16, 0.7, [(0.5, 0.9), (1.0, 0.7)])
    store.save_artifact(grouped, "blob", b"\x00\xff" * 10)
    store.save_artifact(grouped, "pca", {"xy": [[0.5, 1.0]]}, epoch=1)
    path = save_checkpoint({"w": torch.arange(6.0)}, store.data_folder / "checkpoints" / f"run-{grouped}.pt")
    store.finish(grouped, {"run_id": grouped, "test_accuracy": 0.6}, status="stopped", error="asked", checkpoint=path)
    failed = store.create_run({"model": "mlp"}, name="broken")
    store.fail(failed, "ValueError: bad")
    return [trained, continued, grouped, failed]


def _assert_same(a: AbstractStore, b: AbstractStore, mapping: dict[int, int]) -> None:
    """Every run of ``mapping`` (old id in ``a`` -> new id in ``b``) equal but for its id and the ids it names."""
    for old, new in mapping.items():
        x, y = a.require_run(old), b.require_run(new)
        config = dict(x.config)
        if config.get("parent") is not None:
            config["parent"] = mapping[config["parent"]]
        assert y.config == config
        summary = x.summary.to_dict()
        summary.update(
            {k: mapping[v] if k == "parent" else new for k, v in summary.items() if k in ("run_id", "parent")}
        )
        assert y.summary.to_dict() == summary
        assert (y.status, y.name, y.error, y.device) == (x.status, x.name, x.error, x.device)
        assert b.epochs(new) == a.epochs(old)
        assert b.progress(new) is not None or a.progress(old) is None
        if a.progress(old) is not None:
            assert b.progress(new)["points"] == a.progress(old)["points"]  # type: ignore[index]  # both runs have progress
        assert b.list_artifacts(new) == a.list_artifacts(old)
        for entry in a.list_artifacts(old):
            assert b.load_artifact(new, entry["name"], entry["epoch"]) == a.load_artifact(
                old, entry["name"], entry["epoch"]
            )
        if x.checkpoint and Path(x.checkpoint).is_file():
            assert y.checkpoint and Path(y.checkpoint).read_bytes() == Path(x.checkpoint).read_bytes()
        else:
            assert not (y.checkpoint and Path(y.checkpoint).is_file())
        assert (x.group is None) == (y.group is None)
        if x.group is not None and y.group is not None:
            assert (y.group.type, y.group.params) == (x.group.type, x.group.params)


def test_runs_go_from_sqlite_to_postgresql_and_back_unchanged(tmp_path, postgres_url, capsys):
    source = RunStore(tmp_path / "data" / "runs.db")
    ids = _made_runs(source)
    first = tmp_path / "from-sqlite.zip"
    code, out, err = _cli(capsys, "store", "export", str(first), "--store", source.location)
    assert code == 0, err
    assert out["runs"] == 4 and out["checkpoints"] == 3 and out["groups"] == 1

    code, out, err = _cli(capsys, "store", "import", str(first), "--store", postgres_url)
    assert code == 0, err
    to_pg = {int(k): v for k, v in out["mapping"].items()}
    assert sorted(to_pg) == ids and out["imported"] == 4
    pg = store_at(postgres_url)
    _assert_same(source, pg, to_pg)
    continued = pg.require_run(to_pg[ids[1]])
    assert continued.parent == to_pg[ids[0]]  # the parent link follows the parent's new id
    assert torch.equal(load_checkpoint(pg.require_run(to_pg[ids[2]]).checkpoint)["w"], torch.arange(6.0))

    second = tmp_path / "from-postgresql.zip"
    assert _cli(capsys, "store", "export", str(second), "--store", postgres_url)[0] == 0
    back = RunStore(tmp_path / "other" / "runs.db")
    back.create_run({"model": "mlp"}, name="already here")  # an import never overwrites: run 1 is taken
    code, out, err = _cli(capsys, "store", "import", str(second), "--store", f"sqlite:///{back.location}")
    assert code == 0, err
    to_back = {int(k): v for k, v in out["mapping"].items()}
    assert back.require_run(1).name == "already here" and 1 not in to_back.values()
    _assert_same(source, back, {old: to_back[to_pg[old]] for old in ids})

    code, out, err = _cli(capsys, "store", "import", str(first), "--store", postgres_url)  # the same file again
    assert code == 0 and not set(out["mapping"].values()) & set(to_pg.values())
    assert out["groups"] and all(new.startswith("sweep:1:hidden:imported-") for new in out["groups"].values())
    assert len(pg.runs()) == 8


def _small_store(tmp_path: Path) -> RunStore:
    store = RunStore(tmp_path / "src" / "runs.db")
    run_id = store.create_run({"model": "mlp"}, name="one")
    path = save_checkpoint({"w": torch.ones(3)}, store.data_folder / "checkpoints" / f"run-{run_id}.pt")
    store.save_artifact(run_id, "pca", [1, 2], epoch=1)
    store.finish(run_id, {"run_id": run_id}, checkpoint=path)
    return store


def _rewrite(source: Path, target: Path, edit) -> Path:
    """A copy of archive ``source`` with ``edit(name, bytes) -> bytes | None`` applied to each member (None drops)."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            data = edit(info.filename, old.read(info))
            if data is not None:
                new.writestr(info.filename, data)
    return target


def _manifest(edit):
    def change(name: str, data: bytes) -> bytes:
        if name != MANIFEST:
            return data
        manifest = json.loads(data)
        edit(manifest)
        return json.dumps(manifest).encode()

    return change


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda n, d: d if n != MANIFEST else b"{not json", "its manifest is not JSON"),
        (_manifest(lambda m: m.update(version=FORMAT_VERSION + 1)), "written by a newer GraphConv Lab"),
        (_manifest(lambda m: m.update(format="something else")), "not a GraphConv Lab runs file"),
        (lambda n, d: d + b"x" if n.startswith("checkpoints/") else d, "does not match its recorded hash"),
        (lambda n, d: None if n.startswith("artifacts/") else d, "the archive lacks artifacts/"),
        (_manifest(lambda m: m["runs"][0].update(status="running")), "not an ended one"),
        (_manifest(lambda m: m["runs"][0]["epochs"].extend({"epoch": 1}.copy() for _ in range(10_001))), "epochs"),
        (_manifest(lambda m: m["runs"].append(dict(m["runs"][0]))), "is listed twice"),
    ],
    ids=["not-json", "newer", "foreign", "tampered-weights", "missing-member", "active", "too-many-epochs", "twice"],
)
def test_a_bad_file_is_one_line_and_stores_nothing(tmp_path, capsys, edit, message):
    source = _small_store(tmp_path)
    good = tmp_path / "good.zip"
    assert _cli(capsys, "store", "export", str(good), "--store", source.location)[0] == 0
    bad = _rewrite(good, tmp_path / "bad.zip", edit)
    target = RunStore(tmp_path / "target" / "runs.db")
    kept = target.create_run({"model": "mlp"}, name="mine")
    code, out, err = _cli(capsys, "store", "import", str(bad), "--store", target.location)
    assert code == 2 and out == {}
    assert err.count("\n") == 1 and err.startswith("error: file: ") and message in err
    assert [r.id for r in target.runs()] == [kept]


def test_an_import_that_fails_part_way_removes_what_it_added(tmp_path, capsys):
    """An artifact that is not JSON is found only while storing: the runs added before it are removed again."""
    source = _small_store(tmp_path)
    source.create_run({"model": "mlp"}, name="two")
    source.fail(2, "x")
    source.save_artifact(2, "later", {"a": 1})
    good = tmp_path / "good.zip"
    assert _cli(capsys, "store", "export", str(good), "--store", source.location)[0] == 0
    bad = _rewrite(good, tmp_path / "bad.zip", lambda n, d: b"{oops" if n == "artifacts/2/0.json" else d)
    target = RunStore(tmp_path / "target" / "runs.db")
    code, _, err = _cli(capsys, "store", "import", str(bad), "--store", target.location)
    assert code == 1 and err.count("\n") == 1 and "the runs it had added were removed" in err
    assert target.runs() == [] and not list((target.data_folder / "checkpoints").glob("*.pt"))


def test_export_refuses_what_it_cannot_write_whole(tmp_path, capsys):
    source = _small_store(tmp_path)
    active = source.create_run({"model": "mlp"})
    taken = tmp_path / "taken.zip"
    taken.write_bytes(b"keep me")
    code, _, err = _cli(capsys, "store", "export", str(taken), "--store", source.location)
    assert code == 2 and "exists already" in err and taken.read_bytes() == b"keep me"
    code, _, err = _cli(
        capsys, "store", "export", str(tmp_path / "x.zip"), "--store", source.location, "--runs", f"{active}"
    )
    assert code == 2 and "still queued or training" in err and not (tmp_path / "x.zip").exists()
    code, _, err = _cli(capsys, "store", "export", str(tmp_path / "x.zip"), "--store", "mysql://h/db")
    assert code == 1 and err.count("\n") == 1 and "not supported" in err
    code, out, _ = _cli(capsys, "store", "export", str(tmp_path / "all.zip"), "--store", source.location)
    assert code == 0 and out["runs"] == 1  # every ended run; the queued one waits
    assert not list(tmp_path.glob(".*.tmp"))
