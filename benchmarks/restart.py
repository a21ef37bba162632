"""Restart benchmark: shared links outlive a server that dies and wakes on a fresh disk (issue 32).

For each store (SQLite in the data folder, and PostgreSQL when ``--postgres`` or a URL is given) it serves the app
in public mode (exact mode: a run's figures depend only on its config and seed) and, in one headless Chromium:

1. trains runs of different kinds on the Train page (a quick ChebNet, an escnn C8 net; ``--kinds`` picks);
2. copies each run's links the way a visitor does: the URL the Results page and the Playground write for it;
3. starts a fourth run (a ChebNet over more epochs) and, once an epoch of it is stored, kills the server and
   everything it started with ``kill -9``;
4. wipes the data folder (Community Cloud's fresh disk) and serves the app again on the same store setting;
5. SQLite: the store is gone with the disk. The next visitor's run takes id 1 first (an MLP), then every copied
   link is opened: it must say its run is gone or is another run, never show another run; one click on
   **Rebuild run N** trains the link's config again, and its per-epoch figures must equal the original's exactly;
6. PostgreSQL: every copied link must reopen its original run unchanged (no link notice), and the fourth run must
   be taken over by the new server, resume from its last finished epoch and finish.

It prints one line per link and a summary (or one JSON object with ``--json``). A small version runs in the suite
(``tests/browser/test_restart.py``).

    python -m benchmarks.restart                    # SQLite, then PostgreSQL on a temporary local server
    python -m benchmarks.restart --only sqlite --json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.browser_helpers import ROOT, chromium, descendants, start_app

IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
RUN_TIMEOUT_S = 600.0
# the kinds of runs whose links are copied: Train-page links (quick mode; seeds fixed so reruns are comparable)
KINDS: dict[str, str] = {
    "chebnet": "model=cheb&epochs=2&seed=0",
    "escnn": "model=escnn&group=C8&layers=2&hidden=8&epochs=1&seed=0",
    "mlp": "model=mlp&epochs=1&seed=0",
}
FOURTH = "model=cheb&epochs=6&seed=1"  # the run the server is killed in
NEXT_VISITOR = "model=mlp&epochs=1&seed=7"  # trained first on the fresh SQLite disk: it becomes run 1


def _open_store(store_url: str | None, data: Path):
    from core.training.store import store_at

    return store_at(store_url or str(data / "runs.db"))


def _figures(store, run_id: int) -> list[tuple[float, float]]:
    return [(e["train_loss"], e["test_accuracy"]) for e in store.epochs(run_id)]


def _wait_status(store, run_id: int, statuses: tuple[str, ...], timeout: float = RUN_TIMEOUT_S) -> str:
    deadline = time.monotonic() + timeout
    while True:
        run = store.run(run_id)
        if run is not None and run.status in statuses:
            return run.status
        if time.monotonic() > deadline:
            raise TimeoutError(f"run {run_id} did not reach {statuses} in {timeout:g} s ({run and run.status})")
        time.sleep(0.25)


def _train(page, url: str, query: str) -> int:
    """Press Start on the Train page set up by ``query``; the id of the run it shows."""
    page.goto(f"{url}/train?{query}")
    page.wait_for_selector(IDLE)
    page.get_by_role("button", name="Start").first.click()
    page.wait_for_function("() => new URLSearchParams(location.search).has('run')")
    return int(page.evaluate("() => new URLSearchParams(location.search).get('run')"))


def _copied(page, url: str, path: str) -> str:
    """The link a visitor copies from page ``path`` once it has drawn (the path and query the page wrote)."""
    page.goto(f"{url}{path}")
    page.wait_for_selector(IDLE)
    page.wait_for_function("() => new URLSearchParams(location.search).has('run_defs')", timeout=60_000)
    return page.evaluate("() => location.pathname + location.search")


def _shown_ids(page) -> list[int]:
    """The run ids the page's URL names now (``run``, ``pg_runs``): the runs it shows."""
    raw = page.evaluate(
        "() => { const q = new URLSearchParams(location.search); return (q.get('run') || q.get('pg_runs') || ''); }"
    )
    return [int(p) for p in str(raw).split(",") if p.strip().isdigit()]


def _text(page) -> str:
    return " ".join(page.locator('[data-testid="stMain"]').inner_text().split())


def _kill_tree(server) -> int:
    """``kill -9`` of the server and everything it started (its forkserver and workers): a crashed container."""
    pids = [server.pid, *descendants(server.pid)]
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    server.wait(10)
    return len(pids)


