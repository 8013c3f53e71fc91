"""Every use of a private pipecat / LiveKit (or onnxruntime) name, quarantined here.

pipecat releases every few weeks and its underscore names can move without notice; a use
buried in an ordinary module would then break silently, in a live interview. Each use lives
in one small named function or class below, and ``tests/test_compat.py`` pins it to the
version it was written against (the name exists, the signature matches, a copied body's
source is unchanged), so an upgrade fails there, naming the version and the attribute.
Ordinary modules call these and never spell an underscore name of a library object.

It is a package, not one module, so that each user imports only its library: the CLI's
shutdown must not load Whisper, and a Smart Turn user must not load LiveKit.

The uses, and the public hook that would remove each:

- ``livekit.FramedLiveKitClient`` / ``use_framed_audio``: overrides pipecat's
  ``LiveKitTransportClient._async_on_track_subscribed`` with a copy of its audio branch (to
  open the ``AudioStream`` at 16 kHz in 40 ms frames) and replaces ``LiveKitTransport._client``.
  Removed by ``LiveKitParams`` fields for the audio stream's sample rate and frame size, or a
  client factory argument on ``LiveKitTransport``.
- ``dispose_livekit_runtime`` (here, light to import, for shutdown hooks): ``livekit.rtc._ffi_client.FfiClient._instance._dispose()``
  so the native runtime stops while Python is alive. Removed by a public shutdown function
  in livekit-rtc (there is none in 1.2).
- ``smart_turn.init_on_session``: skips ``LocalSmartTurnAnalyzerV3.__init__`` (which builds
  a private ONNX session) and sets its ``_session`` and ``_log_data``. Removed by a
  ``session=`` (or session options) argument on ``LocalSmartTurnAnalyzerV3``.
- ``whisper.HookedWhisperSTTService``: overrides ``WhisperSTTService._load`` (called from its
  ``__init__``) and reads ``_model``, ``_device``, ``_compute_type``; reads
  ``SegmentedSTTService._audio_buffer`` and ``_user_speaking``; calls
  ``STTService._handle_transcription`` and reads ``_user_id``. Removed by a model (or loader)
  argument on ``WhisperSTTService`` and a public "audio of the segment so far" accessor on
  ``SegmentedSTTService``; ``_handle_transcription`` and ``_user_id`` are pipecat's subclass
  API spelt private (its own services use them): no public hook exists.
- ``piper.piper_voice`` / ``piper.onnx_model_path``: ``PiperTTSService._voice`` and
  onnxruntime's ``InferenceSession._model_path``. Removed by session options (thread counts,
  arena) on ``PiperTTSService``.
- ``elevenlabs.LiveContextElevenLabsTTSService``: overrides ``_get_websocket`` (what
  ``ElevenLabsTTSService._receive_messages`` iterates) and reads ``_turn_context_id``, to drop
  a withdrawn context's late messages, whose durations pipecat adds to its word clock
  (``_cumulative_time``) and so times the next reply's words late. Removed by pipecat
  ignoring alignment for contexts it no longer has.
- ``llm.push_llm_text``: ``LLMService._push_llm_text``, the helper pipecat's LLM services call
  to push text through its turn-completion handling. Subclass API spelt private: a public
  ``push_llm_text`` would remove the need.
"""

from __future__ import annotations

import sys


def dispose_livekit_runtime() -> None:
    """Stop LiveKit's native runtime if it was started; idempotent.

    Left to its atexit hook, a native thread can call back into a finalising interpreter and
    the process aborts (exit 134) after its work succeeded. Looks the module up instead of
    importing it: a process that never used LiveKit has nothing to stop.
    """
    ffi = sys.modules.get("livekit.rtc._ffi_client")
    if ffi is not None and ffi.FfiClient._instance is not None:
        ffi.FfiClient._instance._dispose()
