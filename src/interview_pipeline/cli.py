"""``interview-pipeline``: simulate an interview, run a bot, validate and render personas.

Every user error ends as one line on stderr and a non-zero exit (never a traceback), and
nothing is left half written.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from loguru import logger

from interview_pipeline.audio import AudioInputError
from interview_pipeline.compat import dispose_livekit_runtime
from interview_pipeline.config import ConfigError, Settings
from interview_pipeline.launcher.worker import DEFAULT_BOT
from interview_pipeline.personas import PersonaError, PersonaLibrary

EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_RUNTIME = 4


def _fail(message: str, code: int = EXIT_INPUT) -> int:
    print(f"interview-pipeline: error: {message}", file=sys.stderr)
    return code


def _configure_logging(verbose: bool) -> None:
    logger.remove()
    level = "DEBUG" if verbose else os.environ.get("INTERVIEW_LOG_LEVEL", "WARNING")
    logger.add(sys.stderr, level=level)


def _cmd_simulate(args: argparse.Namespace, settings: Settings) -> int:
    from interview_pipeline.simulate import ScriptError, load_persona, load_script, run_simulation

    try:
        persona, portrait = load_persona(settings, args.persona)
        answers = load_script(Path(args.answers))
        settings.check_providers()
    except (PersonaError, ScriptError, AudioInputError, ConfigError) as exc:
        return _fail(str(exc))
    print(f"simulating persona {persona.id!r} with {len(answers)} recorded answers -> {args.out}")
    result = asyncio.run(
        run_simulation(
            settings,
            persona,
            answers,
            Path(args.out),
            candidate_name=args.candidate,
            portrait=portrait,
            with_avatar=not args.no_video,
        )
    )
    summary = result.metrics.get("summary", {}).get("voice_to_voice", {})
    wer = result.metrics.get("mean_wer")
    print(
        f"done: {result.outcome}; asked {len(result.questions_asked)}/{len(persona.questions)} "
        f"questions; voice-to-voice p50 {summary.get('p50', float('nan')):.2f}s; "
        f"WER {wer if wer is not None else 'n/a'}; wrote {result.out_dir}"
    )
    # Non-zero only for a failed interview: an abandoned one ran as designed.
    return EXIT_RUNTIME if result.outcome == "failed" else 0


def _cmd_bot(args: argparse.Namespace, settings: Settings) -> int:
    from interview_pipeline.bot import run_bot
    from interview_pipeline.launcher.livekit import (
        LiveKitCredentials,
        LiveKitUnavailable,
        mint_token,
    )
    from interview_pipeline.transcript import JsonlSink

    library = PersonaLibrary(
        settings.personas_dir, face_cache_dir=settings.resolved_face_cache_dir()
    )
    try:
        persona = library.load(args.persona)
        settings.check_providers()
        creds = LiveKitCredentials.from_settings(settings)
        token = mint_token(
            creds,
            room=args.room,
            identity="interviewer",
            name=persona.interviewer.name,
            ttl_s=settings.token_ttl_s,
            agent=True,
        )
    except (PersonaError, ConfigError, LiveKitUnavailable) as exc:
        return _fail(str(exc))
    sink = JsonlSink(settings.data_dir / "bots" / f"{args.room}.jsonl")

    def show(value: str, reason: str | None = None) -> None:
        print(f"status: {value}" + (f" ({reason})" if reason else ""))

    status = asyncio.run(
        run_bot(
            settings,
            persona,
            room_name=args.room,
            token=token,
            candidate_name=args.candidate,
            sink=sink,
            portrait=library.portrait(persona),
            on_status=show,
        )
    )
    print(f"interview {status}; transcript: {sink.path}")
    _dispose_livekit()
    return 0


def _cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    """This machine's bot pool as a LiveKit agent worker, until SIGTERM (then it drains)."""
    from interview_pipeline.launcher.agent_worker import run_worker_host
    from interview_pipeline.launcher.livekit import LiveKitUnavailable

    try:
        settings.check_providers()
        code = asyncio.run(
            run_worker_host(
                settings,
                bot=args.bot,
                name=args.name,
                log_dir=Path(args.log_dir) if args.log_dir else None,
            )
        )
    except (ConfigError, LiveKitUnavailable) as exc:
        return _fail(str(exc))
    _dispose_livekit()
    return code


