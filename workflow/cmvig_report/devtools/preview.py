"""Live preview in the browser: ``python -m cmvig_report preview``.

The watcher (:mod:`.watch`) re-renders the manuscript's HTML when a template, a result, the
metadata or the config is saved; this module serves the latest render on
``http://127.0.0.1:8000/`` and makes the open page reload itself, as MkDocs' ``serve`` does:
each render moves a build counter (the epoch), and a small script in the served page long-polls
``/livereload/<epoch>``, which answers once the epoch has moved. The script is added to the page
as it is sent, never to report/preview.html.

A request for the page waits for a render in progress, so a half-built page is never served. A
render that failed (a template error with its file and line, a leak-check hit, a config error)
replaces the page with an error page showing the message; the next good render reloads it.
Only the HTML is rendered (WeasyPrint's layout is where a PDF's time goes) unless ``--pdf``.
The server is the standard library's and listens on the loopback interface only.
"""

from __future__ import annotations

import contextlib
import html
import re
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

from .. import paths
from ..core import settings
from .watch import BuildConfig, require_results, watch

HOST = "127.0.0.1"
# A long-poll answers at the latest after this many seconds (the page then asks again), so a
# request never outlives the server by long.
POLL_SECONDS = 20.0
# Waiting for a render in progress; a render takes well under this.
RENDER_WAIT_SECONDS = 60.0

RELOAD_SCRIPT = """<script>/* cmvig_report preview: reload when the manuscript is rendered */
(function () {
  var epoch = %d;
  function poll() {
    fetch("/livereload/" + epoch, {cache: "no-store"})
      .then(function (r) { return r.text(); })
      .then(function (t) {
        if (t.trim() !== String(epoch)) { location.reload(); } else { poll(); }
      })
      .catch(function () { setTimeout(poll, 1000); });
  }
  poll();
})();
</script>"""

ERROR_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Preview not rendered</title>
<style>body{{font-family:sans-serif;margin:2em auto;max-width:60em;padding:0 1em}}
h1{{color:#a00;font-size:1.4em}}pre{{background:#fbeaea;border-left:4px solid #a00;
padding:1em;white-space:pre-wrap;font-size:1.05em}}</style></head>
<body><h1>The manuscript was not rendered</h1>
<p>The last save could not be rendered, so no page is shown. Fix the problem below and save;
this page reloads itself.</p>
<pre>{message}</pre></body></html>"""


class Preview:
    """What the watcher hands the request handlers: the page of the last render (or the error
    of a failed one), its epoch, and whether a render is in progress."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.epoch = 0
        self.rendering = True  # the first render starts with the server
        self.page = ""
        self.error: str | None = None
        self.closed = False

    def started(self) -> None:
        """A render began: page requests wait for it."""
        with self._cond:
            self.rendering = True

    def show(self, page: str) -> None:
        """A render succeeded: serve ``page`` from now on."""
        self._finish(page, None)

    def fail(self, message: str) -> None:
        """A render failed: serve an error page with ``message`` instead of the manuscript."""
        self._finish("", message)

    def _finish(self, page: str, error: str | None) -> None:
        with self._cond:
            self.page, self.error = page, error
            self.epoch += 1
            self.rendering = False
            self._cond.notify_all()

    def close(self) -> None:
        """The server stops: release every waiting request."""
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def current(self, timeout: float = RENDER_WAIT_SECONDS) -> tuple[int, str, str | None]:
        """The epoch, the page and the error, once no render is in progress."""
        with self._cond:
            self._cond.wait_for(lambda: not self.rendering or self.closed, timeout)
            return self.epoch, self.page, self.error

    def after(self, epoch: int, timeout: float = POLL_SECONDS) -> int:
        """The epoch once it is no longer ``epoch`` (or ``epoch`` after ``timeout``)."""
        with self._cond:
            self._cond.wait_for(lambda: self.epoch != epoch or self.closed, timeout)
            return self.epoch


