"""The training forkserver never starts CUDA, so every worker forked from it may use the GPU (pytorch#138453).

On a CPU machine this catches a call of torch.cuda's driver-starting functions in the forkserver's imports (or
in the server's imports of PyG and the app's modules); tests/core/test_cuda.py checks the real CUDA state on a GPU.
"""

from __future__ import annotations

import multiprocessing as mp

import pytest

from tests.core.training.forkserver_probe import WATCHED, run_probe

pytestmark = pytest.mark.skipif("forkserver" not in mp.get_all_start_methods(), reason="no forkserver here")


def test_the_forkserver_never_asks_cuda(tmp_path):
    out = run_probe(tmp_path / "runs.db")
    assert out["method"] == "forkserver"
    assert out["parent_calls_after_imports"] == []  # importing PyG and the app asked CUDA nothing
    worker = out["worker"]
    assert worker["preloaded_in_forkserver"]  # the probe watched the forkserver from its first import
    assert worker["forkserver_calls"] == [], f"the forkserver called {worker['forkserver_calls']} of {WATCHED}"
    assert not worker["initialized"] and not worker["bad_fork"]
