"""Each private pipecat / LiveKit / onnxruntime name ``interview_pipeline.compat`` relies on.

These fail on an upgrade that moves one, naming the installed version and the attribute, so
the break shows here and not as a silent misbehaviour in a live interview. A copied body is
pinned by its source hash: when one fails, diff the new body against the copy in compat,
port the change, and update the hash here.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import pkgutil
import re
from importlib.metadata import version
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
from livekit.rtc import _ffi_client
from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3
from pipecat.services.llm_service import LLMService
from pipecat.services.stt_service import SegmentedSTTService
from pipecat.services.whisper.stt import WhisperSTTService
from pipecat.transports.livekit.transport import (
    LiveKitParams,
    LiveKitTransport,
    LiveKitTransportClient,
)

import interview_pipeline
from interview_pipeline.compat import livekit as compat_livekit
from interview_pipeline.compat import smart_turn as compat_smart_turn
from interview_pipeline.compat.piper import onnx_model_path
from interview_pipeline.config import Settings
from interview_pipeline.providers.whisper import build_whisper_stt
from interview_pipeline.transports.livekit import InterviewLiveKitTransport
from interview_pipeline.turns.smart_turn import MODEL, SharedSmartTurnAnalyzerV3

VERSIONS = (
    f"pipecat-ai {version('pipecat-ai')}, livekit {version('livekit')}, "
    f"onnxruntime {version('onnxruntime')}"
)


def _expect(ok: object, what: str, where: str) -> None:
    if not ok:
        pytest.fail(
            f"{VERSIONS}: {what}. interview_pipeline.compat.{where} relies on it; "
            "port that function to the new surface (see compat's docstring for the public "
            "hook that would replace it)",
            pytrace=False,
        )


def _source(obj: Any) -> str:
    return inspect.getsource(obj)


def _digest(obj: Any) -> str:
    return hashlib.sha256(_source(obj).encode()).hexdigest()[:16]


def _params(fn: Any) -> list[str]:
    return list(inspect.signature(fn).parameters)


def _assigns(cls: type, method: str, *names: str) -> list[str]:
    """The ``self.<name> =`` assignments missing from ``cls.method``'s source."""
    text = _source(getattr(cls, method))
    return [n for n in names if not re.search(rf"self\.{n}\s*(:[^=]*)?=", text)]


# --- LiveKit ----------------------------------------------------------------------------------
def test_livekit_track_subscribed_body_is_the_one_copied() -> None:
    # Copied from pipecat-ai 1.14.0 into compat.livekit.FramedLiveKitClient (audio branch).
    fn = LiveKitTransportClient._async_on_track_subscribed
    _expect(
        _digest(fn) == "334ed2436a1f24f1",
        "LiveKitTransportClient._async_on_track_subscribed changed (source hash "
        f"{_digest(fn)}, copied from 334ed2436a1f24f1)",
        "livekit.FramedLiveKitClient",
    )
    for name in ("_close_audio_stream", "_process_audio_stream"):
        _expect(
            inspect.iscoroutinefunction(getattr(LiveKitTransportClient, name, None)),
            f"LiveKitTransportClient.{name} is gone or no longer async",
            "livekit.FramedLiveKitClient",
        )
    missing = _assigns(
        LiveKitTransportClient,
        "__init__",
        "_audio_tracks",
        "_audio_streams",
        "_callbacks",
        "_task_manager",
    )
    _expect(
        not missing,
        f"LiveKitTransportClient.__init__ no longer sets {missing}",
        "livekit.FramedLiveKitClient",
    )


def test_livekit_transport_client_can_be_replaced() -> None:
    expected = ["self", "url", "token", "room_name", "params", "callbacks", "transport_name"]
    _expect(
        _params(LiveKitTransportClient.__init__) == expected,
        f"LiveKitTransportClient.__init__ takes {_params(LiveKitTransportClient.__init__)}, "
        f"not {expected}",
        "livekit.use_framed_audio",
    )
    _expect(
        not _assigns(LiveKitTransport, "__init__", "_client"),
        "LiveKitTransport.__init__ no longer keeps its client in _client",
        "livekit.use_framed_audio",
    )
    transport = InterviewLiveKitTransport(
        "ws://127.0.0.1:1", "token", "room", LiveKitParams(audio_in_enabled=True)
    )
    client: Any = getattr(transport, "_client", None)
    _expect(
        isinstance(client, compat_livekit.FramedLiveKitClient),
        "LiveKitTransport._client is not the client the transport uses",
        "livekit.use_framed_audio",
    )
    assert client._in_rate == 16000 and client._in_frame_ms == 40


