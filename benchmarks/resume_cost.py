"""What durable runs cost (issue 32, part 2): the resume point a worker saves after every epoch, in time and bytes.

For the default quick ChebNet and a quick CNN, trains the same run twice in this process, as a worker does
(``core.training.worker.execute_reporting`` on a SQLite run store in a fresh temporary folder, one thread: exact
mode): once without per-epoch saves and once with them (``core.training.resume.EpochSaver``, as a worker saves).
Reports each epoch's mean time (the epoch rows' ``seconds``: training and its test pass; with saves it includes any
wait for the store's write lock while the writer thread holds it), the bytes of one save, the training thread's
time per save (serialising the resume point with ``torch.save``; the writer thread stores it while the next epoch
trains), the writer thread's time per save (the store's write, its lock held meanwhile), and the whole run's wall
clock with and without saves (noisier: it includes the data, the model and the end of the run, where the last point
is waited for). Prints a table, or one JSON object with ``--json``.

On a shared machine the figures are rough: run it when nothing else is timing.

    python -m benchmarks.resume_cost               # 3 epochs per run
    python -m benchmarks.resume_cost --epochs 2 --json
    python -m benchmarks.resume_cost --postgres    # and in a PostgreSQL store (a temporary local server)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

MODELS = {"quick ChebNet (default)": {"model": "cheb"}, "quick CNN": {"model": "cnn"}}


def train(
    settings: dict[str, Any], epochs: int, save: bool, folder: Path, store_url: str | None = None
) -> dict[str, Any]:
    """One run of ``settings`` in a fresh store under ``folder`` (or in the PostgreSQL store at ``store_url``): its
    epoch times, and its saves' when ``save``."""
    from core.training.resume import EpochSaver
    from core.training.runs import RunConfig
    from core.training.store import RunStore, store_at
    from core.training.trainer import saving_each_epoch
    from core.training.worker import execute_reporting

    cfg = RunConfig.make(**settings, quick=True, device="cpu", epochs=epochs, seed=0)
    store = store_at(store_url) if store_url else RunStore(folder / "runs.db")
    run_id = store.create_run(cfg.to_dict(), name=cfg.label())
    saver = EpochSaver(store, run_id)
    t0 = time.perf_counter()
    with saving_each_epoch(saver, None, saver.flush) if save else nullcontext():
        out = execute_reporting(cfg, store, run_id, exact=True, save_each_epoch=False)  # saves: the block above
    wall = time.perf_counter() - t0
    saver.close()
    assert out["status"] == "finished", out
    handed = epochs if save else 0  # fit hands over a point after every epoch
    return {
        "epoch_s": statistics.mean(float(row["seconds"]) for row in out["epochs"]),
        "wall_s": wall,
        "saves": saver.saves,
        "bytes": saver.bytes,
        "training_thread_s": saver.seconds / handed if handed else 0.0,
        "write_s": saver.write_seconds / saver.saves if saver.saves else 0.0,
        "parameters": out["parameters"],
        "label": cfg.label(),
    }


def measure(epochs: int, store_url: str | None = None) -> dict[str, Any]:
    """Each model without, then with, per-epoch saves: the figures of the module docstring; with ``store_url`` (a
    PostgreSQL store) the run with saves again in that store, against the SQLite run without saves."""
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="graphconv-resume-cost-") as tmp:
        os.environ["GRAPHCONV_DATA_DIR"] = str(Path(tmp) / "data")  # caches and checkpoints of these runs only
        for name, settings in MODELS.items():
            plain = train(settings, epochs, save=False, folder=Path(tmp) / f"{settings['model']}-plain")
            saved = train(settings, epochs, save=True, folder=Path(tmp) / f"{settings['model']}-saved")
            results[name] = {
                "run": saved["label"],
                "parameters": saved["parameters"],
                "epoch_s_without": round(plain["epoch_s"], 3),
                "epoch_s_with": round(saved["epoch_s"], 3),
                "training_thread_s": round(saved["training_thread_s"], 4),
                "write_s": round(saved["write_s"], 4),
                "bytes_per_save": saved["bytes"],
                "training_thread_share": round(saved["training_thread_s"] / plain["epoch_s"], 4),
                "epoch_change": round(saved["epoch_s"] / plain["epoch_s"] - 1, 4),
                "wall_s_without": round(plain["wall_s"], 2),
                "wall_s_with": round(saved["wall_s"], 2),
                "saves": saved["saves"],
            }
            if store_url:
                pg = train(settings, epochs, save=True, folder=Path(tmp) / "pg", store_url=store_url)
                results[name]["epoch_s_postgres_with"] = round(pg["epoch_s"], 3)
                results[name]["postgres_change"] = round(pg["epoch_s"] / plain["epoch_s"] - 1, 4)
                results[name]["postgres_write_s"] = round(pg["write_s"], 4)
    return {"epochs": epochs, "threads": 1, "cpus": os.cpu_count(), "models": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="epochs per run (default 3)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--postgres",
        nargs="?",
        const="local",
        default=None,
        help="also train with saves in a PostgreSQL store: a URL, or none for a temporary local server",
    )
    args = parser.parse_args()
    server = None
    url = args.postgres
    if url == "local":
        from tests.core.training.postgres_server import PostgresServer, find_bindir

        bindir = find_bindir()
        if bindir is None:
            raise SystemExit("PostgreSQL binaries not found: apt-get install postgresql")
        server = PostgresServer(bindir).start()
        url = server.create_database()
    try:
        figures = measure(max(1, args.epochs), url)
    finally:
        if server is not None:
            server.stop()
    if args.json:
        print(json.dumps(figures))
        return
    print(f"per-epoch resume point, {figures['epochs']} epochs per run, 1 thread, {figures['cpus']} CPUs")
    for name, m in figures["models"].items():
        print(
            f"{name} ({m['parameters']:,} parameters): epoch {m['epoch_s_without']:.2f} s without saves, "
            f"{m['epoch_s_with']:.2f} s with ({m['epoch_change']:+.1%}); a save: "
            f"{m['bytes_per_save'] / 2**20:.1f} MiB, {m['training_thread_s'] * 1000:.0f} ms of the training thread "
            f"({m['training_thread_share']:.1%} of an epoch), {m['write_s'] * 1000:.0f} ms of the writer thread "
            f"(the store's write lock held); whole run {m['wall_s_without']:.1f} s without, "
            f"{m['wall_s_with']:.1f} s with"
            + (
                f"; PostgreSQL store with saves: epoch {m['epoch_s_postgres_with']:.2f} s "
                f"({m['postgres_change']:+.1%} against SQLite without saves), "
                f"a write {m['postgres_write_s'] * 1000:.0f} ms"
                if "postgres_change" in m
                else ""
            )
        )


if __name__ == "__main__":
    main()