def scenario(kind: str, store_url: str | None, kinds: list[str], log_dir: Path) -> dict[str, Any]:
    """One store's run of the benchmark (see the module's docstring); a dict of what was seen."""
    from playwright.sync_api import sync_playwright

    data = Path(tempfile.mkdtemp(prefix=f"graphconv-restart-{kind}-"))
    env = {
        "GRAPHCONV_QUICK": "1",
        "GRAPHCONV_PUBLIC": "1",  # exact mode, and the public limits
        "GRAPHCONV_DATA_DIR": str(data),
        "GRAPHCONV_STARTER": "0",
        "GRAPHCONV_STORE_URL": store_url or "",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # this process reads the same store (put back at the end)
    out: dict[str, Any] = {"store": kind, "links": []}
    server = None
    logs = [open(log_dir / f"{kind}-server-{i}.log", "w") for i in (1, 2)]  # noqa: SIM115 - closed below
    try:
        with sync_playwright() as pw:
            browser, page = chromium(pw)
            try:
                server, url = start_app(ROOT, env, log=logs[0], timeout=120)
                store = _open_store(store_url, data)
                originals: dict[str, dict[str, Any]] = {}
                for name in kinds:
                    run_id = _train(page, url, KINDS[name])
                    _wait_status(store, run_id, ("finished",))
                    originals[name] = {"id": run_id, "figures": _figures(store, run_id)}
                    originals[name]["links"] = [
                        _copied(page, url, f"/results?run={run_id}"),
                        _copied(page, url, f"/playground?pg_runs={run_id}"),
                    ]
                fourth = _train(page, url, FOURTH)
                deadline = time.monotonic() + RUN_TIMEOUT_S
                while len(store.epochs(fourth)) < 2 and time.monotonic() < deadline:
                    time.sleep(0.1)
                out["fourth_epochs_before_kill"] = len(store.epochs(fourth))
                out["killed_processes"] = _kill_tree(server)
                server = None
                shutil.rmtree(data)  # the fresh disk
                data.mkdir()
                t0 = time.monotonic()
                server, url = start_app(ROOT, env, log=logs[1], timeout=120)
                out["restart_s"] = round(time.monotonic() - t0, 1)
                store = _open_store(store_url, data)
                if store_url is None:
                    _after_wipe_sqlite(page, url, store, originals, out)
                else:
                    _after_restart_postgres(page, url, store, originals, fourth, out)
            finally:
                browser.close()
    finally:
        if server is not None:
            _kill_tree(server)
        for f in logs:
            f.close()
        shutil.rmtree(data, ignore_errors=True)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    out["wrong_run_shown"] = sum(1 for link in out["links"] if link.get("wrong_run_shown"))
    return out


def _after_wipe_sqlite(page, url: str, store, originals: dict, out: dict) -> None:
    """Every copied link says its run is gone (the next visitor's run 1 is not shown for it); one Rebuild click
    trains the link's config again, and the rebuilt run's figures equal the original's."""
    visitor = _train(page, url, NEXT_VISITOR)  # run 1 on the fresh disk: another run under the links' ids
    _wait_status(store, visitor, ("finished",))
    for name, original in originals.items():
        for link in original["links"]:
            page.goto(f"{url}{link}")
            page.wait_for_selector(IDLE)
            text = _text(page)
            shown = _shown_ids(page)
            gone = "is another run" in text or "is not on this server" in text  # and the page shows no run for it
            row: dict[str, Any] = {
                "kind": name,
                "link": link.split("&run_defs=")[0] + "&run_defs=…",
                "said_gone": gone,
                "said_reused": "shown here" in text,  # after its Rebuild: the rebuilt run, said so
                "shows": shown,
                "wrong_run_shown": visitor in shown and not gone,  # the visitor's run 1 shown as the link's
            }
            if link.startswith("/results"):  # rebuild from the Results link (the Playground's is the same run)
                button = page.get_by_role("button", name=f"Rebuild run {original['id']}")
                row["rebuild_offered"] = button.count() == 1
                if row["rebuild_offered"]:
                    before = {r.id for r in store.runs()}
                    t0 = time.monotonic()
                    button.click()
                    deadline = time.monotonic() + 60
                    while not ({r.id for r in store.runs()} - before) and time.monotonic() < deadline:
                        time.sleep(0.1)
                    (rebuilt,) = {r.id for r in store.runs()} - before
                    _wait_status(store, rebuilt, ("finished", "failed", "stopped", "interrupted"))
                    row["rebuilt_run"] = rebuilt
                    row["rebuild_s"] = round(time.monotonic() - t0, 1)
                    row["figures_equal"] = _figures(store, rebuilt) == original["figures"]
                    row["original_figures"] = original["figures"]
                    row["rebuilt_figures"] = _figures(store, rebuilt)
            out["links"].append(row)


def _after_restart_postgres(page, url: str, store, originals: dict, fourth: int, out: dict) -> None:
    """Every copied link reopens its original run unchanged; the fourth run resumes and finishes."""
    for name, original in originals.items():
        for link in original["links"]:
            page.goto(f"{url}{link}")
            page.wait_for_selector(IDLE)
            text = _text(page)
            notice = any(
                s in text for s in ("is another run", "is not on this server", "shown here", "cannot be checked")
            )
            run = store.run(original["id"])
            shown = _shown_ids(page)
            out["links"].append(
                {
                    "kind": name,
                    "link": link.split("&run_defs=")[0] + "&run_defs=…",
                    "reopened": run is not None and not notice and shown == [original["id"]],
                    "figures_unchanged": run is not None and _figures(store, run.id) == original["figures"],
                    "shows": shown,
                    "wrong_run_shown": shown != [original["id"]],
                }
            )
    status = _wait_status(store, fourth, ("finished", "failed", "stopped", "interrupted"))
    from core.training.resume import resume_note

    out["fourth_run"] = {
        "status": status,
        "epochs": len(store.epochs(fourth)),
        "note": resume_note(store, fourth),
        "equals_uninterrupted": _figures(store, fourth) == _uninterrupted(store, fourth),
    }


def _uninterrupted(store, run_id: int) -> list[tuple[float, float]]:
    """The figures of the same config and seed trained again without a kill (worker processes in exact mode, as the
    app trains; the Train page would reuse the finished run instead)."""
    from core.training.runner import RunManager
    from core.training.runs import RunConfig

    manager = RunManager(store=store, max_concurrent=1)
    try:
        again = manager.submit(RunConfig.from_dict(store.require_run(run_id).config))
        manager.wait(again, timeout=RUN_TIMEOUT_S)
    finally:
        manager.close()
    return _figures(store, again)


def _start_postgres():
    from tests.core.training.postgres_server import PostgresServer, find_bindir

    bindir = find_bindir()
    if bindir is None:
        raise SystemExit("PostgreSQL binaries not found: apt-get install postgresql (bash run.sh test does)")
    return PostgresServer(bindir).start()


def run(only: str = "both", kinds: list[str] | None = None, store_url: str | None = None) -> dict[str, Any]:
    kinds = kinds or ["chebnet", "escnn"]
    log_dir = Path(tempfile.mkdtemp(prefix="graphconv-restart-logs-"))
    report: dict[str, Any] = {"kinds": kinds, "logs": str(log_dir), "scenarios": []}
    if only in ("both", "sqlite"):
        report["scenarios"].append(scenario("sqlite", None, kinds, log_dir))
    if only in ("both", "postgresql"):
        server = None if store_url else _start_postgres()
        try:
            url = store_url if server is None else server.create_database()
            report["scenarios"].append(scenario("postgresql", url, kinds, log_dir))
        finally:
            if server is not None:
                server.stop()
    return report


def _lines(report: dict[str, Any]) -> list[str]:
    lines = [f"kinds trained: {', '.join(report['kinds'])}; server logs in {report['logs']}"]
    for s in report["scenarios"]:
        lines.append(
            f"[{s['store']}] killed {s.get('killed_processes')} processes with kill -9 after "
            f"{s.get('fourth_epochs_before_kill')} epochs of the fourth run; served again in {s.get('restart_s')} s"
        )
        for link in s["links"]:
            shown = {k: v for k, v in link.items() if k not in ("link", "original_figures", "rebuilt_figures")}
            lines.append(f"  {link['link']}: {shown}")
        if "fourth_run" in s:
            lines.append(f"  fourth run after the restart: {s['fourth_run']}")
        lines.append(f"  links that opened a different run than they name: {s['wrong_run_shown']}")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--only", choices=("both", "sqlite", "postgresql"), default="both")
    ap.add_argument("--kinds", default="chebnet,escnn", help=f"comma-separated, of {', '.join(KINDS)}")
    ap.add_argument("--store-url", default=None, help="a PostgreSQL URL (default: a temporary local server)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    report = run(args.only, [k for k in args.kinds.split(",") if k], args.store_url)
    print(json.dumps(report) if args.json else "\n".join(_lines(report)))


if __name__ == "__main__":
    main()