def test_livekit_video_publish_options_can_be_overridden() -> None:
    fn = getattr(LiveKitTransportClient, "_video_publish_options", None)
    _expect(
        fn is not None and _params(fn) == ["self"],
        "LiveKitTransportClient._video_publish_options() is gone or takes arguments",
        "livekit.FramedLiveKitClient._video_publish_options",
    )
    transport = InterviewLiveKitTransport(
        "ws://127.0.0.1:1", "token", "room", LiveKitParams(video_out_enabled=True)
    )
    options = getattr(transport, "_client")._video_publish_options()  # noqa: B009 (pinned here)
    assert options.simulcast is False


def test_livekit_runtime_can_be_disposed() -> None:
    client = _ffi_client.FfiClient
    _expect(
        "_instance" in vars(client) and callable(getattr(client, "_dispose", None)),
        "livekit.rtc._ffi_client.FfiClient._instance / ._dispose are gone",
        "dispose_livekit_runtime",
    )


# --- Smart Turn -------------------------------------------------------------------------------
def test_smart_turn_init_skipped_does_only_what_compat_redoes() -> None:
    # compat.smart_turn.init_on_session replaces this __init__ (pipecat-ai 1.14.0): it calls
    # BaseSmartTurn.__init__, sets _log_data, and loads _session; nothing else.
    init = LocalSmartTurnAnalyzerV3.__init__
    _expect(
        _digest(init) == "855c7c9d64ff5cf6",
        f"LocalSmartTurnAnalyzerV3.__init__ changed (source hash {_digest(init)}, "
        "written against 855c7c9d64ff5cf6)",
        "smart_turn.init_on_session",
    )
    _expect(
        "self._session" in _source(LocalSmartTurnAnalyzerV3._predict_endpoint),
        "LocalSmartTurnAnalyzerV3._predict_endpoint no longer predicts on self._session",
        "smart_turn.init_on_session",
    )
    analyzer = SharedSmartTurnAnalyzerV3()
    silence = np.zeros(16000, dtype=np.float32)
    assert compat_smart_turn.predict_endpoint(analyzer, silence)["prediction"] in (0, 1)


# --- Whisper ----------------------------------------------------------------------------------
def test_whisper_model_loading_hook() -> None:
    load = WhisperSTTService._load
    _expect(
        "self._load()" in _source(WhisperSTTService.__init__),
        "WhisperSTTService.__init__ no longer calls self._load()",
        "whisper.HookedWhisperSTTService",
    )
    _expect(
        _digest(load) == "0b8b1cf015dcb0fa",
        f"WhisperSTTService._load changed (source hash {_digest(load)}, written against "
        "0b8b1cf015dcb0fa): check it still only builds self._model from _device and "
        "_compute_type and checks the language",
        "whisper.HookedWhisperSTTService",
    )
    missing = _assigns(WhisperSTTService, "__init__", "_device", "_compute_type", "_model")
    _expect(
        not missing,
        f"WhisperSTTService.__init__ no longer sets {missing}",
        "whisper.HookedWhisperSTTService",
    )


def test_whisper_segment_buffer_and_speaking_flag(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, whisper_socket=tmp_path / "w.sock")  # type: ignore[call-arg]
    stt: Any = build_whisper_stt(settings)  # a remote model: nothing is loaded
    for name, kind in (("_audio_buffer", bytearray), ("_user_speaking", bool), ("_user_id", str)):
        _expect(
            isinstance(getattr(stt, name, None), kind),
            f"{type(stt).__mro__[2].__name__} instances have no {name} ({kind.__name__})",
            "whisper.HookedWhisperSTTService",
        )
    _expect(
        "self._user_speaking = True" in _source(SegmentedSTTService),
        "SegmentedSTTService no longer sets _user_speaking when VAD hears speech",
        "whisper.HookedWhisperSTTService.user_speaking",
    )
    _expect(
        "self._audio_buffer +=" in _source(SegmentedSTTService),
        "SegmentedSTTService no longer appends the segment's audio to _audio_buffer",
        "whisper.HookedWhisperSTTService.segment_audio",
    )
    _expect(
        issubclass(WhisperSTTService, SegmentedSTTService),
        "WhisperSTTService is no longer a SegmentedSTTService",
        "whisper.HookedWhisperSTTService",
    )


def test_whisper_transcription_hook() -> None:
    fn = getattr(WhisperSTTService, "_handle_transcription", None)
    _expect(
        inspect.iscoroutinefunction(fn)
        and _params(fn) == ["self", "transcript", "is_final", "language"],
        "WhisperSTTService._handle_transcription(transcript, is_final, language) is gone",
        "whisper.HookedWhisperSTTService.report_transcription",
    )


# --- Piper and onnxruntime --------------------------------------------------------------------
def test_piper_voice_attribute() -> None:
    from pipecat.services.piper.tts import PiperTTSService  # the 'local' extra (setup.sh)

    _expect(
        not _assigns(PiperTTSService, "__init__", "_voice"),
        "PiperTTSService.__init__ no longer keeps its PiperVoice in _voice",
        "piper.piper_voice",
    )


