"""What the measuring scripts and the browser tests share: the one app launcher (``start_app``: a free port, a
healthy Streamlit server), headless Chromium, and the memory (PSS) of a process tree."""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[1]  # the checkout whose app.py is served by default


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, timeout: float | None = None) -> None:
    """Block until the Streamlit server at ``url`` answers its health check (``TimeoutError`` after ``timeout`` s)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                return
        except OSError:
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not answer its health check within {timeout:g} s") from None
            time.sleep(0.2)


def chromium(playwright, timeout_ms: int = 300_000):
    """(browser, page): Debian's headless Chromium, one 1400x1000 page with a long default timeout."""
    browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(timeout_ms)
    return browser, page


def start_app(
    root: Path | str = ROOT,
    env: dict | None = None,
    log: IO | None = None,
    timeout: float | None = None,
    prefix: Sequence[str] = (),
    wait: bool = True,
):
    """(server process, url): ``streamlit run app.py`` from ``root`` on a free local port, healthy when returned.

    The one way the app is served for the measuring scripts and the browser tests (``tests/browser``).
    ``env``: variables set over this process's environment (GRAPHCONV_DATA_DIR, GRAPHCONV_QUICK, ...).
    ``log``: an open file for the server's stdout and stderr (default: discarded). ``timeout``: seconds to
    wait for its health check (default: no limit); past it the server is killed and ``TimeoutError`` raised.
    ``prefix``: a command the server runs under, e.g. ``["taskset", "-c", "0"]``. ``wait=False`` returns as
    soon as the process has started (call ``wait_healthy(url)`` then). Stop it with
    ``server.terminate(); server.wait(10)``."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            *prefix,
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--server.address",
            "127.0.0.1",
        ],
        cwd=root,
        env={**os.environ, **(env or {})},
        stdout=log or subprocess.DEVNULL,
        stderr=subprocess.STDOUT if log else subprocess.DEVNULL,
    )
    if not wait:
        return server, url
    try:
        wait_healthy(url, timeout)
    except BaseException:
        server.kill()
        server.wait(10)
        raise
    return server, url


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (children, their children, ...), from /proc; [] once it is gone."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/task/{p}/children") as f:
                kids = [int(c) for c in f.read().split()]
        except OSError:
            continue
        found += kids
        todo += kids
    return found


def pss_kb(pid: int) -> int:
    """Proportional set size of one process (``Pss`` in /proc/PID/smaps_rollup), kB; 0 when it is gone.

    Pages shared between processes (torch in a forkserver and the workers forked from it) are split
    between them, so the sum over a process tree counts each page once."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            return next((int(line.split()[1]) for line in f if line.startswith("Pss:")), 0)
    except OSError:
        return 0


class PssSampler(threading.Thread):
    """Samples the PSS of ``pid`` and of all its descendants every ``every_s`` seconds, in a daemon thread.

    ``peak_total_kb``: the largest sum over the tree; ``peak_own_kb``: the largest of ``pid`` alone;
    ``samples``: how many samples were taken. Call ``stop()`` to end it."""

    def __init__(self, pid: int, every_s: float = 0.25):
        super().__init__(daemon=True, name="pss-sampler")
        self.pid, self.every_s = pid, every_s
        self.peak_total_kb = self.peak_own_kb = self.samples = self.max_processes = 0
        self._halt = threading.Event()

    def sample(self) -> None:
        own = pss_kb(self.pid)
        kids = descendants(self.pid)
        total = own + sum(pss_kb(p) for p in kids)
        self.peak_own_kb, self.peak_total_kb = max(self.peak_own_kb, own), max(self.peak_total_kb, total)
        self.max_processes = max(self.max_processes, 1 + len(kids))
        self.samples += 1

    def run(self) -> None:
        while not self._halt.is_set():
            self.sample()
            self._halt.wait(self.every_s)

    def stop(self) -> None:
        self._halt.set()
        self.join(5)


def six_strokes(x0: float, y0: float, size: float) -> list[list[tuple[float, float]]]:
    """A '6' in canvas coordinates: a stem curving down into a closed loop at the bottom."""
    stem = [(x0 + size * (0.62 - 0.3 * t), y0 + size * (0.12 + 0.5 * t)) for t in [i / 12 for i in range(13)]]
    cx, cy, r = x0 + size * 0.47, y0 + size * 0.66, size * 0.2
    loop = [(cx + r * math.cos(a), cy + r * math.sin(a)) for a in [math.pi + 2 * math.pi * i / 24 for i in range(26)]]
    return [stem, loop]


def draw_six(page, canvas) -> None:
    """Draw ``six_strokes`` on ``canvas`` (a Playwright locator) with the mouse, as a person does."""
    box = canvas.bounding_box()
    for stroke in six_strokes(box["x"], box["y"], box["width"]):
        page.mouse.move(*stroke[0])
        page.mouse.down()
        for p in stroke[1:]:
            page.mouse.move(*p, steps=2)
        page.mouse.up()


# Streamlit scrolls its own container, not the document, so Playwright's full_page shot is only the first screen:
# the height the page needs is the scroll height of the container that scrolls.
PAGE_HEIGHT_JS = """() => Math.max(document.documentElement.scrollHeight,
  ...[...document.querySelectorAll('[data-testid="stAppViewContainer"], [data-testid="stMain"], section, div')]
     .filter(e => e.scrollHeight > e.clientHeight + 2 && ['auto', 'scroll'].includes(getComputedStyle(e).overflowY))
     .map(e => e.scrollHeight + e.getBoundingClientRect().top))"""


def screenshot(pg, path, full_page: bool = True) -> None:
    """A screenshot of ``pg``; ``full_page``: the viewport grown to the page's whole height for it, then put back."""
    if not full_page:
        pg.screenshot(path=str(path))
        return
    size = pg.viewport_size
    height = int(pg.evaluate(PAGE_HEIGHT_JS))
    if height > size["height"] + 4:
        pg.set_viewport_size({"width": size["width"], "height": min(height + 40, 12_000)})
        pg.wait_for_timeout(1500)  # charts re-lay out to the new size
    try:
        pg.screenshot(path=str(path), full_page=True)
    finally:
        pg.set_viewport_size(size)
        pg.wait_for_timeout(300)
