"""The restart benchmark, small (``benchmarks/restart.py``): a served app in public mode trains a run, its copied
links are kept, the server's process tree is killed with ``kill -9`` during a fourth run, the data folder is wiped,
and the app is served again.

- SQLite (the disk went with the server): no link shows the next visitor's run 1 as its own; each says its run is
  gone, and Rebuild trains the link's config again with per-epoch figures equal to the original's.
- PostgreSQL (a real local server): every link reopens its run unchanged, and the fourth run is taken over by the
  new server, resumes and finishes equal to an uninterrupted run.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.restart import run
from tests.browser.conftest import CHROMIUM


def test_after_a_wipe_links_say_their_run_is_gone_and_rebuild_it_exactly():
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: `bash run.sh test` installs Debian's chromium"
    (s,) = run("sqlite", ["mlp"])["scenarios"]
    assert s["killed_processes"] >= 2 and s["fourth_epochs_before_kill"] >= 1, s  # killed mid-run, workers too
    assert s["wrong_run_shown"] == 0, s
    results, playground = s["links"]
    assert results["said_gone"] and results["rebuild_offered"], s
    assert results["figures_equal"] and len(results["rebuilt_figures"]) == 1, s
    assert playground["said_reused"] and playground["shows"] == [results["rebuilt_run"]], s


def test_with_postgresql_links_reopen_their_runs_and_the_killed_run_resumes():
    from tests.core.training.postgres_server import shared_server

    url = shared_server().create_database()
    (s,) = run("postgresql", ["mlp"], store_url=url)["scenarios"]
    assert s["wrong_run_shown"] == 0, s
    assert all(link["reopened"] and link["figures_unchanged"] for link in s["links"]) and len(s["links"]) == 2, s
    fourth = s["fourth_run"]
    assert fourth["status"] == "finished" and fourth["epochs"] == 6, s
    assert fourth["note"].startswith("resumed from epoch") and fourth["equals_uninterrupted"], s
