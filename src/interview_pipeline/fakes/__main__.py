"""Run the three vendor fakes and print the environment that points the app at them.

Usage: ``python -m interview_pipeline.fakes [--stt-delay 0.25] [--llm-delay 0.6] ...``, then
paste the printed ``export`` lines into the shell that starts the app.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from interview_pipeline.fakes.deepgram import DeepgramFake
from interview_pipeline.fakes.elevenlabs import ElevenLabsFake
from interview_pipeline.fakes.openai import OpenAIFake

#: Obviously fake keys: the app only needs a non-empty value to choose the cloud providers.
DUMMY_KEYS = {
    "DEEPGRAM_API_KEY": "fake-deepgram-key",
    "OPENAI_API_KEY": "fake-openai-key",
    "ELEVENLABS_API_KEY": "fake-elevenlabs-key",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m interview_pipeline.fakes", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--deepgram-port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--openai-port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--elevenlabs-port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--stt-delay", type=float, default=0.25, help="Finalize -> final result, s")
    parser.add_argument("--llm-delay", type=float, default=0.6, help="request -> first token, s")
    parser.add_argument("--llm-token-delay", type=float, default=0.005, help="between tokens, s")
    parser.add_argument("--tts-delay", type=float, default=0.075, help="text -> first audio, s")
    parser.add_argument("--reply", default=None, help="fixed LLM reply (default: a short ack)")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    responder = (lambda _request: args.reply) if args.reply else None
    fakes = (
        DeepgramFake(finalize_delay_s=args.stt_delay, host=args.host, port=args.deepgram_port),
        OpenAIFake(
            responder,
            first_token_delay_s=args.llm_delay,
            token_delay_s=args.llm_token_delay,
            host=args.host,
            port=args.openai_port,
        ),
        ElevenLabsFake(
            first_audio_delay_s=args.tts_delay, host=args.host, port=args.elevenlabs_port
        ),
    )
    async with contextlib.AsyncExitStack() as stack:
        deepgram, openai, elevenlabs = [await stack.enter_async_context(f) for f in fakes]
        env = {
            "INTERVIEW_DEEPGRAM_BASE_URL": deepgram.base_url,
            "INTERVIEW_OPENAI_BASE_URL": openai.base_url,
            "INTERVIEW_ELEVENLABS_BASE_URL": elevenlabs.base_url,
            "INTERVIEW_STT_PROVIDER": "deepgram",
            "INTERVIEW_LLM_PROVIDER": "openai",
            "INTERVIEW_TTS_PROVIDER": "elevenlabs",
            **DUMMY_KEYS,
        }
        for name, value in env.items():
            print(f"export {name}={value}")
        print("# fakes running; Ctrl-C to stop", flush=True)
        stopped = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stopped.set)
        await stopped.wait()


def main(argv: list[str] | None = None) -> None:
    asyncio.run(serve(parse_args(argv)))


if __name__ == "__main__":
    main()
