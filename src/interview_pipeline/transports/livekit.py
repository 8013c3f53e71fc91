"""LiveKit transport whose candidate audio arrives at the pipeline's rate, in 40 ms frames.

pipecat's LiveKit client opens each participant's ``AudioStream`` at LiveKit's defaults
(48 kHz, 10 ms frames) and resamples every frame in Python: 100 frames a second, each
travelling through every processor and every observer. LiveKit's native side can resample and
frame the stream itself, so we ask it for 16 kHz in 40 ms frames: a quarter of the frames and
no Python resampling, for at most 40 ms of input buffering (30 ms more than LiveKit's 10 ms),
which VAD's 0.8 s stop wait dwarfs. Measured with a silent candidate on the cloud path: a bot
takes 0.087 of a core with 20 ms frames and 0.061–0.066 with 40 ms (60 ms frames were no
better: Silero reads 32 ms windows).

The camera track is published without simulcast (see ``_video_publish_options``). Everything
else is pipecat's transport, unchanged.
"""

from __future__ import annotations

from livekit import rtc
from loguru import logger
from pipecat.transports.livekit.transport import (
    LiveKitParams,
    LiveKitTransport,
    LiveKitTransportClient,
)

#: Candidate audio frame size asked of LiveKit.
FRAME_MS = 40


class FramedLiveKitClient(LiveKitTransportClient):
    """pipecat's client, with the audio stream opened at our rate and frame size."""

    def __init__(
        self, *args: object, sample_rate: int, frame_ms: int, simulcast: bool, **kwargs: object
    ):
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._in_rate = sample_rate
        self._in_frame_ms = frame_ms
        self._simulcast = simulcast

    def _video_publish_options(self) -> rtc.TrackPublishOptions:
        """pipecat's options, without simulcast and keeping the frame rate under load.

        One candidate watches one interviewer: the SDK's default simulcast encodes lower
        layers nobody subscribes to. Lip-sync needs frames more than pixels, so when the
        encoder is short of CPU or bandwidth it lowers the resolution, not the frame rate.
        """
        options = super()._video_publish_options()
        options.simulcast = self._simulcast
        options.degradation_preference = rtc.DegradationPreference.MAINTAIN_FRAMERATE.value
        return options

    async def _async_on_track_subscribed(
        self,
        track: rtc.Track,
        publication: rtc.RemoteTrackPublication,
        participant: rtc.RemoteParticipant,
    ) -> None:
        if track.kind != rtc.TrackKind.KIND_AUDIO or self._task_manager is None:
            await super()._async_on_track_subscribed(track, publication, participant)
            return
        # As pipecat does it (close a republished track's old stream first), but framed.
        logger.info(f"Audio track subscribed: {track.sid} from participant {participant.identity}")
        await self._close_audio_stream(participant.identity)
        self._audio_tracks[participant.identity] = track
        stream = rtc.AudioStream(
            track, sample_rate=self._in_rate, num_channels=1, frame_size_ms=self._in_frame_ms
        )
        task = self._task_manager.create_task(
            self._process_audio_stream(stream, participant.identity),
            f"{self}::_process_audio_stream",
        )
        self._audio_streams[participant.identity] = (stream, task)
        await self._callbacks.on_audio_track_subscribed(participant.identity)


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
        pipecat_client = self._client
        self._client = FramedLiveKitClient(
            url,
            token,
            room_name,
            self._params,
            pipecat_client._callbacks,
            self.name,
            sample_rate=self._params.audio_in_sample_rate or in_sample_rate,
            frame_ms=in_frame_ms,
            simulcast=simulcast,
        )
