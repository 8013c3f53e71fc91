"""Run the launcher: ``python server.py`` (settings from the environment / .env).

Without LIVEKIT_URL it starts a local ``livekit-server --dev`` (if the binary is installed) so
that one command gives a working local setup; otherwise it says how to get a server.
"""

from __future__ import annotations

import argparse
import sys

import uvicorn
from loguru import logger
from pydantic import SecretStr

from interview_pipeline.config import Settings
from interview_pipeline.launcher.app import create_app
from interview_pipeline.launcher.livekit import (
    HOW_TO_GET_LIVEKIT,
    LocalLiveKitServer,
    find_server_binary,
)
from interview_pipeline.launcher.worker import DEFAULT_BOT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the interview launcher (FastAPI).")
    parser.add_argument(
        "--bot", default=DEFAULT_BOT, help="bot module or .py file (tests and benches)"
    )
    args = parser.parse_args(argv)
    settings = Settings()
    local: LocalLiveKitServer | None = None
    if not settings.livekit_url:
        binary = find_server_binary(settings)
        if binary is None:
            print(HOW_TO_GET_LIVEKIT, file=sys.stderr)
            return 2
        local = LocalLiveKitServer(binary, log_path=settings.data_dir / "livekit-server.log")
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        local.start()
        creds = local.credentials
        settings = settings.model_copy(
            update={
                "livekit_url": creds.url,
                "livekit_api_key": SecretStr(creds.api_key),
                "livekit_api_secret": SecretStr(creds.api_secret),
            }
        )
        logger.info("started a local livekit-server (dev mode) at {}", creds.url)
    try:
        app = create_app(settings, bot=args.bot, on_shutdown=local.stop if local else None)
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="info")
    finally:
        if local is not None:
            local.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