def served_page(page: str, error: str | None, epoch: int) -> str:
    """The page as sent: the manuscript, or the error page, with the reload script."""
    text = ERROR_PAGE.format(message=html.escape(error)) if error is not None else page
    script = RELOAD_SCRIPT % epoch
    end = text.lower().rfind("</body>")
    return text + script if end < 0 else text[:end] + script + text[end:]


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # an open long-poll does not keep the process alive
    preview: Preview
    pdf: str | None


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 -- the name http.server calls
        port = self.server.server_address[1]
        if self.headers.get("Host") not in (f"{HOST}:{port}", f"localhost:{port}"):
            self._send(403, "text/plain", b"this preview answers on its loopback address only")
            return
        path = urlsplit(self.path).path
        preview = self.server.preview
        if path in ("/", "/index.html"):
            epoch, page, error = preview.current()
            body = served_page(page, error, epoch).encode("utf-8")
            self._send(200 if error is None else 500, "text/html; charset=utf-8", body)
        elif match := re.fullmatch(r"/livereload/(\d+)", path):
            epoch = preview.after(int(match.group(1)))
            self._send(200, "text/plain", str(epoch).encode())
        elif path == "/preview.pdf" and self.server.pdf and Path(self.server.pdf).is_file():
            _, _, error = preview.current()  # a failed render deleted or kept no PDF to show
            if error is not None:
                self._send(409, "text/plain", error.encode("utf-8"))
            else:
                self._send(200, "application/pdf", Path(self.server.pdf).read_bytes())
        else:
            self._send(404, "text/plain", b"not found: the manuscript is at /")

    def _send(self, status: int, kind: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the tab was closed
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # one line per long-poll would bury the watcher's messages


def serve(args: dict[str, Any], *, port: int = 8000, stop: threading.Event | None = None,
          leak_check: dict[str, Any] | None = None, interval: float = 0.1,
          settle: float = 0.05, config_files: list[Path] | None = None,
          reconfigure: Callable[[], tuple[dict[str, Any], dict[str, Any] | None]] | None = None,
          on_ready: Callable[[str], None] | None = None,
          on_render: Callable[[float, list[str] | None], None] | None = None,
          out: TextIO = sys.stderr) -> None:
    """Serve the preview on ``http://127.0.0.1:<port>/`` (0: any free port) until ``stop`` is
    set or Ctrl-C, re-rendering with :func:`.watch.watch` (same arguments). ``on_ready``
    receives the address once the server listens."""
    require_results(args)
    preview = Preview()
    stop = stop or threading.Event()
    server = _Server((HOST, port), _Handler)
    server.preview, server.pdf = preview, args.get("pdf")
    html_path = Path(args["html"])
    failure: list[BaseException] = []

    def rendered(took: float, notes: list[str] | None) -> None:
        if notes is not None:
            preview.show(html_path.read_text(encoding="utf-8"))
        if on_render is not None:
            on_render(took, notes)

    def run_watcher() -> None:
        try:
            watch(args, interval=interval, settle=settle, stop=stop, on_start=preview.started,
                  on_error=preview.fail, on_render=rendered, out=out, leak_check=leak_check,
                  config_files=config_files, reconfigure=reconfigure)
        except BaseException as exc:  # noqa: BLE001 -- handed to the main thread below
            failure.append(exc)
        finally:
            stop.set()

    watcher = threading.Thread(target=run_watcher, name="preview-watcher", daemon=True)
    listener = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                name="preview-server", daemon=True)
    watcher.start()
    listener.start()
    url = f"http://{HOST}:{server.server_address[1]}/"
    print(f"[preview] serving {url} (Ctrl-C to stop)", file=out, flush=True)
    if on_ready is not None:
        on_ready(url)
    try:
        while not stop.wait(0.2):
            pass
    finally:
        stop.set()
        preview.close()
        server.shutdown()
        server.server_close()
        watcher.join(timeout=RENDER_WAIT_SECONDS)
        listener.join(timeout=5)
    if failure:
        raise failure[0]


def run_preview(configfile: list[str], config: list[str], port: int, pdf: bool,
                interval: float) -> list[str]:
    """``python -m cmvig_report preview``: serve from the project directory until Ctrl-C, with
    the configuration ``snakemake`` would use given the same ``--configfile`` and ``--config``
    (read again when one of the config files is saved)."""
    build = BuildConfig(".", configfile, config)
    if warning := settings.study_warning(build.load()):
        print(warning, file=sys.stderr, flush=True)
    pdf_path = paths.PREVIEW_PDF if pdf else None
    args, leak_check = build.arguments(paths.PREVIEW_HTML, pdf_path)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how the user stops it
        serve(args, port=port, leak_check=leak_check, interval=interval,
              config_files=build.files,
              reconfigure=lambda: build.arguments(paths.PREVIEW_HTML, pdf_path))
    return []
