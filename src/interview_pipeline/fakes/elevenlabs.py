"""Loopback fake of ElevenLabs' multi-context streaming TTS websocket.

Pipecat's real ``ElevenLabsTTSService(url="ws://127.0.0.1:PORT")`` talks to it unchanged, at
``/v1/text-to-speech/{voice_id}/multi-stream-input``. Speech is synthesised for real (local Piper
by default) so downstream STT and avatar code receive real audio, and the first audio of each
piece of text leaves a configurable delay after the text was committed, to model the vendor.

What pipecat 1.14 relies on, and the fake therefore does:

- ``{"text": " ", "context_id": c}`` opens context ``c``; later text messages add to it. With
  ``auto_mode=true`` (pipecat's default, it sends whole sentences) each text message is
  generated on arrival; otherwise text is buffered until ``flush`` or 120 characters.
- Audio goes out as ``{"audio": base64 s16le, "alignment": ..., "contextId": c}`` in ~100 ms
  chunks. The first chunk of each generation carries the character alignment of its text,
  spread over its audio: pipecat turns it into word timestamps and spoken-text frames, and
  advances its word clock by the alignment's span, so the span equals the audio's length.
- ``close_context`` after ``flush`` (end of a turn) lets the queued audio finish, then sends
  ``{"isFinal": true, "contextId": c}``. ``close_context`` without a flush is how pipecat
  interrupts: generation stops and ``isFinal`` follows at once.
- ``close_socket`` closes the socket from the server side, which pipecat waits for.
"""

from __future__ import annotations

import asyncio
import base64
import html
import json
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from aiohttp import WSMsgType, web

from interview_pipeline.config import Settings
from interview_pipeline.fakes._server import LoopbackServer, RecordedRequest, check_key, sleep_until

#: (text, sample rate) -> mono s16le PCM at that rate. Runs in a worker thread.
Synth = Callable[[str, int], bytes]

#: Characters of buffered text that trigger generation when auto mode is off (the first step of
#: ElevenLabs' default chunk_length_schedule).
_CHUNK_CHARS = 120
_TAG = re.compile(r"<[^>]+>")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def tone_synth(text: str, sample_rate: int, *, seconds_per_char: float = 0.065) -> bytes:
    """A quiet 220 Hz tone as long as the text would take to say: for tests and benches
    where nobody listens to the interviewer, so the fake's timing never waits on a CPU."""
    seconds = 0.3 + seconds_per_char * len(text)
    t = np.arange(int(sample_rate * seconds)) / sample_rate
    return (0.3 * 32767 * np.sin(2 * np.pi * 220 * t)).astype(np.int16).tobytes()


class PiperSynth:
    """Local Piper voice (``en_US-joe-medium``), loaded once per process, with a result cache.

    The cache matters for benchmarks: a repeated line is answered within the configured delay
    instead of after Piper's synthesis time.

    Args:
        voice_path: A Piper ``.onnx`` voice; default the configured voice in
            ``Settings().piper_voice_path()``.
    """

    _lock = threading.Lock()
    _voices: dict[str, Any] = {}
    _cache: OrderedDict[tuple[str, str, int], bytes] = OrderedDict()
    cache_size = 256

    def __init__(self, voice_path: Path | None = None) -> None:
        self.voice_path = voice_path

    def __call__(self, text: str, sample_rate: int) -> bytes:
        with self._lock:
            voice = self.load()
            key = (str(self.voice_path), text, sample_rate)
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
            pcm = b"".join(chunk.audio_int16_bytes for chunk in voice.synthesize(text))
            native = int(voice.config.sample_rate)
            if sample_rate != native and pcm:
                import soxr

                resampled = soxr.resample(np.frombuffer(pcm, np.int16), native, sample_rate)
                pcm = np.asarray(resampled, dtype=np.int16).tobytes()
            self._cache[key] = pcm
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
            return pcm

    @property
    def native_rate(self) -> int:
        """The voice's own sample rate (22050 Hz for the medium voices)."""
        return int(self.load().config.sample_rate)

    def load(self) -> Any:
        """The voice, loading it now if needed (call early to keep the first reply fast)."""
        if self.voice_path is None:
            settings = Settings()  # type: ignore[call-arg]  # fields come from the environment
            self.voice_path = settings.piper_voice_path() / f"{settings.piper_voice}.onnx"
        path = str(self.voice_path)
        if path not in self._voices:
            from piper import PiperVoice

            self._voices[path] = PiperVoice.load(path)
        return self._voices[path]


