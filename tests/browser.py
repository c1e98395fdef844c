"""A headless Chromium driven over the Chrome DevTools Protocol (websocket-client), for the
live-preview tests and the benchmark: open a page, wait for it to load again, read its text,
take a screenshot. Nothing here reaches beyond the loopback interface."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--no-first-run", "--no-default-browser-check", "--no-proxy-server",
         "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--window-size=1000,1400", "--remote-debugging-port=0"]


def chromium() -> str | None:
    """The Chromium (or Chrome) executable on PATH, if any."""
    return next(filter(None, map(shutil.which, ("chromium", "chromium-browser",
                                                "google-chrome"))), None)


class Browser:
    """One headless browser with one tab, reached through its DevTools websocket."""

    def __init__(self, executable: str, profile: Path, timeout: float = 30) -> None:
        import websocket  # websocket-client, from the test extra

        profile.mkdir(parents=True, exist_ok=True)
        active = profile / "DevToolsActivePort"  # Chromium writes its port here
        active.unlink(missing_ok=True)  # a previous browser's
        self.proc = subprocess.Popen([executable, *FLAGS, f"--user-data-dir={profile}",
                                      "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.ws: Any = None
        try:
            self._connect(websocket, active, executable, timeout)
        except BaseException:
            self.close()
            raise

    def _connect(self, websocket: Any, active: Path, executable: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not (active.is_file() and len(active.read_text().split()) >= 2):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{executable} did not open its DevTools port")
            time.sleep(0.05)
        port = int(active.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=timeout) as r:
            tab = next(t for t in json.load(r) if t["type"] == "page")
        self.ws = websocket.create_connection(tab["webSocketDebuggerUrl"], timeout=timeout,
                                              suppress_origin=True)
        self.events: list[dict[str, Any]] = []
        self._id = 0
        self.call("Page.enable")

    def _receive(self, timeout: float) -> dict[str, Any]:
        self.ws.settimeout(timeout)
        return json.loads(self.ws.recv())

    def call(self, method: str, timeout: float = 30, **params: Any) -> dict[str, Any]:
        """Send one command and return its result; events that arrive meanwhile are kept."""
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            message = self._receive(max(deadline - time.monotonic(), 0.01))
            if message.get("id") == self._id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, event: str, timeout: float = 30) -> float:
        """Wait for ``event`` (e.g. ``Page.loadEventFired``); returns ``time.perf_counter()``
        when it arrived (or was found among the events kept earlier)."""
        for i, message in enumerate(self.events):
            if message.get("method") == event:
                del self.events[: i + 1]
                return time.perf_counter()
        self.events.clear()
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {event} within {timeout} s")
            if self._receive(left).get("method") == event:
                return time.perf_counter()

    def open(self, url: str) -> None:
        """Go to ``url`` and wait until it has loaded."""
        self.events.clear()
        self.call("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")

    def text(self) -> str:
        """The visible text of the page."""
        result = self.call("Runtime.evaluate", expression="document.body.innerText")
        return result["result"].get("value", "")

    def screenshot(self, path: Path) -> None:
        """A PNG of the visible part of the page."""
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        """Close the connection and end the browser (the one this object started)."""
        if self.ws is not None:
            self.ws.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