def _dispose_livekit() -> None:
    """Stop LiveKit's native runtime before exit; left running it can abort the interpreter."""
    try:
        dispose_livekit_runtime()
    except Exception:  # best effort at shutdown
        pass


def _cmd_validate(args: argparse.Namespace, settings: Settings) -> int:
    """Every problem of every file, then one summary line: fix them all in one pass."""
    library = PersonaLibrary(
        settings.personas_dir, face_cache_dir=settings.resolved_face_cache_dir()
    )
    report = library.check([Path(p) for p in args.paths] or None)
    for issue in report.issues:
        print(issue, file=sys.stderr)
    valid = len(report.valid_files)
    if report.issues:
        problems = f"{len(report.issues)} problem(s)"
        return _fail(f"{problems}; {valid} of {len(report.files)} persona file(s) valid")
    print(f"ok: {valid} persona file(s) valid")
    return 0


def _cmd_render(args: argparse.Namespace, settings: Settings) -> int:
    try:
        from interview_pipeline.avatar.render import render_command
    except ImportError:
        return _fail("clip rendering is not available in this build", EXIT_RUNTIME)
    try:
        return render_command(settings, args.persona)
    except (PersonaError, ConfigError) as exc:
        return _fail(str(exc))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="interview-pipeline", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    sim = sub.add_parser("simulate", help="run a whole interview offline from recorded answers")
    sim.add_argument("--persona", required=True, help="persona id (file name in personas/)")
    sim.add_argument("--answers", required=True, help="SCRIPT.yaml: list of {wav, think_s, text}")
    sim.add_argument("--out", required=True, help="output folder")
    sim.add_argument("--candidate", default="Sam", help="candidate's name for the greeting")
    sim.add_argument("--no-video", action="store_true", help="skip the avatar stage")
    sim.set_defaults(func=_cmd_simulate)

    bot = sub.add_parser("bot", help="join a LiveKit room and run the interview there")
    bot.add_argument("--room", required=True)
    bot.add_argument("--persona", required=True)
    bot.add_argument("--candidate", default="there", help="candidate's name for the greeting")
    bot.set_defaults(func=_cmd_bot)

    worker = sub.add_parser(
        "worker", help="run this machine's bot pool as a LiveKit agent worker (dispatch mode)"
    )
    worker.add_argument("--name", default=None, help="host name in heartbeats (default: hostname)")
    worker.add_argument("--bot", default=DEFAULT_BOT, help="bot module or .py file (tests)")
    worker.add_argument("--log-dir", default=None, help="folder for bot process logs")
    worker.set_defaults(func=_cmd_worker)

    personas = sub.add_parser("personas", help="persona files")
    psub = personas.add_subparsers(dest="personas_command", required=True)
    val = psub.add_parser("validate", help="check persona YAML; one line per problem")
    val.add_argument("paths", nargs="*", help="files or folders (default: INTERVIEW_PERSONAS_DIR)")
    val.set_defaults(func=_cmd_validate)
    ren = psub.add_parser("render", help="pre-render scripted lines as Hedra avatar clips")
    ren.add_argument("persona")
    ren.set_defaults(func=_cmd_render)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _configure_logging(args.verbose)
    try:
        settings = Settings()
    except Exception as exc:  # pydantic-settings validation of env vars
        return _fail(f"bad configuration: {str(exc).splitlines()[0]}", EXIT_USAGE)
    try:
        return int(args.func(args, settings))
    except (PersonaError, ConfigError, AudioInputError) as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return _fail("interrupted", 130)


if __name__ == "__main__":
    sys.exit(main())
