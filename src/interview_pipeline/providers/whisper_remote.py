"""One local Whisper model for every bot on a machine: a small server and the bots' client.

CTranslate2 cannot be loaded before a fork (its worker threads do not survive one: a child of a
process that had loaded it hangs on its first transcription), so every forked bot loaded its own
copy of the model per live session. The launcher instead runs one server process
that holds the model; a bot sends a segment's samples over a Unix socket and gets the segments
back. The bot keeps everything else (VAD segmentation, speculation, the no-speech filter), so
``LocalWhisperSTTService`` does not know the model is elsewhere.

Wire format, one request per connection: a JSON header line ``{"samples": n, "options": {...}}``
then ``n`` float32 samples; the answer is one JSON line, ``{"segments": [[text, no_speech_prob],
...]}`` or ``{"error": "..."}``. Connections are cheap on a Unix socket and this way a bot's
speculative and final transcriptions never wait on each other's reply.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import socketserver
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from loguru import logger

#: How long a bot waits for a server that is still starting before loading the model itself.
CONNECT_WAIT_S = 10.0
_MAX_SAMPLES = 16000 * 600  # ten minutes of 16 kHz audio: anything longer is a broken client


@dataclass(frozen=True)
class Segment:
    """The two fields of a faster-whisper segment that the STT service reads."""

    text: str
    no_speech_prob: float


class RemoteWhisperModel:
    """Looks like a faster-whisper ``WhisperModel`` to the STT service; decodes on the server.

    If the server cannot be reached (it is restarting, or it died), the bot loads the model
    itself with ``load_local`` rather than lose the candidate's answer: slower and a model more,
    but the interview goes on.
    """

    supported_languages: list[str] | None = None

    def __init__(self, path: Path, load_local: Callable[[], Any], *, timeout_s: float = 60.0):
        self.path = path
        self.timeout_s = timeout_s
        self._load_local = load_local
        self._local: Any = None

    def transcribe(self, audio: np.ndarray, **options: Any) -> tuple[list[Segment], None]:
        if self._local is None:
            try:
                try:
                    return self._remote(audio, options), None
                except ConnectionError:  # it died under us: once more, the restarted one
                    return self._remote(audio, options), None
            except (OSError, ValueError) as exc:
                logger.warning("shared Whisper server unusable ({}); loading the model here", exc)
                self._local = self._load_local()
        segments, info = self._local.transcribe(audio, **options)
        return list(segments), info

    def _remote(self, audio: np.ndarray, options: dict[str, Any]) -> list[Segment]:
        samples = np.ascontiguousarray(audio, dtype=np.float32)
        header = {"samples": int(samples.size), "options": _jsonable(options)}
        with self._connect() as sock:
            sock.sendall(json.dumps(header).encode() + b"\n" + samples.tobytes())
            sock.shutdown(socket.SHUT_WR)
            with sock.makefile("rb") as reply:
                line = reply.readline()
        if not line:
            raise ConnectionResetError("the server closed the connection without an answer")
        answer = json.loads(line)
        if "segments" not in answer:
            raise ValueError(str(answer.get("error", "no answer")))
        return [Segment(str(text), float(prob)) for text, prob in answer["segments"]]

    def _connect(self) -> socket.socket:
        deadline = time.monotonic() + CONNECT_WAIT_S
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self.timeout_s)
            try:
                sock.connect(str(self.path))
                return sock
            except (FileNotFoundError, ConnectionRefusedError):
                sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
            except OSError:
                sock.close()
                raise


def _jsonable(options: dict[str, Any]) -> dict[str, Any]:
    """Options as JSON; Language is a StrEnum, so its plain string value is what goes across."""
    return {k: (str(v) if isinstance(v, str) else v) for k, v in options.items()}


#: What a client may ask of the model; anything else is ignored rather than passed through.
_OPTIONS = {
    "language",
    "hotwords",
    "initial_prompt",
    "beam_size",
    "without_timestamps",
    "condition_on_previous_text",
}


def _read_exact(stream: Any, size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise ValueError(f"expected {size} bytes of audio, got {len(data)}")
    return bytes(data)


def transcribe_request(model: Any, rfile: Any) -> dict[str, Any]:
    """Answer one request read from ``rfile``; errors become an ``error`` answer."""
    try:
        header = json.loads(rfile.readline())
        samples = int(header["samples"])
        if not 0 <= samples <= _MAX_SAMPLES:
            raise ValueError(f"samples={samples} out of range")
        audio = np.frombuffer(_read_exact(rfile, samples * 4), dtype=np.float32)
        options = {k: v for k, v in dict(header.get("options") or {}).items() if k in _OPTIONS}
        segments, _ = model.transcribe(audio, **options)
        return {"segments": [[s.text, s.no_speech_prob] for s in segments]}
    except Exception as exc:  # one bad request must not take the server down
        return {"error": f"{type(exc).__name__}: {exc}"[:300]}


class WhisperServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """Serves ``model`` on a Unix socket, one thread per request.

    CTranslate2 runs as many decodes at once as the model has workers (``num_workers``); more
    requests queue inside it. On a small machine, one thread per worker with two workers decodes
    two answers at once almost as fast as one, where the default (several threads, one worker)
    serialises them (measured on the replay answers when this came in).
    """

    daemon_threads = True

    def __init__(self, path: Path, model: Any):
        self.model = model
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        super().__init__(str(path), _Handler)
        os.chmod(path, 0o600)  # only this user's bots


class _Handler(socketserver.StreamRequestHandler):
    server: WhisperServer

    def handle(self) -> None:
        answer = transcribe_request(self.server.model, self.rfile)
        with contextlib.suppress(OSError):
            self.wfile.write(json.dumps(answer).encode() + b"\n")
