"""Run the dashboard in a real server and drive it with the system's Chromium (browser tests, `scripts/bench_app.py`).

Nothing downloads a browser: Playwright is pointed at Chromium from the operating system
(`chromium` on Debian), found on PATH or through `THISINEQ_CHROMIUM`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from thisineq.artifacts import REPO_ROOT


def chromium_path() -> str | None:
    """The system Chromium, or None where there is none."""
    for candidate in (os.environ.get("THISINEQ_CHROMIUM"), shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_app(*, env: dict[str, str] | None = None, timeout: float = 90.0) -> Iterator[str]:
    """Start `streamlit run streamlit_app.py` on a free port; yield its URL; stop it afterwards."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(REPO_ROOT / "streamlit_app.py"),
        "--server.headless",
        "true",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--browser.gatherUsageStats",
        "false",
    ]
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"the app exited with {process.returncode}: {process.stdout.read().decode(errors='replace')[-2000:]}"
                )
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"the app did not answer on {url} within {timeout:.0f} s")
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


IDLE = """ready => {
    const app = document.querySelector('[data-testid="stApp"]');
    return !!app && app.getAttribute('data-test-script-state') === 'notRunning'
        && !document.querySelector('[data-testid="stSkeleton"]') && !!document.querySelector(ready);
}"""
SETTLED = """ready => !document.querySelector('[data-testid="stSkeleton"]') && !!document.querySelector(ready)"""


def wait_for_app(page, timeout_ms: float = 60000, settle_s: float = 0.6, ready: str = '[data-testid="stMain"] h1') -> None:
    """Wait until Streamlit has run the page's script and `ready` is on screen, and still is a moment later
    (a page with a timed fragment, like the kiosk, reruns forever)."""
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        page.wait_for_function(IDLE, arg=ready, timeout=max(1.0, (deadline - time.monotonic()) * 1000))
        time.sleep(settle_s)
        if page.evaluate(SETTLED, ready):
            return
        if time.monotonic() > deadline:
            raise TimeoutError("the page did not settle")
