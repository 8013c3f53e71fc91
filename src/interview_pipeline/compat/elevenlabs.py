"""ElevenLabs TTS without the word-clock drift that a withdrawn context's late audio causes.

On an interruption pipecat closes the ElevenLabs context and resets its running word clock,
but audio and alignment for that context can still arrive (what the server had generated
already). pipecat drops the audio, yet still adds each late chunk's duration to the shared
word clock (``ElevenLabsTTSService._cumulative_time``), so the next reply's words are timed
late: the last of them reach the assistant aggregator only after the candidate has spoken
again, and a reply played to the end reads as cut off before its question. Dropping the
late messages before pipecat parses them keeps the clock right.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from pipecat.services.elevenlabs.tts import ElevenLabsTTSService


class _LiveMessages:
    """The service's websocket, iterating only the messages of contexts still playing."""

    def __init__(self, ws: Any, live: Callable[[str | bytes], bool]) -> None:
        self._ws, self._live = ws, live

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ws, name)

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[Any]:
        async for message in self._ws:
            if self._live(message):
                yield message


class LiveContextElevenLabsTTSService(ElevenLabsTTSService):
    """pipecat's ElevenLabs service, reading only messages for contexts it still plays."""

    def _get_websocket(self) -> Any:
        return _LiveMessages(super()._get_websocket(), self._is_live)

    def _is_live(self, message: str | bytes) -> bool:
        try:
            msg = json.loads(message)
        except (TypeError, ValueError):
            return True
        context_id = msg.get("contextId") if isinstance(msg, dict) else None
        if not context_id or msg.get("isFinal") is True:
            return True  # pipecat's own handling of finals (and of errors) stands
        return self.audio_context_available(context_id) or context_id == self._turn_context_id
