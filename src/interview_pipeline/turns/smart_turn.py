"""Smart Turn v3 on one ONNX session per process, built without ORT's memory arena.

pipecat's analyzer loads its own session per instance, and ORT's arena then keeps every
inference's activations, so each interview's memory grows with its first few turns. Here the session is built once per process (in the launcher's template, so
every forked bot shares its weights) with the arena off; with glibc returning large blocks to
the system (``MALLOC_MMAP_THRESHOLD_``, set by the pool), a prediction's memory goes away
after it, at a small cost in time per end-of-turn prediction.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import onnxruntime as ort
from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3

from interview_pipeline.compat.smart_turn import init_on_session

MODEL = "smart-turn-v3.2-cpu.onnx"


@functools.cache
def smart_turn_session() -> ort.InferenceSession:
    """One single-threaded session (safe to fork: it starts no threads)."""
    options = ort.SessionOptions()
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.inter_op_num_threads = 1
    options.intra_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.enable_cpu_mem_arena = False
    path = resources.files("pipecat.audio.turn.smart_turn.data").joinpath(MODEL)
    return ort.InferenceSession(str(path), sess_options=options)


class SharedSmartTurnAnalyzerV3(LocalSmartTurnAnalyzerV3):
    """pipecat's local Smart Turn v3, on the shared session instead of a private one."""

    def __init__(self, **kwargs: Any):
        init_on_session(self, smart_turn_session(), **kwargs)
