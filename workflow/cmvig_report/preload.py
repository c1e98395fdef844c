"""A warm process for the pipeline's steps: import the heavy libraries once, fork per step.

Every Snakemake step is a fresh ``python -m cmvig_report`` process, and on a small cohort it
spends most of its time importing pandas, lifelines, matplotlib or WeasyPrint (0.4-0.9 s
each) around ~0.1 s of work. When a build starts, the Snakefile's ``onstart`` hook launches
this server, which imports what the scheduled steps need while the first step runs. Each step
then connects over a private Unix socket and hands over its arguments, working directory,
environment and standard streams; the server forks a child that runs the step with the
libraries already loaded. The child is a separate process with the step's own cwd,
environment and streams, so nothing carries over from one step to the next, and its exit
status becomes the step's.

Whenever the server is absent (``preload: false``, ``--no-hooks``, a dry run, Windows, a
cluster executor) or cannot take the step, the step simply runs in its own process as before.
The server exits when Snakemake does (it watches its parent) or after 10 idle minutes.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback
from typing import Any

ENV_VAR = "CMVIG_PRELOAD"
IDLE_EXIT_S = 600
ACCEPT_TIMEOUT_S = 60
# What each rule's step imports: the stage module (cli.STAGES) and the libraries it loads lazily.
RULE_MODULES = {
    "estimates": ["cmvig_report.analysis", "lifelines", "pyarrow.compute"],
    "figure1": ["cmvig_report.figures"],
    "figure2": ["cmvig_report.figures"],
    "manuscript": ["cmvig_report.report", "weasyprint"],
}
# Steps that run in their own process: the first step (it starts with the server, which could
# not be ready for it any sooner than it imports pandas itself), light ones (jinja2, hashing,
# pandoc: nothing to gain) and the live preview, which runs for as long as the user edits.
DIRECT_STAGES = {"cohort", "qmd", "docx", "provenance", "manifest", "watch"}


def supported() -> bool:
    """Fork and passing file descriptors over Unix sockets: POSIX only."""
    return hasattr(os, "fork") and hasattr(socket, "send_fds") and hasattr(socket, "AF_UNIX")


def modules_for(rules: list[str]) -> list[str]:
    """Modules to import for the given rules, in the order the pipeline runs them."""
    return list(dict.fromkeys(module for rule, modules in RULE_MODULES.items() if rule in rules
                              for module in modules))


# --------------------------------------------------------------------------------------------
# Starting and stopping (called from the Snakefile)


def start(rules: list[str] | set[str]) -> str | None:
    """Launch a server for a build that will run ``rules``; returns its socket path.

    The path is also put in the environment, which every step Snakemake starts inherits.
    """
    # The server pays off when a step can use what was imported while an earlier one ran; for
    # a lone heavy step (a template edit re-renders only the manuscript) it would only add a
    # process start-up.
    if not supported() or len(set(rules) & set(RULE_MODULES)) < 2:
        return None
    try:
        folder = tempfile.mkdtemp(prefix="cmvig-preload-")  # 0700: only this user connects
        path = os.path.join(folder, "socket")
        subprocess.Popen(
            [sys.executable, "-m", "cmvig_report.preload", path, str(os.getpid()),
             ",".join(modules_for(list(rules)))],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)  # Ctrl-C in the terminal reaches the steps, not the server
    except OSError:  # no temporary folder, no process: the steps run by themselves
        return None
    os.environ[ENV_VAR] = path
    return path


def scheduled_rules(workflow: Any) -> set[str]:
    """Names of the rules a Snakemake build is about to run (all of ours if it cannot say)."""
    try:
        return {job.rule.name for job in workflow.dag.needrun_jobs()}
    except AttributeError:  # another Snakemake's internals: preload for every step
        return set(RULE_MODULES)


def stop() -> None:
    """Ask the server of this build to exit and forget it."""
    path = os.environ.pop(ENV_VAR, None)
    if not path:
        return
    with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(2)
        sock.connect(path)
        payload = json.dumps({"shutdown": True}).encode()
        sock.sendall(struct.pack(">I", len(payload)) + payload)
    shutil.rmtree(os.path.dirname(path), ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Client (python -m cmvig_report)


def run_via_server(argv: list[str]) -> int | None:
    """Run one step in a child of the server; ``None`` when no server can take it."""
    path = os.environ.get(ENV_VAR)
    if not path or not supported() or stage_of(argv) in DIRECT_STAGES | {None}:
        return None
    try:
        sock = socket.socket(socket.AF_UNIX)
        sock.settimeout(5)
        sock.connect(path)
    except OSError:
        return None
    with sock:
        payload = json.dumps({"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ),
                              "umask": _umask()}).encode()
        try:
            # stdout and stderr; a step reads nothing from stdin, which becomes /dev/null
            socket.send_fds(sock, [struct.pack(">I", len(payload)) + payload], [1, 2])
            sock.settimeout(ACCEPT_TIMEOUT_S)  # a stuck server must not hang the build
            accepted = sock.recv(1)
            sock.settimeout(None)  # the step itself may take as long as it needs
        except OSError:
            return None
        if accepted != b"A":  # the server could not fork: run here instead
            return None
        status = _recv_exactly(sock, 4)
    if status is None:
        print("error: the step's process ended without an exit status", file=sys.stderr)
        return 1
    return struct.unpack(">i", status)[0]


def stage_of(argv: list[str]) -> str | None:
    """The stage named on a ``python -m cmvig_report`` command line (after ``--log PATH``)."""
    i = 0
    while i < len(argv):
        if argv[i] == "--log":
            i += 2
        elif argv[i].startswith("-"):
            i += 1
        else:
            return argv[i]
    return None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _recv_exactly(sock: socket.socket, n: int) -> bytes | None:
    data = b""
    while len(data) < n:
        try:
            chunk = sock.recv(n - len(data))
        except OSError:
            return None
        if not chunk:
            return None
        data += chunk
    return data


# --------------------------------------------------------------------------------------------
# Server


def serve(path: str, parent: int, modules: list[str]) -> None:
    """Accept steps until the parent (Snakemake) is gone, a shutdown arrives, or idle."""
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    listener.listen(16)
    pending = list(modules)
    children: dict[int, socket.socket] = {}
    done: set[int] = set()  # children whose exit status has been sent
    # A step's exit is reported the moment it happens, even while a long import is under way
    # (signal handlers run between bytecodes, and imports are bytecode too). The handler only
    # sends; the loop below closes the connections, so select() never sees a closed socket.
    signal.signal(signal.SIGCHLD, lambda signum, frame: _reap(children, done))
    last_activity = time.monotonic()
    while os.getppid() == parent and time.monotonic() - last_activity < IDLE_EXIT_S:
        for pid in [pid for pid in children if pid in done]:
            children.pop(pid).close()
            done.discard(pid)
        # Poll without waiting while there is still something to import.
        timeout = 0 if pending else 0.05
        readable, _, _ = select.select([listener, *children.values()], [], [], timeout)
        for item in readable:
            if item is listener:
                conn, _ = listener.accept()
                if _handle(conn, listener, children, pending) == "shutdown":
                    _kill_all(children, done)
                    return
                last_activity = time.monotonic()
            else:  # the step's client went away (e.g. Snakemake was interrupted)
                for pid, conn in list(children.items()):
                    if conn is item and pid not in done:
                        with contextlib.suppress(OSError):
                            os.kill(pid, signal.SIGTERM)
        if children:
            last_activity = time.monotonic()
        if not readable and pending:
            _import(pending.pop(0))
    _kill_all(children, done)


def _debug(message: str) -> None:
    if os.environ.get("CMVIG_PRELOAD_DEBUG"):
        with open(os.environ["CMVIG_PRELOAD_DEBUG"], "a") as fh:
            fh.write(f"{time.time():.3f} {message}\n")


def _import(module: str) -> None:
    # An import that fails here will fail again, with a proper message, in the step itself.
    _debug(f"import {module}")
    with contextlib.suppress(Exception):
        importlib.import_module(module)
    _debug(f"imported {module}")


def _handle(conn: socket.socket, listener: socket.socket, children: dict[int, socket.socket],
            pending: list[str]) -> str:
    conn.settimeout(5)
    try:
        data, fds, _, _ = socket.recv_fds(conn, 1 << 16, 2)
        size = struct.unpack(">I", data[:4])[0]
        data = data[4:]
        while len(data) < size:
            chunk = conn.recv(size - len(data))
            if not chunk:
                raise OSError("short request")
            data += chunk
        request = json.loads(data)
    except (OSError, ValueError, struct.error):
        conn.close()
        return "bad"
    if request.get("shutdown"):
        conn.close()
        return "shutdown"
    argv = request["argv"]
    stage = stage_of(argv)
    for module in _modules_for_stage(stage):
        if module in pending:
            pending.remove(module)
        _import(module)
    _debug(f"fork {stage}")
    # No SIGCHLD until the child is registered, so its exit cannot be reaped unseen.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
    try:
        pid = os.fork()
        if pid == 0:  # the step
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
            listener.close()
            for other in children.values():
                other.close()
            conn.close()
            _run_child(argv, request, fds)
        for fd in fds:
            os.close(fd)
        conn.settimeout(None)
        try:
            conn.sendall(b"A")
        except OSError:
            os.kill(pid, signal.SIGTERM)
        children[pid] = conn
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
    return "forked"


# The command-line stage each rule runs, where the names differ.
STAGE_RULES = {"analysis": "estimates", "render": "manuscript"}


def _modules_for_stage(stage: str | None) -> list[str]:
    return RULE_MODULES.get(STAGE_RULES.get(stage or "", stage or ""), [])


def _run_child(argv: list[str], request: dict, fds: list[int]) -> None:
    status = 1
    try:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        for target, fd in enumerate(fds, start=1):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        os.umask(request["umask"])
        from .cli import main

        sys.argv = ["python -m cmvig_report", *argv]
        status = main(argv)
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(status)


def _reap(children: dict[int, socket.socket], done: set[int]) -> None:
    """Collect exited children and send each one's exit status to its step's client."""
    while True:
        try:
            pid, raw = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        conn = children.get(pid)
        if conn is None or pid in done:
            continue
        status = os.waitstatus_to_exitcode(raw)  # -N when killed by signal N
        with contextlib.suppress(OSError):
            conn.sendall(struct.pack(">i", status if status >= 0 else 128 - status))
        done.add(pid)


def _kill_all(children: dict[int, socket.socket], done: set[int]) -> None:
    for pid in children:
        if pid not in done:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 5
    while set(children) - done and time.monotonic() < deadline:
        _reap(children, done)
        time.sleep(0.01)


if __name__ == "__main__":
    _path, _parent, _modules = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    try:
        serve(_path, _parent, [m for m in _modules.split(",") if m])
    except BaseException:
        _debug(traceback.format_exc())
        raise
    finally:  # also when Snakemake was killed and could not call stop()
        shutil.rmtree(os.path.dirname(_path), ignore_errors=True)
