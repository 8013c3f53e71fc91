"""The template bot process: warm once, then fork one bot per session.

A spawned bot pays a second of imports and model loads on the same cores live interviews use,
and keeps its own copy of all of it (110 MB on the cloud path, 300 MB with local engines). A
fork of a warm template is ready in milliseconds and shares, copy-on-write, every page it does
not write: the imported code, Silero, Smart Turn and Piper weights.

Fork is only safe from a process with no helper threads, so the template runs the bot's
``prewarm_shared`` (the parts that start none) and each child finishes with ``prewarm`` after
the fork (Whisper's CTranslate2 workers). Before every fork the template checks that it still
has the threads it had when it said ready; if something started one it refuses, and the
launcher spawns a fresh process instead.

The launcher hands us a SOCK_SEQPACKET socket as stdin; one JSON message per packet:
  in:  ``config`` {settings}; ``fork`` {id, log} with the child's socket attached
  out: ``ready`` {warm_s, threads}; ``forked`` {id, pid}; ``refused`` {id, reason};
       ``exit`` {pid, code} (code < 0: killed by that signal); ``failed`` {reason}
Each child talks to the launcher over its own socket exactly like a spawned worker does.
"""

from __future__ import annotations

import contextlib
import faulthandler
import gc
import json
import os
import selectors
import signal
import socket
import sys
import threading
import time
import traceback
from types import ModuleType
from typing import Any, NoReturn

# Before numpy loads: OpenBLAS would start a thread pool, and the bots share two cores anyway.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

from interview_pipeline.config import Settings  # noqa: E402
from interview_pipeline.launcher.worker import (  # noqa: E402
    Channel,
    die_with_parent,
    load_bot,
    serve,
    start_process,
)


def native_threads() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


def fork_hazard(threads_at_ready: int) -> str | None:
    """Why forking now would hand the child a half-copied process, or None when it is safe.

    Native threads that onnxruntime starts at import are idle and were tested; anything else
    (a Python thread, a thread pool that appeared after ``ready``) is refused.
    """
    python = threading.active_count()
    if python > 1:
        return f"template runs {python} Python threads: fork is not safe"
    now = native_threads()
    if now != threads_at_ready:
        return f"template has {now} threads, had {threads_at_ready}: fork is not safe"
    return None


def send(ctl: socket.socket, kind: str, **fields: Any) -> None:
    with contextlib.suppress(OSError):
        ctl.send(json.dumps({"type": kind, **fields}).encode())


def become_worker(
    bot: ModuleType, settings: Settings, ctl: socket.socket, fd: int, log: str | None, parent: int
) -> NoReturn:
    """In the child: drop the template's plumbing, take the launcher's socket, serve one job."""
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_DFL)
        ctl.close()
        os.setsid()  # own process group: the launcher ends a session with killpg
        die_with_parent(parent)  # the template: it dies with the launcher
        if log:
            out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.dup2(out, 2)
            os.close(out)
        os.dup2(fd, 0)
        os.dup2(fd, 1)
        os.close(fd)
        # No gc.unfreeze(): a full collection over the template's objects would write to
        # every page that holds one, and the pages would stop being shared.
        faulthandler.register(signal.SIGUSR1, all_threads=True)
        code = serve(Channel(), bot, settings, time.monotonic())
    except BaseException:
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        os._exit(code)


def reap(ctl: socket.socket, children: set[int]) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            children.clear()
            return
        if pid == 0:
            return
        children.discard(pid)
        send(ctl, "exit", pid=pid, code=os.waitstatus_to_exitcode(status))


def serve_forks(bot: ModuleType, settings: Settings, ctl: socket.socket, threads: int) -> int:
    """Fork a child per request until the launcher closes the socket."""
    children: set[int] = set()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so the wakeup fd hears it
    selector = selectors.DefaultSelector()
    selector.register(ctl, selectors.EVENT_READ)
    selector.register(wake_r, selectors.EVENT_READ)
    while True:
        for key, _ in selector.select():
            if key.fileobj == wake_r:
                with contextlib.suppress(BlockingIOError):
                    os.read(wake_r, 512)
                reap(ctl, children)
                continue
            data, fds, _flags, _addr = socket.recv_fds(ctl, 65536, 1)
            if not data:
                for fd in fds:
                    os.close(fd)
                return 0  # the launcher is gone; our children die with us (PDEATHSIG)
            msg = json.loads(data)
            if msg.get("type") != "fork" or len(fds) != 1:
                for fd in fds:
                    os.close(fd)
                continue
            reason = fork_hazard(threads)
            if reason:
                os.close(fds[0])
                send(ctl, "refused", id=msg.get("id"), reason=reason)
                continue
            me = os.getpid()
            pid = os.fork()
            if pid == 0:
                selector.close()
                os.close(wake_r)
                os.close(wake_w)
                become_worker(bot, settings, ctl, fds[0], msg.get("log"), me)
            os.close(fds[0])
            children.add(pid)
            send(ctl, "forked", id=msg.get("id"), pid=pid)


def main(argv: list[str] | None = None) -> int:
    args = start_process(argv, __doc__.splitlines()[0])
    # Our stdin is the control socket; children get their own stdin, so park fd 0 on /dev/null.
    ctl = socket.socket(fileno=os.dup(0))
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    sys.stdout = sys.stderr  # nothing may write into the launcher's pipes by accident

    data = ctl.recv(1 << 20)
    if not data:
        return 0
    settings = Settings(**json.loads(data)["settings"])
    started = time.monotonic()
    try:
        bot = load_bot(args.bot)
        shared = getattr(bot, "prewarm_shared", None)
        if shared is not None:
            shared(settings)
    except Exception as exc:
        send(ctl, "failed", reason=f"template failed to warm up: {type(exc).__name__}: {exc}"[:500])
        return 1
    # Objects that exist now are never collected: the GC then leaves their pages shared.
    gc.collect()
    gc.freeze()
    threads = native_threads()
    send(ctl, "ready", warm_s=round(time.monotonic() - started, 3), threads=threads)
    return serve_forks(bot, settings, ctl, threads)


if __name__ == "__main__":
    code = main()
    sys.stderr.flush()
    os._exit(code)
