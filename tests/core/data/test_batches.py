"""Batches: seeded, complete, in order when unshuffled."""

import torch

from core.data.batches import Batches


def test_batches_cover_every_example_once_and_are_seeded():
    x, y = torch.arange(10).float().unsqueeze(1), torch.arange(10)
    one = [yy.tolist() for _, yy in Batches(x, y, 4, shuffle=True, seed=3)]
    two = [yy.tolist() for _, yy in Batches(x, y, 4, shuffle=True, seed=3)]
    other = [yy.tolist() for _, yy in Batches(x, y, 4, shuffle=True, seed=4)]
    assert [len(b) for b in one] == [4, 4, 2]
    assert sorted(sum(one, [])) == list(range(10))
    assert one == two and one != other
    assert [yy.tolist() for _, yy in Batches(x, y, 4, shuffle=False)] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
