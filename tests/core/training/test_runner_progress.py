"""How a running run's progress reads: never "batch 0/0", the worker's start and superpixel preparation in words."""

from core.training.runner import progress_text


def test_progress_before_the_first_batch_reads_as_the_worker_starting():
    live = {"preparing": False, "epoch": 0, "epochs": 3, "batch": 0, "num_batches": 0, "loss": None}
    assert progress_text(live) == "starting the worker…"


def test_progress_during_training_and_preparation():
    live = {"preparing": False, "epoch": 2, "epochs": 3, "batch": 10, "num_batches": 16, "loss": 0.43214}
    assert progress_text(live) == "epoch 2/3, batch 10/16, loss 0.4321"
    assert progress_text({**live, "loss": None}) == "epoch 2/3, batch 10/16"
    building = {**live, "preparing": True, "epoch": 0, "batch": 1200, "num_batches": 5000}
    assert progress_text(building) == "building superpixel graphs (once, then cached): 1,200/5,000"
