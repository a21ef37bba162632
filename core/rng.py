"""Random streams of their own for runs that train side by side in one process.

PyTorch's dropout (and weight initialisation) draws from one process-wide CPU generator. Two runs
training in two threads of the app would interleave their draws, so neither would repeat under its
seed (a sweep that trained K=1 twice got 79.8% and 79.6%). Here every run keeps its own generator
state and swaps it in, under one process-wide lock, only for the code that draws: building the model
and each training step. Runs that overlap then take turns step by step, and each draws exactly the
numbers it would draw alone; a run alone draws exactly what ``torch.manual_seed(seed)`` followed by
the same code would.

Anything else that seeds or forks the global CPU generator while runs may be training (a page that
rebuilds a model, the escnn prototype cache) uses ``isolated_rng`` so it cannot rewind a run's stream.
Only the CPU generator is swapped: CUDA kernels are not deterministic anyway, and moving CUDA
generator states every step would cost a device synchronisation.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import torch

RNG_LOCK = threading.RLock()  # held while a block runs on a stream that is not the process-wide one


@contextmanager
def isolated_rng(seed: int | None = None) -> Iterator[None]:
    """Run the block on a scratch copy of the CPU generator (seeded with ``seed`` if given), then put the
    process-wide state back; one thread at a time."""
    with RNG_LOCK:
        saved = torch.get_rng_state()
        try:
            if seed is not None:
                torch.default_generator.manual_seed(int(seed))
            yield
        finally:
            torch.set_rng_state(saved)


class RunRNG:
    """One run's CPU random stream, carried from block to block.

    >>> rng = RunRNG(0)
    >>> with rng.active():  # draws here come from the run's stream, as after torch.manual_seed(0)
    ...     model = build()
    """

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)
        self._state = torch.Generator().manual_seed(self.seed).get_state()  # == default generator after manual_seed

    @contextmanager
    def active(self) -> Iterator[None]:
        with RNG_LOCK:
            saved = torch.get_rng_state()
            torch.set_rng_state(self._state)
            try:
                yield
            finally:
                self._state = torch.get_rng_state()
                torch.set_rng_state(saved)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(seed={self.seed})"
