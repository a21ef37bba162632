"""What the measuring scripts share: a free port, waiting for a Streamlit server, headless Chromium."""

from __future__ import annotations

import socket
import time
import urllib.request


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str) -> None:
    """Block until the Streamlit server at ``url`` answers its health check."""
    while True:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                return
        except OSError:
            time.sleep(0.2)


def chromium(playwright, timeout_ms: int = 300_000):
    """(browser, page): Debian's headless Chromium, one 1400x1000 page with a long default timeout."""
    browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(timeout_ms)
    return browser, page


def start_app(root, env: dict | None = None):
    """(server process, url): ``streamlit run app.py`` from ``root`` on a free local port, healthy when returned.

    Stop it with ``server.terminate(); server.wait(10)``."""
    import os
    import subprocess
    import sys

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                               "--server.headless", "true", "--server.address", "127.0.0.1"], cwd=root,
                              env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_healthy(url)
    except BaseException:
        server.kill()
        raise
    return server, url
