"""Fixtures of the training tests: a real two-node Ray cluster (``ray start``), once per module that asks."""

import pytest


@pytest.fixture(scope="module")
def ray_cluster():
    """A head and a second node started as a user would (see ray_cluster.py); stopped at the end of the
    module whatever happened, killing only this cluster's processes."""
    pytest.importorskip("ray")
    from tests.core.training.ray_cluster import RayCluster

    cluster = RayCluster()
    try:
        yield cluster.start()
    finally:
        cluster.stop()


@pytest.fixture(autouse=True)
def _no_store_url_from_outside(monkeypatch):
    """A GRAPHCONV_STORE_URL of the shell running the tests never reaches them: a test that wants PostgreSQL asks
    for ``postgres_url``."""
    monkeypatch.delenv("GRAPHCONV_STORE_URL", raising=False)


@pytest.fixture(scope="session")
def postgres_server():
    """The session's real PostgreSQL server (tests/core/training/postgres_server.py): started on first use, stopped
    and removed at the end. Fails when its binaries are missing and the tests run as root (CI), skips otherwise."""
    from tests.core.training.postgres_server import shared_server, stop_shared_server

    server = shared_server()
    yield server
    stop_shared_server()


@pytest.fixture
def postgres_url(postgres_server):
    """The URL of a fresh, empty database on that server, dropped after the test."""
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(url)
