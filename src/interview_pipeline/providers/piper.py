"""Local Piper TTS (embedded default) with the voice from the pinned model package.

piper-tts is GPL-3.0, so it is an optional extra; the import stays inside this module.
"""

from __future__ import annotations

from pipecat.services.tts_service import TTSService

from interview_pipeline.compat.piper import onnx_model_path, piper_voice
from interview_pipeline.config import ConfigError, Settings
from interview_pipeline.personas.schema import Persona


def build_piper_tts(settings: Settings, persona: Persona) -> TTSService:
    return build_piper_voice(settings, persona.voice.piper or settings.piper_voice)


def build_piper_voice(settings: Settings, voice: str) -> TTSService:
    try:
        from pipecat.services.piper.tts import PiperTTSService
    except ImportError as exc:  # piper-tts not installed
        raise ConfigError(
            "local TTS needs the 'local' extra (pip install -e '.[local]'): " + str(exc)
        ) from None
    directory = settings.piper_voice_path()
    if not (directory / f"{voice}.onnx").exists():
        raise ConfigError(f"Piper voice {voice!r} not found in {directory}")
    # pipecat drops a sentence whose first audio is later than this (its default is 3 s, which
    # a long sentence on a busy CPU exceeds); the conductor says a dropped line again.
    return PiperTTSService(
        download_dir=directory,
        settings=PiperTTSService.Settings(voice=voice),
        stop_frame_timeout_s=settings.tts_timeout_s,
    )


def single_threaded(tts: TTSService) -> TTSService:
    """Swap the voice's ONNX session for one that runs on the calling thread only.

    A template process forks bots, and a fork loses every thread but the caller: Piper's
    default session keeps a pool of worker threads that its children would wait on forever.
    Replacing the session joins those threads; the weights are then shared by every fork.
    Costs a little of a sentence's first-audio time on an idle machine, nothing on a busy one.
    """
    import onnxruntime

    voice = piper_voice(tts)
    session = getattr(voice, "session", None)
    if voice is None or session is None:
        return tts
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    # Without ORT's arena a sentence's activations are freed after it (the bots' malloc
    # returns large blocks to the system) instead of staying in every forked bot.
    options.enable_cpu_mem_arena = False
    voice.session = onnxruntime.InferenceSession(
        onnx_model_path(session), sess_options=options, providers=["CPUExecutionProvider"]
    )
    return tts
