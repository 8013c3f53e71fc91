"""When the avatar sends a frame, and the listening nod's timing.

Every frame sent is a frame the WebRTC encoder must compress, the largest cost of a face in a
session. While the interviewer speaks each tick of the persona's ``fps`` clock sends one (the
mouth changes every frame, and lip-sync needs them). While it does not, only every n-th tick
does (``avatar.listening_fps``), and of those, one that would repeat the last frame exactly
(the idle head motion moves in whole pixels, often not at all from one frame to the next) is
left out too, but never for more than a second, so a subscriber that joins or loses a packet
gets a fresh keyframe soon.
"""

from __future__ import annotations

import math

#: While idle, a frame that repeats the last one is still sent this often.
KEEPALIVE_S = 1.0


class FramePacer:
    """Decides which idle ticks send a frame; speaking ticks always do."""

    def __init__(self, fps: int, idle_fps: int) -> None:
        self.every = max(1, round(fps / max(1, idle_fps)))
        #: The renderer's state of the last frame sent (None: unknown, never a repeat).
        self.shown: tuple[object, ...] | None = None
        self._sent_at = -math.inf

    def skip(self, tick: int, now: float, state: tuple[object, ...] | None) -> bool:
        """Whether an idle tick sends nothing; ``state`` is what its frame would show."""
        if tick % self.every:
            return True
        return state is not None and state == self.shown and now - self._sent_at < KEEPALIVE_S

    def sent(self, now: float) -> None:
        self._sent_at = now


#: A listening nod: a slow dip and back, then again while the wait goes on.
_NOD_S, _NOD_EVERY_S = 0.9, 2.6


def listening_nod(since: float) -> float:
    """How far the head is dipped ``since`` seconds into a listening wait (0..1)."""
    phase = since % _NOD_EVERY_S
    if since < 0 or phase > _NOD_S:
        return 0.0
    return math.sin(math.pi * phase / _NOD_S) ** 2
