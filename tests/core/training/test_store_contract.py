"""Every run store keeps ``AbstractStore``'s contract (``store_contract.py``), and the interface declares it all.

``BACKENDS`` names each store and how to make an empty one: SQLite (a file in the test's folder) and PostgreSQL (a
fresh database on the session's real server, ``postgres_server.py``: the tests fail without the server's binaries
when run as root, as CI does, and skip as another user). Every contract function runs on each.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path

import pytest

from core.training.store import AbstractStore, RunStore, RunWriter
from tests.core.training.store_contract import CONTRACT


def _sqlite(folder: Path, request: pytest.FixtureRequest) -> AbstractStore:
    return RunStore(folder / "runs.db")


def _postgresql(folder: Path, request: pytest.FixtureRequest) -> AbstractStore:
    from core.training.store.postgres import PostgresStore

    store = PostgresStore(request.getfixturevalue("postgres_url"), data_folder=folder)
    request.addfinalizer(store.close)
    return store


# each backend's empty store, given the test's data folder and the request (for fixtures such as a server's)
BACKENDS: dict[str, Callable[[Path, pytest.FixtureRequest], AbstractStore]] = {
    "sqlite": _sqlite,
    "postgresql": _postgresql,
}


@pytest.fixture(params=sorted(BACKENDS))
def store(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AbstractStore:
    """An empty store of each backend, its data folder private to the test."""
    folder = tmp_path / "data"
    monkeypatch.setenv("GRAPHCONV_DATA_DIR", str(folder))
    return BACKENDS[request.param](folder, request)


@pytest.mark.parametrize("contract", CONTRACT, ids=lambda f: f.__name__)
def test_every_store_keeps_the_contract(contract: Callable[[AbstractStore], None], store: AbstractStore) -> None:
    contract(store)


def test_the_interface_is_abstract_and_the_sqlite_store_fills_it() -> None:
    """A store that leaves out a call cannot be made; RunStore leaves none out."""
    assert not RunStore.__abstractmethods__
    assert {"run", "runs", "epochs", "create_run", "finish", "request_stop", "save_group"} <= set(
        AbstractStore.__abstractmethods__
    )

    declared = AbstractStore.__abstractmethods__
    half: type[AbstractStore] = type(
        "Half", (AbstractStore,), {name: (lambda self, *a, **k: None) for name in declared - {"run"}}
    )
    assert inspect.isabstract(half) and half.__abstractmethods__ == {"run"}
    with pytest.raises(TypeError, match="abstract"):
        half()


def test_the_interface_declares_every_call_the_worker_makes() -> None:
    """RunWriter (what a worker writes through) is a subset of the interface, with the same signatures."""
    writer_calls = {n for n, v in vars(RunWriter).items() if inspect.isfunction(v) and not n.startswith("_")}
    assert writer_calls <= set(dir(AbstractStore))
    for name in writer_calls:
        assert inspect.signature(getattr(RunWriter, name)) == inspect.signature(getattr(AbstractStore, name)), name


def test_every_store_call_a_caller_makes_is_declared() -> None:
    """Each public call of RunStore is in the interface (a second backend implements what callers use), apart from
    the SQLite file itself (``path``)."""
    public = {n for n in dir(RunStore) if not n.startswith("_")}
    assert public - set(dir(AbstractStore)) == {"path"}


def test_the_postgresql_store_fills_the_interface_and_adds_no_call() -> None:
    """PostgresStore implements every declared call; beyond the interface it has only ``close`` (its connections)."""
    from core.training.store.postgres import PostgresStore

    assert not PostgresStore.__abstractmethods__
    public = {n for n in dir(PostgresStore) if not n.startswith("_")}
    assert public - set(dir(AbstractStore)) == {"close"}
