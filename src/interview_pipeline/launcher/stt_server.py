"""The launcher's shared Whisper server: one model in memory for all its bots.

With local STT every bot used to hold its own copy of the Whisper model (~90 MB per live
session; it cannot be shared by fork, see ``providers/whisper_remote``). The pool starts this
process once and hands the bots its socket in their settings. If it dies it is started again;
in between, a bot that needs a transcription loads the model itself, so no answer is lost.

The process leads its own group, dies with the launcher (PDEATHSIG), and its socket sits in a
private directory (0700) that is removed on close.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from loguru import logger

from interview_pipeline.config import Settings, STTProvider
from interview_pipeline.launcher.process import start_child
from interview_pipeline.launcher.worker import die_with_parent

#: After an unexpected exit, wait this long before starting again (a crash loop stays cheap).
RESTART_AFTER_S = 1.0


def wanted(settings: Settings) -> bool:
    """Whether bots of this launcher would load a local Whisper model at all."""
    return (
        settings.whisper_shared
        and settings.whisper_socket is None
        and settings.resolved_stt() is STTProvider.WHISPER
    )


class SharedWhisper:
    """Runs and supervises the server process."""

    def __init__(self, settings: Settings, *, env: dict[str, str], log_path: Path | None):
        self.settings = settings
        self.env = env
        self.log_path = log_path
        # Named now (the bots' settings carry it), made in start(): a pool that never starts
        # leaves nothing behind.
        self.dir = Path(tempfile.gettempdir()) / f"interview-whisper-{secrets.token_hex(8)}"
        self.socket = self.dir / "whisper.sock"
        self.proc: asyncio.subprocess.Process | None = None
        self.restarts = 0
        self._closed = False
        self._watch: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.returncode is None else None

    async def start(self) -> None:
        await self._start_process()
        self._watch = asyncio.ensure_future(self._supervise())

    async def _start_process(self) -> None:
        self.dir.mkdir(mode=0o700, exist_ok=True)  # a server that exited took it away
        command = [sys.executable, "-m", __name__, "--socket", str(self.socket)]
        command += ["--model", str(self.settings.whisper_model_path())]
        command += ["--compute-type", self.settings.whisper_compute_type]
        self.proc = await start_child(
            command,
            env=self.env,
            log_path=self.log_path,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
        )

    async def _supervise(self) -> None:
        while not self._closed and self.proc is not None:
            code = await self.proc.wait()
            if self._closed:
                return
            self.restarts += 1
            logger.error("shared Whisper server exited ({}); starting it again", code)
            await asyncio.sleep(RESTART_AFTER_S)
            if not self._closed:
                await self._start_process()

    async def close(self, grace_s: float = 3.0) -> None:
        self._closed = True
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._watch
        proc = self.proc
        if proc is not None:
            for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, sig)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(proc.wait(), wait_s)
                if proc.returncode is not None:
                    break
        shutil.rmtree(self.dir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve one Whisper model to the launcher's bots.")
    parser.add_argument("--socket", type=Path, required=True)
    parser.add_argument("--model", required=True, help="faster-whisper model directory")
    parser.add_argument("--compute-type", default="int8")
    parser.add_argument("--parent", type=int, default=None, help="launcher pid to die with")
    args = parser.parse_args(argv)
    die_with_parent(args.parent)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    from faster_whisper import WhisperModel

    from interview_pipeline.providers.whisper_remote import WhisperServer

    model = WhisperModel(
        args.model, device="cpu", compute_type=args.compute_type, cpu_threads=1, num_workers=2
    )
    server = WhisperServer(args.socket, model)
    logger.info("shared Whisper server listening on {}", args.socket)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        with contextlib.suppress(OSError):  # also when the launcher was killed and cannot
            args.socket.unlink()
            args.socket.parent.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
