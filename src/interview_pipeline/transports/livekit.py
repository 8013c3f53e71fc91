"""LiveKit transport whose candidate audio arrives at the pipeline's rate, in 40 ms frames.

pipecat's LiveKit client opens each participant's ``AudioStream`` at LiveKit's defaults
(48 kHz, 10 ms frames) and resamples every frame in Python: every frame travels through every
processor and every observer. LiveKit's native side can resample and frame the stream itself,
so we ask it for 16 kHz in 40 ms frames: a quarter of the frames and no Python resampling, for
one frame of input buffering, which VAD's stop wait dwarfs (longer frames gain nothing: Silero
reads 32 ms windows). The CPU it saves per bot is in the launcher README ("Measured"). The
client swap itself is pipecat-private surface, so it lives in ``compat.livekit``.

The camera track is published without simulcast (``compat.livekit``). Everything else is
pipecat's transport, unchanged.
"""

from __future__ import annotations

from pipecat.transports.livekit.transport import LiveKitParams, LiveKitTransport

from interview_pipeline.compat.livekit import use_framed_audio

#: Candidate audio frame size asked of LiveKit.
FRAME_MS = 40


class InterviewLiveKitTransport(LiveKitTransport):
    def __init__(
        self,
        url: str,
        token: str,
        room_name: str,
        params: LiveKitParams,
        *,
        in_sample_rate: int = 16000,
        in_frame_ms: int = FRAME_MS,
        simulcast: bool = False,
    ):
        super().__init__(url, token, room_name, params)
        use_framed_audio(
            self,
            url=url,
            token=token,
            room_name=room_name,
            params=params,
            sample_rate=params.audio_in_sample_rate or in_sample_rate,
            frame_ms=in_frame_ms,
            simulcast=simulcast,
        )