@dataclass
class ElevenLabsContext:
    """One synthesis context as the fake saw it."""

    context_id: str
    opened_at: float
    voice_settings: dict[str, Any] | None = None
    text: str = ""  # everything received, including the opening " "
    #: (text, committed_at, first_audio_at) per generation.
    generations: list[tuple[str, float, float | None]] = field(default_factory=list)
    audio_bytes: int = 0
    flushed: bool = False
    closed: bool = False
    interrupted: bool = False
    final_sent: bool = False
    pending: str = field(default="", repr=False)
    queue: asyncio.Queue[tuple[str, float] | None] = field(
        default_factory=asyncio.Queue, repr=False
    )
    worker: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def first_audio_latencies(self) -> list[float]:
        """Seconds from each generation's text arriving to its first audio leaving."""
        return [sent - committed for _, committed, sent in self.generations if sent is not None]


@dataclass
class ElevenLabsConnection:
    """One client websocket: its handshake, messages, and contexts."""

    request: RecordedRequest
    voice_id: str
    model_id: str
    sample_rate: int
    auto_mode: bool
    messages: list[dict[str, Any]] = field(default_factory=list)
    contexts: dict[str, ElevenLabsContext] = field(default_factory=dict)
    closed: bool = False
    send_lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)


class ElevenLabsFake(LoopbackServer):
    """ElevenLabs streaming TTS on loopback. Pass ``start()``'s URL as ``ElevenLabsTTSService(url=)``.

    Args:
        synth: Text to s16le PCM at the requested rate; default local Piper, resampled.
        first_audio_delay_s: Time from text being committed for generation to its first audio
            (measured from arrival; synthesis time is hidden in it when it is shorter).
        expected_key: When set, handshakes without ``xi-api-key: <key>`` get 401.
        chunk_ms: Audio per message.
    """

    url_scheme = "ws"

    def __init__(
        self,
        synth: Synth | None = None,
        first_audio_delay_s: float = 0.075,
        expected_key: str | None = None,
        *,
        chunk_ms: int = 100,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host=host, port=port)
        self.synth: Synth = synth or PiperSynth()
        self.first_audio_delay_s = first_audio_delay_s
        self.expected_key = expected_key
        self.chunk_ms = chunk_ms
        self.connections: list[ElevenLabsConnection] = []
        self.rejected: list[RecordedRequest] = []

    def build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v1/text-to-speech/{voice_id}/multi-stream-input", self._handle_stream)
        return app

    async def prewarm(self, texts: Iterable[str], sample_rate: int = 24000) -> None:
        """Synthesise known lines ahead, sentence by sentence as pipecat will send them.

        Piper takes longer per sentence on a CPU than a typical configured first-audio delay;
        with the built-in synth's cache filled, a benchmark sees the configured delay instead.
        """
        for text in texts:
            for sentence in _SENTENCE_END.split(text):
                if sentence.strip():
                    await asyncio.to_thread(self.synth, sentence.strip(), sample_rate)

    @property
    def contexts(self) -> list[ElevenLabsContext]:
        """Every context over all connections, in the order they opened."""
        return [c for conn in self.connections for c in conn.contexts.values()]

    # --- websocket ---------------------------------------------------------------------------
    async def _handle_stream(self, request: web.Request) -> web.StreamResponse:
        recorded = RecordedRequest.from_request(request)
        if not check_key(request.headers.get("xi-api-key"), self.expected_key, ()):
            self.rejected.append(recorded)
            detail = {"status": "invalid_api_key", "message": "Invalid API key"}
            return web.json_response({"detail": detail}, status=401)
        output_format = request.query.get("output_format", "pcm_24000")
        match = re.fullmatch(r"pcm_(\d+)", output_format)
        if match is None:
            self.rejected.append(recorded)
            detail = {"status": "invalid_output_format", "message": "fake speaks pcm_* only"}
            return web.json_response({"detail": detail}, status=400)
        conn = ElevenLabsConnection(
            request=recorded,
            voice_id=request.match_info["voice_id"],
            model_id=request.query.get("model_id", ""),
            sample_rate=int(match.group(1)),
            auto_mode=request.query.get("auto_mode", "false") == "true",
        )
        self.connections.append(conn)
        ws = web.WebSocketResponse(max_msg_size=16 * 1024 * 1024)
        await ws.prepare(request)
        self.track_socket(ws)
        try:
            await self._serve(ws, conn)
        finally:
            conn.closed = True
            for ctx in conn.contexts.values():
                if ctx.worker is not None:
                    ctx.worker.cancel()
            self.untrack_socket(ws)
        return ws

    async def _serve(self, ws: web.WebSocketResponse, conn: ElevenLabsConnection) -> None:
        async for msg in ws:
            if msg.type == WSMsgType.ERROR:
                return
            if msg.type != WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            conn.messages.append(data)
            if data.get("close_socket"):
                await ws.close()
                return
            context_id = str(data.get("context_id") or "default")
            ctx = conn.contexts.get(context_id)
            if data.get("close_context"):
                if ctx is not None:
                    await self._close_context(ws, conn, ctx)
                continue
            text = data.get("text")
            if ctx is None:
                if not text:
                    continue  # a keepalive, or a flush for a context never opened
                ctx = ElevenLabsContext(context_id, time.monotonic(), data.get("voice_settings"))
                ctx.worker = self.spawn(self._generate(ws, conn, ctx))
                conn.contexts[context_id] = ctx
            if ctx.closed:
                continue
            if text:
                ctx.text += text
                ctx.pending += text
                if text.strip():
                    ctx.flushed = False
            if data.get("flush"):
                ctx.flushed = True
                self._commit(ctx, everything=True)
            elif text and text.strip():
                trigger = conn.auto_mode or bool(data.get("try_trigger_generation"))
                self._commit(ctx, everything=trigger)

    def _commit(self, ctx: ElevenLabsContext, *, everything: bool) -> None:
        """Hand buffered text to the context's generator, as much as the mode allows."""
        if everything:
            cut = len(ctx.pending)
        elif len(ctx.pending) >= _CHUNK_CHARS:
            cut = ctx.pending.rfind(" ", _CHUNK_CHARS // 2) + 1 or len(ctx.pending)
        else:
            return
        text, ctx.pending = ctx.pending[:cut], ctx.pending[cut:]
        if text.strip():
            ctx.queue.put_nowait((text, time.monotonic()))

    async def _close_context(
        self, ws: web.WebSocketResponse, conn: ElevenLabsConnection, ctx: ElevenLabsContext
    ) -> None:
        if ctx.closed:
            return
        ctx.closed = True
        if ctx.flushed:
            ctx.queue.put_nowait(None)  # finish the flushed work, then isFinal
            return
        ctx.interrupted = True
        if ctx.worker is not None:
            ctx.worker.cancel()
        await self._send_final(ws, conn, ctx)

    # --- generation ----------------------------------------------------------------------------
    async def _generate(
        self, ws: web.WebSocketResponse, conn: ElevenLabsConnection, ctx: ElevenLabsContext
    ) -> None:
        while (item := await ctx.queue.get()) is not None:
            text, committed_at = item
            spoken = html.unescape(_TAG.sub("", text)).strip()
            pcm = await asyncio.to_thread(self.synth, spoken, conn.sample_rate) if spoken else b""
            await sleep_until(committed_at + self.first_audio_delay_s)
            first_at = await self._send_audio(ws, conn, ctx, text, pcm)
            ctx.generations.append((text, committed_at, first_at))
        await self._send_final(ws, conn, ctx)

    async def _send_audio(
        self,
        ws: web.WebSocketResponse,
        conn: ElevenLabsConnection,
        ctx: ElevenLabsContext,
        text: str,
        pcm: bytes,
    ) -> float | None:
        """Send one generation's audio in chunks; return when the first chunk left."""
        step = max(2, conn.sample_rate * self.chunk_ms // 1000 * 2)
        alignment: dict[str, Any] | None = _alignment(text, len(pcm) / 2 / conn.sample_rate)
        first_at: float | None = None
        for offset in range(0, len(pcm), step):
            chunk = pcm[offset : offset + step]
            msg = {
                "audio": base64.b64encode(chunk).decode("ascii"),
                "isFinal": None,
                "normalizedAlignment": alignment,
                "alignment": alignment,
                "contextId": ctx.context_id,
            }
            if not await self._send(ws, conn, msg):
                break
            ctx.audio_bytes += len(chunk)
            first_at = first_at or time.monotonic()
            alignment = None
        return first_at

    async def _send_final(
        self, ws: web.WebSocketResponse, conn: ElevenLabsConnection, ctx: ElevenLabsContext
    ) -> None:
        if not ctx.final_sent:
            ctx.final_sent = True
            await self._send(ws, conn, {"isFinal": True, "contextId": ctx.context_id})

    async def _send(
        self, ws: web.WebSocketResponse, conn: ElevenLabsConnection, msg: dict[str, Any]
    ) -> bool:
        if ws.closed:
            return False
        try:
            async with conn.send_lock:
                await ws.send_str(json.dumps(msg))
        except ConnectionError:
            return False
        return True


def _alignment(text: str, seconds: float) -> dict[str, Any]:
    """Character timings spread evenly over the audio, ending exactly where the audio ends.

    A trailing space is added when missing so the last word counts as complete: the next
    generation may not start with one, and pipecat only closes a word at a space.
    """
    chars = list(text if text.endswith((" ", "\n")) else text + " ")
    total_ms = seconds * 1000.0
    bounds = [round(i * total_ms / len(chars)) for i in range(len(chars) + 1)]
    return {
        "chars": chars,
        "charStartTimesMs": bounds[:-1],
        "charDurationsMs": [b - a for a, b in zip(bounds[:-1], bounds[1:], strict=True)],
    }
