"""pipecat's local Smart Turn v3 analyzer, built on a session it did not load."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnxruntime as ort
from pipecat.audio.turn.smart_turn.base_smart_turn import BaseSmartTurn
from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3


def init_on_session(
    analyzer: LocalSmartTurnAnalyzerV3, session: ort.InferenceSession, **kwargs: Any
) -> None:
    """Initialise ``analyzer`` as pipecat would, except that it predicts on ``session``.

    Skips ``LocalSmartTurnAnalyzerV3.__init__``, whose only other work is loading a session
    of its own (and reading the debug flag that writes every turn's audio to disk).
    """
    BaseSmartTurn.__init__(analyzer, **kwargs)
    analyzer._log_data = False
    analyzer._session = session


def session_of(analyzer: LocalSmartTurnAnalyzerV3) -> ort.InferenceSession:
    return analyzer._session


def predict_endpoint(analyzer: LocalSmartTurnAnalyzerV3, audio: np.ndarray) -> dict[str, Any]:
    """One prediction on 16 kHz float audio, without the turn bookkeeping around it."""
    result: dict[str, Any] = analyzer._predict_endpoint(audio)
    return result
