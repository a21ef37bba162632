"""core.data.karate: Zachary's karate club and its one-label-per-class split."""

import torch

from core.data.karate import karate_split, load_karate


def test_karate_club_split() -> None:
    g = load_karate()
    assert g.num_nodes == 34 and int(g.y.max()) + 1 == 4
    split = karate_split(g)
    assert split.labelled.dtype == torch.bool and split.labelled.shape == (34,)
    assert sorted(g.y[split.labelled].tolist()) == [0, 1, 2, 3]  # exactly one per class
    assert torch.equal(split.unlabelled, ~split.labelled) and int(split.unlabelled.sum()) == 30
    assert torch.equal(karate_split().labelled, split.labelled)  # deterministic
