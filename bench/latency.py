"""Voice-to-voice latency of replayed interviews: embedded engines and the cloud path.

Prints, per provider set, p50/p95 of end of candidate speech → first interviewer audio,
split into endpointing wait, STT, LLM, TTS and the pipeline's own overhead (pipecat's
UserBotLatencyObserver contributions, which sum to the total). The cloud path runs pipecat's
real Deepgram/OpenAI/ElevenLabs services against loopback fakes set to fixed delays
(STT final 250 ms, LLM first token 600 ms, TTS first audio 75 ms). Numbers are printed,
never asserted: the machine is shared and noisy.

    .venv/bin/python bench/latency.py [--runs N] [--only embedded|cloud]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

from loguru import logger

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from interview_pipeline.config import Settings  # noqa: E402
from interview_pipeline.fakes import (  # noqa: E402
    DeepgramFake,
    ElevenLabsFake,
    OpenAIFake,
    cloud_settings,
    interviewer_responder,
)
from interview_pipeline.metrics import TurnLatency, percentile  # noqa: E402
from interview_pipeline.simulate import load_persona, load_script, run_simulation  # noqa: E402

SCRIPT = ROOT / "tests" / "fixtures" / "scripts" / "alex_happy.yaml"
STAGES = ("endpointing", "stt", "llm", "tts", "overhead")


async def one_run(settings: Settings) -> list[TurnLatency]:
    persona, portrait = load_persona(settings, "alex")
    with tempfile.TemporaryDirectory() as tmp:
        result = await run_simulation(
            settings,
            persona,
            load_script(SCRIPT),
            Path(tmp) / "out",
            portrait=portrait,
            with_avatar=False,
            echo=lambda _: None,
        )
    if result.outcome != "completed":
        print(f"  warning: run ended {result.outcome}", file=sys.stderr)
    turns = []
    for t in result.metrics["turns"]:
        if "breakdown_s" in t:
            lat = TurnLatency(voice_to_voice=t["pipecat_voice_to_voice_s"], **t["breakdown_s"])
            lat.ttfb = t["ttfb_s"]
            turns.append(lat)
    return turns


async def embedded(runs: int) -> list[TurnLatency]:
    settings = Settings(stt_provider="whisper", llm_provider="scripted", tts_provider="piper")
    out: list[TurnLatency] = []
    for _ in range(runs):
        out += await one_run(settings)
    return out


async def cloud(runs: int) -> list[TurnLatency]:
    async with (
        DeepgramFake(finalize_delay_s=0.25) as dg,
        OpenAIFake(interviewer_responder, first_token_delay_s=0.6) as oa,
        ElevenLabsFake(first_audio_delay_s=0.075) as el,
    ):
        settings = cloud_settings(dg, oa, el)
        out: list[TurnLatency] = []
        for _ in range(runs):
            out += await one_run(settings)
        finalize = [lat for c in dg.connections for lat in c.finalize_latencies]
        if finalize:
            print(
                f"  (fake Deepgram finalize→result p50 {percentile(finalize, 50) * 1000:.0f} ms, "
                f"fake TTS first audio set to 75 ms)"
            )
    return out


def report(name: str, turns: list[TurnLatency]) -> None:
    print(f"\n{name}: {len(turns)} candidate turns")
    if not turns:
        print("  no turns measured")
        return
    print(f"  {'':24}{'p50 ms':>9}{'p95 ms':>9}")

    def row(label: str, values: list[float]) -> None:
        p50, p95 = percentile(values, 50) * 1000, percentile(values, 95) * 1000
        print(f"  {label:24}{p50:9.0f}{p95:9.0f}")

    row("voice-to-voice", [t.voice_to_voice for t in turns])
    row("  minus endpointing", [t.voice_to_voice - t.endpointing for t in turns])
    for stage in STAGES:
        row(f"  {stage}", [getattr(t, stage) for t in turns])
    for kind in ("stt", "llm", "tts"):
        values = [t.ttfb[kind] for t in turns if kind in t.ttfb]
        if values:
            row(f"  TTFB {kind}", values)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1, help="replayed interviews per path")
    parser.add_argument("--only", choices=("embedded", "cloud"))
    args = parser.parse_args()
    logger.remove()
    logger.add(sys.stderr, level=os.environ.get("INTERVIEW_LOG_LEVEL", "ERROR"))
    print(f"replaying {SCRIPT.name} ({args.runs} run(s) per path) on {os.cpu_count()} cores")
    if args.only in (None, "embedded"):
        report("embedded (Whisper tiny.en, scripted interviewer, Piper)", await embedded(args.runs))
    if args.only in (None, "cloud"):
        report(
            "cloud path on loopback fakes (Deepgram, OpenAI, ElevenLabs)", await cloud(args.runs)
        )
    print(
        "\ntargets: overhead p95 <= 20 ms; embedded voice-to-voice p50 minus endpointing <= 600 ms"
    )


if __name__ == "__main__":
    asyncio.run(main())
