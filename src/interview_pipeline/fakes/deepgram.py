"""Loopback fake of Deepgram's live transcription websocket (``/v1/listen``).

Pipecat's real ``DeepgramSTTService(base_url="ws://127.0.0.1:PORT")`` talks to it unchanged. The
fake transcribes for real (local faster-whisper by default) so that tests and benchmarks see the
words that were spoken, and answers ``Finalize`` after a configurable delay that models the
vendor's latency.

Whisper on a CPU can take longer than the delay being modelled, so by default the fake guesses
the end of an utterance from the audio energy and transcribes speculatively while the client's
VAD is still waiting out its stop time. When ``Finalize`` arrives and no speech has come since,
the speculative transcript is used, and the result goes out ``finalize_delay_s`` after
``Finalize`` instead of ``finalize_delay_s`` plus the transcription time.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from aiohttp import WSMsgType, web

from interview_pipeline.fakes._server import LoopbackServer, RecordedRequest, check_key, sleep_until
from interview_pipeline.fakes.transcriber import WhisperTranscriber

#: (int16 mono samples, sample rate) -> transcript. Runs in a worker thread.
Transcriber = Callable[[np.ndarray, int], str]

_WORD = re.compile(r"\S+")
_MODEL_UUID = "00000000-0000-0000-0000-000000000000"


@dataclass
class DeepgramConnection:
    """One client websocket: what it asked for and what the fake answered, for assertions."""

    request: RecordedRequest
    sample_rate: int
    channels: int
    interim_results: bool
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    audio_bytes: int = 0
    control: list[dict[str, Any]] = field(default_factory=list)
    finalize_at: list[float] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)
    #: Seconds from each ``Finalize`` to the final result it produced.
    finalize_latencies: list[float] = field(default_factory=list)
    #: Finals answered from a transcription started at a pause before ``Finalize``.
    speculative_hits: int = 0
    closed: bool = False


@dataclass
class _Guess:
    """A speculative transcription of the utterance up to ``voiced_end`` samples."""

    voiced_end: int
    task: asyncio.Task[str]


@dataclass
class _Utterance:
    """Audio cut off at ``Finalize``, with where it sits in the stream."""

    pcm: np.ndarray
    start: int  # samples into the stream
    voiced_end: int
    guess: _Guess | None


class _Stream:
    """Per-connection state: the current utterance's audio and the stream clock."""

    def __init__(self, conn: DeepgramConnection, rms_threshold: float) -> None:
        self.conn = conn
        self.rms_threshold = rms_threshold
        self.audio = bytearray()  # current utterance, mono s16le
        self.offset_samples = 0  # stream time at which the current utterance starts
        self.voiced_end = 0  # samples into the utterance where speech last seen
        self.guess: _Guess | None = None
        self.last_send: asyncio.Task[None] | None = None
        self.send_lock = asyncio.Lock()

    @property
    def samples(self) -> int:
        return len(self.audio) // 2

    def add(self, pcm: bytes) -> None:
        if self.conn.channels > 1:
            frames = np.frombuffer(pcm[: len(pcm) - len(pcm) % (2 * self.conn.channels)], "<i2")
            mono = frames.reshape(-1, self.conn.channels).mean(axis=1).astype("<i2")
            pcm = mono.tobytes()
        elif len(pcm) % 2:
            pcm = pcm[:-1]
        self.audio.extend(pcm)
        chunk = np.frombuffer(pcm, "<i2").astype(np.float32)
        if chunk.size and float(np.sqrt(np.mean(chunk * chunk))) >= self.rms_threshold:
            self.voiced_end = self.samples

    def take(self) -> _Utterance:
        """Cut the utterance off at Finalize; the next audio starts a new one."""
        pcm = np.frombuffer(bytes(self.audio), "<i2").copy()
        cut = _Utterance(pcm, self.offset_samples, self.voiced_end, self.guess)
        self.offset_samples += self.samples
        self.audio.clear()
        self.voiced_end = 0
        self.guess = None
        return cut


