"""Vendor faults on the cloud path: what the candidate hears, and how fast.

Replays personas/maya.yaml's two-answer script (tests/fixtures/scripts/maya_happy.yaml) through
``simulate`` with pipecat's real Deepgram, OpenAI and ElevenLabs services on the loopback
fakes, once per fault, with the fakes' failure knobs (see fakes/_server.py), and prints per
fault: the outcome and its reason, the gap from the end of the first answer to the next
interviewer audio (what the candidate waits through), the wall time from the fault to the end
of the session, the candidate turns kept against answers played, and the degraded lines.
Nothing is asserted (tests/faults asserts the behaviour); the machine is noisy.

    .venv/bin/python bench/faults.py [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from loguru import logger  # noqa: E402

from interview_pipeline.fakes import (  # noqa: E402
    DeepgramFake,
    ElevenLabsFake,
    OpenAIFake,
    cloud_settings,
    interviewer_responder,
)
from interview_pipeline.simulate import load_persona, load_script, run_simulation  # noqa: E402

SCRIPT = ROOT / "tests" / "fixtures" / "scripts" / "maya_happy.yaml"
Fakes = tuple[DeepgramFake, OpenAIFake, ElevenLabsFake]
#: Turned before the interview starts (setup) and, for mid-interview faults, once its moment
#: comes (trigger); both get the fakes and return nothing.
Knob = Callable[[Fakes], Awaitable[None]]


async def _none(_f: Fakes) -> None:
    return None


async def _llm_500(f: Fakes) -> None:
    f[1].faults.status = 500


async def _llm_429(f: Fakes) -> None:
    f[1].faults.status = 429


async def _llm_hang(f: Fakes) -> None:
    f[1].faults.hang = True


async def _llm_killed(f: Fakes) -> None:
    await f[1].stop()


async def _after_first_request(f: Fakes) -> None:
    while not f[1].completions:  # noqa: ASYNC110 (polling the fake)
        await asyncio.sleep(0.05)


async def _tts_gone(f: Fakes) -> None:
    f[2].faults.status = 503
    await f[2].drop_connections()


async def _tts_reconnect(f: Fakes) -> None:
    await f[2].drop_connections()


async def _after_answer_words(f: Fakes) -> None:
    while not any("research" in str(r).lower() for r in f[0].results):  # noqa: ASYNC110
        await asyncio.sleep(0.05)


async def _stt_drop(f: Fakes) -> None:
    await f[0].drop_connections()


#: name -> (setup, moment, trigger)
CASES: dict[str, tuple[Knob, Knob, Knob]] = {
    "none": (_none, _none, _none),
    "llm 500 always": (_llm_500, _none, _none),
    "llm 429 always": (_llm_429, _none, _none),
    "llm accepts, never answers": (_llm_hang, _none, _none),
    "llm process gone": (_llm_killed, _none, _none),
    "tts closes, refuses reconnects": (_none, _after_first_request, _tts_gone),
    "tts closes mid-line, reconnects": (_none, _after_first_request, _tts_reconnect),
    "stt drops mid-answer": (_none, _after_answer_words, _stt_drop),
}


async def run_case(name: str, out: Path) -> dict[str, Any]:
    setup, moment, trigger = CASES[name]
    async with (
        DeepgramFake(finalize_delay_s=0.25) as deepgram,
        OpenAIFake(interviewer_responder, first_token_delay_s=0.6) as openai,
        ElevenLabsFake(first_audio_delay_s=0.075) as elevenlabs,
    ):
        fakes = (deepgram, openai, elevenlabs)
        settings = cloud_settings(deepgram, openai, elevenlabs)
        await setup(fakes)
        fault_at: dict[str, float] = {}

        async def inject() -> None:
            await moment(fakes)
            await trigger(fakes)
            fault_at["t"] = time.monotonic()

        injector = asyncio.create_task(inject())
        persona, _ = load_persona(settings, "maya")
        answers = load_script(SCRIPT)
        t0 = time.monotonic()
        result = await run_simulation(
            settings, persona, answers, out, echo=lambda _: None, with_avatar=False
        )
        ended = time.monotonic()
        injector.cancel()
    turns = [t.to_dict() for t in result.turns]
    first_answer = next((t for t in turns if t["speaker"] == "candidate"), None)
    after = [
        t["start"]
        for t in turns
        if first_answer and t["speaker"] == "interviewer" and t["start"] > first_answer["end"]
    ]
    kept = sum(t["speaker"] == "candidate" for t in turns)
    return {
        "fault": name,
        "outcome": result.outcome,
        "reason": result.metrics.get("outcome_reason"),
        "gap_after_answer_s": round(after[0] - first_answer["end"], 2) if after else None,
        "fault_to_end_s": round(ended - fault_at.get("t", t0), 1),
        "answers_kept": f"{kept}/{len(answers)}",
        "incomplete": sum(bool(t["meta"].get("incomplete")) for t in turns),
        "cut_lines": sum(t["kind"] == "cut_off" for t in turns),
        "degraded": result.metrics.get("degraded", {}),
        "turns": turns,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--case", action="append", choices=sorted(CASES), default=None)
    args = parser.parse_args()
    logger.remove()
    logger.add(sys.stderr, level="ERROR")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.case or list(CASES):
            row = asyncio.run(run_case(name, Path(tmp) / name.replace(" ", "_")))
            rows.append(row)
            print(f"  [{name}] {row['outcome']}", flush=True)
    header = ("fault", "outcome", "gap s", "fault->end s", "kept", "incompl", "cut", "degraded")
    print("\n" + " | ".join(header))
    for r in rows:
        print(
            " | ".join(
                str(x)
                for x in (
                    r["fault"],
                    r["outcome"],
                    r["gap_after_answer_s"],
                    r["fault_to_end_s"],
                    r["answers_kept"],
                    r["incomplete"],
                    r["cut_lines"],
                    r["degraded"] or "-",
                )
            )
        )
        if r["outcome"] == "failed":
            print(f"    reason: {r['reason']}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
