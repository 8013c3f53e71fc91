"""Turn-taking on the pause corpus: does the interviewer wait while candidates think?

Replays tests/fixtures/corpus (answers in espeak-ng, flite and festival voices, about half with
a 2-5 s thinking pause) through the real pipeline, one short interview per three answers (one
question each, no follow-ups), and prints per mode: answers the interviewer cut into (its audio
started between the answer's start and its end of speech), questions lost (asked by the plan
but never spoken to the end), transcripts whose answer count per question is off, questions
said twice, voice-to-voice on fluent answers, the wait after paused answers, and WER per voice.
Times are read where the candidate is: the replay transport's log, or the room client's ears.

Modes: ``embedded`` (simulate: Whisper, scripted interviewer, Piper), ``cloud`` (simulate with
pipecat's Deepgram/OpenAI/ElevenLabs services on loopback fakes at fixed delays: STT final
250 ms, LLM first token 600 ms, TTS first audio 75 ms) and ``room`` (interviews in a real
LiveKit room through the launcher, measured by a client that joins like a candidate).
Nothing is asserted: a shared 2-core machine is noisy and turn-taking is being tuned; the
figures compare runs. ``--json`` keeps every answer's score and the transcripts, to see why.

    .venv/bin/python bench/turns.py [--quick] [--mode embedded|cloud|room|all] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "launcher"))

from loguru import logger  # noqa: E402

from interview_pipeline import simulate  # noqa: E402
from interview_pipeline.audio import load_pcm16  # noqa: E402
from interview_pipeline.compat import dispose_livekit_runtime  # noqa: E402
from interview_pipeline.config import Settings  # noqa: E402
from interview_pipeline.personas import Persona, PersonaLibrary  # noqa: E402
from interview_pipeline.transports.replay import ReplayAnswer, ReplayTransport  # noqa: E402
from tests.corpus_util import (  # noqa: E402
    Interview,
    InterviewScore,
    Window,
    bench_persona,
    interviews,
    make_corpus,
    score_interview,
    summarize,
    write_persona_file,
)

MODES = ("embedded", "cloud", "room")
#: What each mode replays, so a default run stays near 15 minutes on 2 cores: the whole corpus
#: offline, one interview per voice on the cloud path, three in a room (one at a time). Three
#: simulate processes at once use about 0.8 of the 2 cores (an interview is mostly waiting).
#: --quick: i01 and i02 cover every pause kind, fluent answers and two engines.
DEFAULT_SETS: dict[str, tuple[str, ...] | None] = {
    "embedded": None,
    "cloud": ("i01", "i02", "i03", "i04", "i05", "i06", "i07"),
    "room": ("i01", "i02", "i03"),
}
QUICK_SETS: dict[str, tuple[str, ...] | None] = {
    "embedded": ("i01", "i02"),
    "cloud": ("i01", "i02"),
    "room": ("i01",),
}
#: The candidate starts answering this long after the interviewer stops (simulate), or once the
#: interviewer has been quiet this long (room: the client cannot know a line ended sooner).
THINK_S = 1.0


def corpus(cache: Path, only: list[str] | None) -> list[Interview]:
    manifest = make_corpus.load_manifest()
    return interviews(make_corpus.build_all(manifest, cache=cache), only)


def alex_persona() -> Persona:
    return PersonaLibrary(ROOT / "personas").load("alex")


# --- simulate (embedded and cloud) --------------------------------------------------------------
@contextlib.contextmanager
def capture_transports() -> Iterator[list[ReplayTransport]]:
    """run_simulation builds its ReplayTransport inside; keep a handle on it for its log (the
    candidate's clock: when each answer played, when interviewer audio started)."""
    made: list[ReplayTransport] = []
    original = simulate.ReplayTransport

    class Capturing(original):  # type: ignore[valid-type,misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    simulate.ReplayTransport = Capturing  # type: ignore[misc]
    try:
        yield made
    finally:
        simulate.ReplayTransport = original  # type: ignore[misc]


async def simulate_one(settings: Settings, interview: Interview, out: Path) -> InterviewScore:
    persona = bench_persona(alex_persona(), interview)
    replay = [
        ReplayAnswer(load_pcm16(a.wav), THINK_S, a.entry.text, a.timing.speech_end_s)
        for a in interview.answers
    ]
    with capture_transports() as made:
        result = await simulate.run_simulation(
            settings, persona, replay, out, echo=lambda _: None, with_avatar=False, idle_end_s=6.0
        )
    log = made[-1].log
    windows: list[Window | None] = [None] * len(interview.answers)
    for timing in log.answers:
        windows[timing.index] = Window.of(timing.start, interview.answers[timing.index])
    return score_interview(
        interview,
        persona,
        outcome=result.outcome,
        windows=windows,
        bot_starts=log.bot_started,
        bot_stops=log.bot_stopped,
        turns=[t.to_dict() for t in result.turns],
        asked=result.questions_asked,
    )


async def simulate_worker(mode: str, ids: list[str], cache: Path) -> None:
    """One process runs its share of the interviews in turn and prints a JSON line for each."""
    from interview_pipeline import fakes

    todo = corpus(cache, ids)
    with tempfile.TemporaryDirectory(prefix="bench-turns-") as tmpdir:
        tmp = Path(tmpdir)
        async with contextlib.AsyncExitStack() as stack:
            if mode == "embedded":
                settings = Settings(
                    _env_file=None,  # type: ignore[call-arg]
                    data_dir=tmp,
                    stt_provider="whisper",
                    llm_provider="scripted",
                    tts_provider="piper",
                )
            else:
                dg = await stack.enter_async_context(fakes.DeepgramFake(finalize_delay_s=0.25))
                oa = await stack.enter_async_context(
                    fakes.OpenAIFake(fakes.interviewer_responder, first_token_delay_s=0.6)
                )
                el = await stack.enter_async_context(
                    fakes.ElevenLabsFake(first_audio_delay_s=0.075)
                )
                settings = fakes.cloud_settings(dg, oa, el, data_dir=tmp)
                # Load the fakes' Whisper and Piper now: a vendor is never cold, and a first
                # reply that waits on a model load is a bench artefact (it can stall a turn).
                await asyncio.to_thread(fakes.WhisperTranscriber().load)
                await asyncio.to_thread(fakes.PiperSynth().load)
            for interview in todo:
                # A stuck interview (no reply ever comes) must not stall the whole bench.
                limit = 90 + 4 * sum(a.timing.duration_s for a in interview.answers)
                line: dict[str, Any]
                try:
                    score = await asyncio.wait_for(
                        simulate_one(settings, interview, tmp / interview.id), limit
                    )
                    line = {"ok": score.to_dict()}
                except TimeoutError:
                    line = {"error": f"{interview.id}: no end after {limit:.0f} s (stuck)"}
                except Exception as exc:  # one broken interview must not hide the others
                    line = {"error": f"{interview.id}: {exc!r}"[:500]}
                print("RESULT " + json.dumps(line), flush=True)


def run_sharded(mode: str, todo: list[Interview], jobs: int, cache: Path) -> list[dict[str, Any]]:
    """Interviews spread over ``jobs`` processes (each has its own models and event loop)."""
    shards = [todo[k::jobs] for k in range(jobs) if todo[k::jobs]]
    lines: queue.Queue[dict[str, Any] | None] = queue.Queue()

    def run(shard: list[Interview]) -> None:
        ids = [i.id for i in shard]
        cmd = [sys.executable, __file__, "--worker", mode, "--cache", str(cache)]
        with subprocess.Popen(
            cmd + ["--interviews", ",".join(ids)], stdout=subprocess.PIPE, text=True
        ) as proc:
            assert proc.stdout is not None
            for raw in proc.stdout:
                if raw.startswith("RESULT "):
                    line = json.loads(raw[7:])
                    ids = [i for i in ids if i != line.get("ok", {}).get("interview")]
                    ids = [i for i in ids if not line.get("error", "").startswith(f"{i}:")]
                    lines.put(line)
        for missing in ids:
            lines.put({"error": f"{missing}: worker exited with {proc.returncode}"})
        lines.put(None)

    threads = [threading.Thread(target=run, args=(shard,), daemon=True) for shard in shards]
    for t in threads:
        t.start()
    out: list[dict[str, Any]] = []
    running = len(threads)
    while running:
        line = lines.get()
        if line is None:
            running -= 1
            continue
        out.append(line)
        done = line.get("ok", {}).get("interview") or line.get("error")
        print(f"  [{mode}] {len(out)}/{len(todo)} {done}", file=sys.stderr, flush=True)
    return out


# --- a real LiveKit room through the launcher ---------------------------------------------------
async def room_one(client: Any, url: str, interview: Interview) -> dict[str, Any]:
    from candidate import SimulatedCandidate

    persona = bench_persona(alex_persona(), interview)
    body = {"persona": persona.id, "candidate": {"name": "Sam"}}
    created = (await client.post("/sessions", json=body)).json()
    sid = created["session_id"]
    await wait_status(client, sid, {"waiting_for_candidate"}, 120)
    cand = SimulatedCandidate(url, created["candidate_token"], rate=16000, frame_ms=20)
    await cand.join()
    windows: list[Window | None] = [None] * len(interview.answers)
    try:
        await cand.wait_utterance(0.0, timeout_s=60)
        await cand.wait_quiet(THINK_S, 60)
        for k, answer in enumerate(interview.answers):
            if k and await interview_over(client, sid):
                break  # as in simulate: no answers after the goodbye
            sent = await cand.say(answer.wav)
            windows[k] = w = Window.of(sent - answer.timing.duration_s, answer)
            with contextlib.suppress(TimeoutError):
                await cand.wait_utterance(w.speech_end, timeout_s=20)
            await cand.wait_quiet(THINK_S, 60)
        data = await wait_status(client, sid, {"completed", "abandoned", "failed"}, 30)
    except (TimeoutError, RuntimeError):
        data = (await client.delete(f"/sessions/{sid}")).json()
    finally:
        await cand.leave()
    score = score_interview(
        interview,
        persona,
        outcome=str(data.get("status")),
        windows=windows,
        bot_starts=[u.start for u in cand.utterances],
        bot_stops=[u.end for u in cand.utterances],
        turns=[dict(t) for t in data.get("transcript") or []],
    )
    return score.to_dict()


async def interview_over(client: Any, sid: str) -> bool:
    data = (await client.get(f"/sessions/{sid}")).json()
    closing = any(t.get("kind") == "closing" for t in data.get("transcript") or [])
    return closing or data["status"] in ("completed", "abandoned", "failed")


async def wait_status(client: Any, sid: str, wanted: set[str], timeout_s: float) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        data = (await client.get(f"/sessions/{sid}")).json()
        if data["status"] in wanted:
            return dict(data)
        if data["status"] in ("failed", "completed", "abandoned") or time.monotonic() > deadline:
            raise RuntimeError(f"session {sid}: {data['status']} ({data.get('reason')})")
        await asyncio.sleep(0.1)


async def run_room(todo: list[Interview]) -> list[dict[str, Any]]:
    import httpx

    from interview_pipeline.launcher.app import create_app
    from interview_pipeline.launcher.livekit import LocalLiveKitServer, find_server_binary

    binary = find_server_binary(Settings(_env_file=None))  # type: ignore[call-arg]
    if binary is None:
        return [{"error": "livekit-server binary not found (see scripts/setup.sh)"}]
    lines: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-turns-room-") as tmpdir:
        tmp = Path(tmpdir)
        for interview in todo:
            write_persona_file(tmp / "personas", bench_persona(alex_persona(), interview))
        with LocalLiveKitServer(binary, log_path=tmp / "livekit.log") as lk:
            settings = Settings(
                _env_file=None,  # type: ignore[call-arg]
                livekit_url=lk.url,
                livekit_api_key=lk.API_KEY,
                livekit_api_secret=lk.API_SECRET,
                api_keys="bench-key",
                data_dir=tmp,
                store_path=tmp / "sessions.sqlite3",
                personas_dir=tmp / "personas",
                pool_size=1,
                max_sessions=2,
                drain_grace_s=1.0,
                stt_provider="whisper",
                llm_provider="scripted",
                tts_provider="piper",
            )
            app = create_app(settings, bot="interview_pipeline.bot", log_dir=tmp / "logs")
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                headers = {"Authorization": "Bearer bench-key"}
                async with httpx.AsyncClient(
                    transport=transport, base_url="http://launcher", headers=headers, timeout=120
                ) as client:
                    for interview in todo:
                        try:
                            lines.append({"ok": await room_one(client, lk.url, interview)})
                        except Exception as exc:
                            lines.append({"error": f"{interview.id}: {exc!r}"[:500]})
                        print(f"  [room] {len(lines)}/{len(todo)}", file=sys.stderr, flush=True)
    dispose_livekit_runtime()
    return lines


# --- report -------------------------------------------------------------------------------------
def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def print_report(results: dict[str, dict[str, Any]]) -> None:
    """One column per mode, one row per figure."""
    sums = {m: r["summary"] for m, r in results.items()}

    def row(label: str, cell: Any) -> None:
        print(f"{label:40}" + "".join(f"{cell(s):>14}" for s in sums.values()))

    print("\n" + " " * 40 + "".join(f"{m:>14}" for m in sums))
    row("interviews completed", lambda s: f"{s['completed']}/{s['interviews']}")
    row("answers played", lambda s: f"{s['played']}/{s['answers']}")
    row(
        "answers cut in (of them, in the pause)",
        lambda s: f"{s['answers_cut_in']} ({s['cut_ins_in_pause']})",
    )
    row("  of them, pause >= max_thinking_pause_s", lambda s: s["answers_cut_in_at_max_pause"])
    row("questions lost / asked", lambda s: f"{s['questions_lost']}/{s['questions_asked']}")
    row("questions with answer count != 1", lambda s: s["attribution_off"])
    row("questions said twice", lambda s: s["questions_repeated"])
    row("answers heard as 2+ turns", lambda s: s["answers_split"])
    row("interviewer false starts (audio < 1 s)", lambda s: s["interviewer_bursts_under_1s"])
    row(
        "v2v, fluent answers p50 / p95 (s)",
        lambda s: f"{_s(s['v2v_fluent_p50_s'])} / {_s(s['v2v_fluent_p95_s'])}",
    )
    row(
        "wait after paused answers p50 / max (s)",
        lambda s: f"{_s(s['paused_wait_p50_s'])} / {_s(s['paused_wait_max_s'])}",
    )
    kinds = sorted({k for s in sums.values() for k in s["cut_in_by_pause_kind"]})
    for k in kinds:
        row(f"cut in / played, pause: {k}", lambda s, k=k: s["cut_in_by_pause_kind"].get(k, "-"))
    voices = sorted({v for s in sums.values() for v in s["wer_by_voice"]})
    for v in voices:
        row(f"WER {v} (fillers ignored)", lambda s, v=v: _s(s["wer_by_voice"].get(v)))
    print(f"{'wall time (s)':40}" + "".join(f"{r['elapsed_s']:>14.0f}" for r in results.values()))
    for mode, r in results.items():
        for err in r["errors"]:
            print(f"error [{mode}]: {err}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=(*MODES, "all"), default="all")
    parser.add_argument("--quick", action="store_true", help="two interviews (room: one)")
    parser.add_argument("--interviews", help="comma-separated interview ids, or all (every mode)")
    parser.add_argument("--jobs", type=int, default=3, help="parallel simulate processes")
    parser.add_argument("--cache", type=Path, default=make_corpus.DEFAULT_CACHE)
    parser.add_argument("--json", type=Path, help="write the figures and per-answer scores here")
    parser.add_argument("--worker", choices=MODES[:2], help=argparse.SUPPRESS)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="The HMAC key")  # the local dev server's key
    logger.remove()
    logger.add(sys.stderr, level=os.environ.get("INTERVIEW_LOG_LEVEL", "ERROR"))
    if args.worker:
        asyncio.run(simulate_worker(args.worker, args.interviews.split(","), args.cache))
        return
    sets = QUICK_SETS if args.quick else DEFAULT_SETS
    if args.interviews:
        chosen = None if args.interviews == "all" else tuple(args.interviews.split(","))
        sets = dict.fromkeys(MODES, chosen)
    modes = MODES if args.mode == "all" else (args.mode,)
    everything = corpus(args.cache, None)  # synthesise now, before any worker needs the files
    n = sum(len(i.answers) for i in everything)
    print(
        f"pause corpus: {n} answers in {len(everything)} interviews; {os.cpu_count()} cores, "
        f"{args.jobs} simulate processes at once"
    )
    results: dict[str, dict[str, Any]] = {}
    for mode in modes:
        wanted = sets[mode]
        todo = [i for i in everything if wanted is None or i.id in wanted]
        print(f"{mode}: {len(todo)} interviews ({sum(len(i.answers) for i in todo)} answers)")
        t0 = time.monotonic()
        if mode == "room":
            lines = asyncio.run(run_room(todo))
        else:
            lines = run_sharded(mode, todo, max(1, args.jobs), args.cache)
        scores = [InterviewScore.from_dict(x["ok"]) for x in lines if "ok" in x]
        scores.sort(key=lambda s: s.interview)
        results[mode] = {
            "summary": summarize(scores),
            "elapsed_s": round(time.monotonic() - t0, 1),
            "interviews": [s.to_dict() for s in scores],
            "errors": [x["error"] for x in lines if "error" in x],
        }
        print(f"{mode}: {results[mode]['elapsed_s']:.0f} s wall", flush=True)
    print_report(results)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"think_s": THINK_S, "modes": results}, indent=2))


if __name__ == "__main__":
    main()