def test_onnx_session_model_path() -> None:
    path = str(files("pipecat.audio.turn.smart_turn.data").joinpath(MODEL))
    session = ort.InferenceSession(path)
    _expect(
        getattr(session, "_model_path", None) == path,
        "onnxruntime.InferenceSession no longer keeps the file it loaded in _model_path",
        "piper.onnx_model_path",
    )
    assert onnx_model_path(session) == path


# --- LLM --------------------------------------------------------------------------------------
def test_llm_push_text_helper() -> None:
    fn = getattr(LLMService, "_push_llm_text", None)
    _expect(
        inspect.iscoroutinefunction(fn) and _params(fn) == ["self", "text"],
        "LLMService._push_llm_text(text) is gone or changed",
        "llm.push_llm_text",
    )


# --- the quarantine itself --------------------------------------------------------------------
_SELF_PRIVATE = re.compile(r"self\.(_[a-zA-Z]\w*)")
_DEF_PRIVATE = re.compile(r"def (_[a-zA-Z]\w*)")


def _library_private_names(cls: type) -> set[str]:
    """Underscore names pipecat / livekit bases of ``cls`` define or assign on ``self``."""
    names: set[str] = set()
    for base in cls.__mro__[1:]:
        if base.__module__.split(".")[0] not in ("pipecat", "livekit"):
            continue
        for name, member in vars(base).items():
            if name.startswith("_") and not name.startswith("__"):
                names.add(name)
            fn = member.fget if isinstance(member, property) else member
            if inspect.isfunction(fn):
                try:
                    names.update(_SELF_PRIVATE.findall(_source(fn)))
                except OSError:  # generated (a dataclass's __init__): nothing written there
                    pass
    return names


def test_no_module_outside_compat_uses_a_library_private_name() -> None:
    """A subclass outside compat that spells one of its pipecat base's underscore names."""
    offenders: list[str] = []
    prefix = interview_pipeline.__name__ + "."
    for info in pkgutil.walk_packages(interview_pipeline.__path__, prefix):
        if info.name.startswith(prefix + "compat") or info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for cls in vars(module).values():
            if not inspect.isclass(cls) or cls.__module__ != module.__name__:
                continue
            private = _library_private_names(cls)
            if not private:
                continue
            text = _source(cls)
            used = set(_SELF_PRIVATE.findall(text)) | set(_DEF_PRIVATE.findall(text))
            if used & private:
                offenders.append(f"{info.name}.{cls.__name__}: {sorted(used & private)}")
    assert not offenders, (
        "private pipecat/livekit names outside interview_pipeline.compat (move them there, "
        f"with a test here): {offenders}"
    )


# --- ElevenLabs -------------------------------------------------------------------------------
def test_elevenlabs_receive_loop_reads_the_websocket_the_filter_wraps() -> None:
    from pipecat.services.elevenlabs.tts import ElevenLabsTTSService
    from pipecat.services.tts_service import TTSService

    receive = _source(ElevenLabsTTSService._receive_messages)
    _expect(
        "async for message in self._get_websocket()" in receive,
        "ElevenLabsTTSService._receive_messages no longer iterates self._get_websocket()",
        "elevenlabs.LiveContextElevenLabsTTSService",
    )
    _expect(
        "_cumulative_time" in receive,
        "ElevenLabsTTSService._receive_messages no longer keeps the _cumulative_time word clock "
        "(the drift the filter prevents may be gone: check, then drop the filter)",
        "elevenlabs.LiveContextElevenLabsTTSService",
    )
    _expect(
        re.search(r"self\._turn_context_id\s*(:[^=]*)?=", _source(TTSService)),
        "TTSService has no _turn_context_id",
        "elevenlabs.LiveContextElevenLabsTTSService._is_live",
    )


def test_elevenlabs_filter_drops_only_late_messages_of_contexts_no_longer_played() -> None:
    import json as _json

    from interview_pipeline.compat.elevenlabs import LiveContextElevenLabsTTSService

    tts = LiveContextElevenLabsTTSService(
        api_key="x", settings=LiveContextElevenLabsTTSService.Settings(voice="v")
    )
    tts._turn_context_id = "turn"
    available = {"playing"}
    tts.audio_context_available = lambda c: c in available  # type: ignore[method-assign]

    def live(msg: dict[str, Any]) -> bool:
        return tts._is_live(_json.dumps(msg))

    assert live({"audio": "AA", "contextId": "playing"})
    assert live({"audio": "AA", "contextId": "turn"})  # pipecat recreates the turn's context
    assert not live({"audio": "AA", "contextId": "withdrawn"})
    assert live({"isFinal": True, "contextId": "withdrawn"})  # finals are pipecat's to handle
    assert live({"error": "quota"}) and tts._is_live(b"not json")
