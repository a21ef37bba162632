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
