"""Imported once by the forkserver that training workers fork from: the heavy imports and the embedded
digits, so each run's worker starts with them already in memory (shared copy-on-write).

Without this a worker spent about 3 s before its first batch, most of it importing ``torch._dynamo``,
which ``torch.optim.Adam`` pulls in on first use.
"""

import torch

import core.models
import core.training.runs
import core.training.worker  # noqa: F401 - imported for its imports: the forkserver preloads them
from core.data.datasets import raw_5k

torch.optim.Adam([torch.zeros(1, requires_grad=True)])  # imports torch._dynamo once, here
raw_5k()  # the 5,000 embedded MNIST digits, parsed once
