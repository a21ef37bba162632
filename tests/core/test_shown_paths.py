"""How messages name files: in the data folder or by name, never by absolute path (a message can reach a browser)."""

from core.config import REPO_ROOT, data_dir, shown_path, without_paths


def test_files_are_named_relative_to_the_data_folder_or_by_name():
    folder = data_dir()
    assert shown_path(folder / "runs.db") == "runs.db"
    assert shown_path(folder / "checkpoints" / "run-3.pt") == "checkpoints/run-3.pt"
    assert shown_path(REPO_ROOT / "app.py") == "app.py"
    assert shown_path("/srv/private/deploy/secret.db") == "secret.db"  # elsewhere: its name only
    assert shown_path("/") == "a file"


def test_a_message_loses_its_absolute_paths_and_line_breaks():
    folder = data_dir()
    assert without_paths(f"run database {folder / 'runs.db'} is corrupt:\nfile is not a database") == (
        "run database runs.db is corrupt: file is not a database"
    )
    text = without_paths(
        'File "/usr/lib/python3.11/site-packages/torch/serialization.py", line 3: bad; '
        "see https://pytorch.org/docs/a/b and 1/2/3"
    )
    assert text == 'File "serialization.py", line 3: bad; see https://pytorch.org/docs/a/b and 1/2/3'
    assert without_paths(f"Traceback: {REPO_ROOT / 'core' / 'training' / 'worker.py'}") == (
        "Traceback: core/training/worker.py"
    )


def test_network_addresses_are_taken_out_of_error_texts():
    from core.config import without_paths

    assert (
        without_paths("cannot connect to the Ray cluster at 10.0.0.7:6379: timed out")
        == "cannot connect to the Ray cluster at an address: timed out"
    )
    assert (
        without_paths("the Ray node 1a2b3c4d (10.0.0.7) running it was lost")
        == "the Ray node 1a2b3c4d (an address) running it was lost"
    )
    assert without_paths("ray://127.0.0.1:10001 refused; also [::1]:8265") == "an address refused; also an address"
    assert without_paths("lr 0.001, escnn 1.0.11, 4 of 4 runs") == "lr 0.001, escnn 1.0.11, 4 of 4 runs"


def test_visitor_lines_do_not_name_operator_settings():
    """A limit's message names its GRAPHCONV_* setting for the CLI's operator; a visitor reads the limit only."""
    from core.training.cost import BudgetError  # noqa: F401  (the messages below are the cost check's and the worker's)

    assert (
        without_paths("over the 3 min a run (GRAPHCONV_RUN_SECONDS): choose fewer epochs")
        == "over the 3 min a run: choose fewer epochs"
    )
    assert (
        without_paths("stopped: reached the time limit of 600 s (GRAPHCONV_RUN_WALL_S)")
        == "stopped: reached the time limit of 600 s"
    )
    assert (
        without_paths("Run the app with `GRAPHCONV_QUICK=0` for full runs")
        == "Run the app with a server setting for full runs"
    )
    assert "GRAPHCONV" not in without_paths("GRAPHCONV_CPUS: must be a positive whole number")