class DeepgramFake(LoopbackServer):
    """Deepgram live STT on loopback. Pass ``start()``'s URL as ``DeepgramSTTService(base_url=)``.

    Args:
        transcriber: Turns an utterance into text; default local Whisper tiny.en. With
            ``speculative`` on it may be called more than once per utterance, so it must be pure.
        finalize_delay_s: Time from ``Finalize`` to the final result.
        expected_key: When set, handshakes without ``Authorization: Token <key>`` get 401.
        speculative: Transcribe at pauses before ``Finalize`` (default: only for the built-in
            Whisper). Speculative transcripts are also sent as interim results when the client
            asked for ``interim_results``.
        pause_s: Trailing quiet that starts a speculative transcription.
        speech_rms_threshold: Chunk RMS (int16 units) counted as speech; audio that never reaches
            it is transcribed as "" without calling the transcriber (Whisper invents words in
            silence). 0 counts every chunk as speech.
        model_name: Reported in result metadata.
    """

    url_scheme = "ws"

    def __init__(
        self,
        transcriber: Transcriber | None = None,
        finalize_delay_s: float = 0.25,
        expected_key: str | None = None,
        *,
        speculative: bool | None = None,
        pause_s: float = 0.08,
        speech_rms_threshold: float = 200.0,
        model_name: str = "nova-3-general",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host=host, port=port)
        self.transcriber: Transcriber = transcriber or WhisperTranscriber()
        self.finalize_delay_s = finalize_delay_s
        self.expected_key = expected_key
        self.speculative = transcriber is None if speculative is None else speculative
        self.pause_s = pause_s
        self.speech_rms_threshold = speech_rms_threshold
        self.model_name = model_name
        self.connections: list[DeepgramConnection] = []
        self.rejected: list[RecordedRequest] = []

    def build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v1/listen", self._handle_listen)
        return app

    @property
    def results(self) -> list[dict[str, Any]]:
        """Every Results message sent, over all connections, in order."""
        return [r for c in self.connections for r in c.results]

    # --- websocket -----------------------------------------------------------------------------
    async def _handle_listen(self, request: web.Request) -> web.StreamResponse:
        recorded = RecordedRequest.from_request(request)
        encoding = request.query.get("encoding", "linear16")
        refusal = None
        if not check_key(request.headers.get("Authorization"), self.expected_key, ("Token",)):
            refusal = 401, {"err_code": "INVALID_AUTH", "err_msg": "Invalid credentials."}
        elif encoding != "linear16":
            refusal = 400, {"err_code": "Bad Request", "err_msg": f"linear16 only, not {encoding}"}
        if refusal is not None:
            self.rejected.append(recorded)
            return web.json_response(refusal[1], status=refusal[0])
        conn = DeepgramConnection(
            request=recorded,
            sample_rate=int(request.query.get("sample_rate", "16000")),
            channels=max(1, int(request.query.get("channels", "1"))),
            interim_results=request.query.get("interim_results", "false") == "true",
        )
        self.connections.append(conn)
        ws = web.WebSocketResponse(max_msg_size=16 * 1024 * 1024)
        await ws.prepare(request)
        self.track_socket(ws)
        stream = _Stream(conn, self.speech_rms_threshold)
        try:
            await self._serve(ws, stream)
        finally:
            conn.closed = True
            self.untrack_socket(ws)
        return ws

    async def _serve(self, ws: web.WebSocketResponse, stream: _Stream) -> None:
        conn = stream.conn
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                conn.audio_bytes += len(msg.data)
                stream.add(msg.data)
                self._maybe_guess(ws, stream)
            elif msg.type == WSMsgType.TEXT:
                control = json.loads(msg.data)
                conn.control.append(control)
                kind = control.get("type")
                if kind == "Finalize":
                    self._finalize(ws, stream, from_finalize=True)
                elif kind == "CloseStream":
                    if stream.voiced_end > 0:
                        self._finalize(ws, stream, from_finalize=False)
                    if stream.last_send is not None:
                        await stream.last_send
                    await self._send(ws, stream, self._metadata(stream))
                    await ws.close()
                    return
                # KeepAlive needs no answer: it only resets Deepgram's idle timer.
            elif msg.type == WSMsgType.ERROR:
                return

    # --- transcription ---------------------------------------------------------------------------
    def _transcribe(self, pcm: np.ndarray, sample_rate: int) -> asyncio.Task[str]:
        return self.spawn(asyncio.to_thread(self.transcriber, pcm, sample_rate))

    def _maybe_guess(self, ws: web.WebSocketResponse, stream: _Stream) -> None:
        """Start a speculative transcription once speech is followed by a short pause.

        One at a time: a guess made stale by more speech would only delay the next one, which
        is re-considered when the running guess finishes.
        """
        if not self.speculative or stream.voiced_end == 0:
            return
        if stream.guess is not None and (
            stream.guess.voiced_end == stream.voiced_end or not stream.guess.task.done()
        ):
            return
        if stream.samples - stream.voiced_end < self.pause_s * stream.conn.sample_rate:
            return
        pcm = np.frombuffer(bytes(stream.audio), "<i2").copy()
        guess = _Guess(stream.voiced_end, self._transcribe(pcm, stream.conn.sample_rate))
        stream.guess = guess
        start = stream.offset_samples

        def done(task: asyncio.Task[str]) -> None:
            # An interim only while the utterance is open; after Finalize the final supersedes it.
            ok = not task.cancelled() and task.exception() is None and bool(task.result())
            if ok and stream.conn.interim_results and stream.offset_samples == start:
                msg = self._results(stream, task.result(), start, len(pcm), final=False)
                self.spawn(self._send(ws, stream, msg))
            if not ws.closed:
                self._maybe_guess(ws, stream)

        guess.task.add_done_callback(done)

    def _finalize(self, ws: web.WebSocketResponse, stream: _Stream, *, from_finalize: bool) -> None:
        now = time.monotonic()
        stream.conn.finalize_at.append(now)
        cut, previous = stream.take(), stream.last_send
        stream.last_send = self.spawn(self._deliver(ws, stream, cut, now, previous, from_finalize))

    async def _deliver(
        self,
        ws: web.WebSocketResponse,
        stream: _Stream,
        cut: _Utterance,
        finalized_at: float,
        previous: asyncio.Task[None] | None,
        from_finalize: bool,
    ) -> None:
        if cut.voiced_end == 0 and self.speech_rms_threshold > 0:
            transcript = ""
        elif cut.guess is not None and cut.guess.voiced_end == cut.voiced_end:
            stream.conn.speculative_hits += 1
            transcript = await cut.guess.task
        else:
            transcript = await self._transcribe(cut.pcm, stream.conn.sample_rate)
        await sleep_until(finalized_at + self.finalize_delay_s)
        if previous is not None:
            await previous  # results leave in the order their Finalize arrived
        n = len(cut.pcm)
        msg = self._results(
            stream, transcript, cut.start, n, final=True, from_finalize=from_finalize
        )
        await self._send(ws, stream, msg)
        stream.conn.finalize_latencies.append(time.monotonic() - finalized_at)

    async def _send(self, ws: web.WebSocketResponse, stream: _Stream, msg: dict[str, Any]) -> None:
        if ws.closed:
            return
        try:
            async with stream.send_lock:
                await ws.send_str(json.dumps(msg))
        except ConnectionError:
            return  # the client went away; nothing to tell it
        if msg.get("type") == "Results":
            stream.conn.results.append(msg)

    # --- message shapes ----------------------------------------------------------------------------
    def _results(
        self,
        stream: _Stream,
        transcript: str,
        start: int,
        n: int,
        *,
        final: bool,
        from_finalize: bool = False,
    ) -> dict[str, Any]:
        rate = stream.conn.sample_rate
        t0, duration = start / rate, n / rate
        words = _WORD.findall(transcript)
        span = duration / max(len(words), 1)
        word_items = [
            {
                "word": w.strip(".,!?;:\"'").lower() or w,
                "start": round(t0 + i * span, 3),
                "end": round(t0 + (i + 1) * span, 3),
                "confidence": 0.99,
                "punctuated_word": w,
            }
            for i, w in enumerate(words)
        ]
        alternative = {"transcript": transcript, "confidence": 0.99, "words": word_items}
        msg: dict[str, Any] = {
            "type": "Results",
            "channel_index": [0, 1],
            "duration": round(duration, 3),
            "start": round(t0, 3),
            "is_final": final,
            "speech_final": final,
            "channel": {"alternatives": [alternative]},
            "metadata": {
                "request_id": stream.conn.request_id,
                "model_info": self._model_info(),
                "model_uuid": _MODEL_UUID,
            },
        }
        if final:
            msg["from_finalize"] = from_finalize
        return msg

    def _metadata(self, stream: _Stream) -> dict[str, Any]:
        seconds = (stream.offset_samples + stream.samples) / stream.conn.sample_rate
        return {
            "type": "Metadata",
            "transaction_key": "deprecated",
            "request_id": stream.conn.request_id,
            "sha256": "",
            "created": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "duration": round(seconds, 3),
            "channels": stream.conn.channels,
            "models": [_MODEL_UUID],
            "model_info": {_MODEL_UUID: self._model_info()},
        }

    def _model_info(self) -> dict[str, str]:
        return {"name": self.model_name, "version": "fake", "arch": "fake"}
