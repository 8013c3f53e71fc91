"""pipecat's LiveKit client, with the candidate's audio stream opened framed."""

from __future__ import annotations

from livekit import rtc
from loguru import logger
from pipecat.transports.livekit.transport import (
    LiveKitParams,
    LiveKitTransport,
    LiveKitTransportClient,
)


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
        (A public hook for publish options in pipecat's LiveKitParams would remove this.)
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


def use_framed_audio(
    transport: LiveKitTransport,
    *,
    url: str,
    token: str,
    room_name: str,
    params: LiveKitParams,
    sample_rate: int,
    frame_ms: int,
    simulcast: bool = False,
) -> None:
    """Replace the client pipecat's transport built with a framed one (same callbacks)."""
    pipecat_client = transport._client
    transport._client = FramedLiveKitClient(
        url,
        token,
        room_name,
        params,
        pipecat_client._callbacks,
        transport.name,
        sample_rate=sample_rate,
        frame_ms=frame_ms,
        simulcast=simulcast,
    )
