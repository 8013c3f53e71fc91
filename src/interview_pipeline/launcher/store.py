"""Session store: sessions and their transcript turns, behind one small interface.

The launcher and every bot process write to the store (bots append their own turns as they are
said, so a crash keeps them). The records, the protocol and the row decoding live here, shared by
the backends: SQLite (``store_sqlite``, the single-machine default) and Postgres
(``store_postgres``, shared by launchers and bot hosts on several machines). Both are one set of
queries (``store_sql``) over a different connection; ``migrations`` versions their schema.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from interview_pipeline.config import Settings
from interview_pipeline.launcher.models import SessionStatus
from interview_pipeline.transcript import Speaker, Turn

SESSION_COLUMNS = (
    "id",
    "room",
    "persona",
    "candidate_name",
    "candidate_email",
    "candidate_identity",
    "metadata",
    "status",
    "reason",
    "created_at",
    "updated_at",
    "bot_joined_at",
    "candidate_joined_at",
    "ended_at",
    "owner",
    "webhook",
)
UPDATABLE = frozenset(
    {"status", "reason", "bot_joined_at", "candidate_joined_at", "ended_at", "updated_at"}
)

#: A fetched row, by column name (``sqlite3.Row`` and psycopg's dict rows both are).
Row = Mapping[str, Any]


@dataclass
class SessionRecord:
    id: str
    room: str
    persona: str
    candidate_name: str
    candidate_identity: str
    status: SessionStatus = SessionStatus.STARTING
    candidate_email: str | None = None
    metadata: dict[str, Any] | None = None
    reason: str | None = None
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    bot_joined_at: float | None = None
    candidate_joined_at: float | None = None
    ended_at: float | None = None
    #: The launcher that runs this session's bot (``Settings.resolved_launcher_id``): restart
    #: recovery closes only its own sessions, or those of a launcher whose lease ran out.
    owner: str | None = None
    #: Where this session's webhooks go (``webhooks.endpoint_id``); None: it has none, and the
    #: store records no events for it.
    webhook: str | None = None
    #: Stored values that could not be read back as written, with why (the field holds a
    #: stand-in): reads serve what they can instead of failing on one damaged row.
    damaged: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ConsentRecord:
    """What the candidate accepted on their page before joining, and when (server clock)."""

    version: str
    text_sha256: str  # of the notice as shown (placeholders filled): which wording it was
    accepted_at: float


@dataclass
class StoredTurn:
    seq: int
    turn: Turn
    #: Wall clock when the turn reached the store (turn times are the pipeline's own clock).
    written_at: float = 0.0


@dataclass
class OutboxEvent:
    """A webhook waiting in the store; ``body`` is fixed when the event happens, so every retry
    sends the same bytes (the receiver dedupes on ``event_id``)."""

    n: int
    event_id: str
    session_id: str
    type: str
    body: str
    webhook: str | None
    attempts: int = 0


@dataclass
class HostBeat:
    """One worker host as its last heartbeat row described it. Kept in the store next to the
    sessions because LiveKit's API does not show a worker's load: launchers read these rows for
    the 429 decision and to notice a host that died (``fleet``)."""

    host_id: str
    name: str
    capacity: int
    #: Warm bots idle in the pool: the host accepts a job only onto one of these.
    ready: int = 0
    draining: bool = False
    sessions: list[str] = field(default_factory=list)
    started_at: float = field(default_factory=time.time)
    heartbeat_at: float = field(default_factory=time.time)

    @property
    def free(self) -> int:
        if self.draining:
            return 0
        return max(0, min(self.capacity - len(self.sessions), self.ready))


@dataclass
class WebhookState:
    """One session's webhook deliveries, as ``GET /sessions/{id}`` shows them."""

    delivered: int = 0
    pending: int = 0
    dead: int = 0
    #: The oldest undelivered event has failed at least once (it is being retried).
    failing: bool = False
    last_error: str | None = None


class SessionStore(Protocol):
    """What the launcher and the bots need from persistence; nothing backend-specific."""

    #: Where the store is, for logs (never a password).
    where: str

    def create(self, record: SessionRecord) -> None: ...
    def get(self, session_id: str) -> SessionRecord | None: ...
    def latest_in_room(self, room: str) -> SessionRecord | None: ...
    def list_sessions(
        self, status: SessionStatus | None = None, limit: int = 100
    ) -> list[SessionRecord]: ...
    def update(self, session_id: str, **changes: Any) -> SessionRecord | None: ...
    def append_turn(self, session_id: str, turn: Turn) -> int: ...
    def turns(self, session_id: str, after: int = 0) -> list[StoredTurn]: ...
    def sink(self, session_id: str) -> SessionTranscriptSink: ...
    def count_by_status(self) -> dict[SessionStatus, int]: ...
    # --- several launchers on one store ------------------------------------------------
    def heartbeat(self, launcher_id: str, now: float | None = None) -> None: ...
    def take_over(
        self, launcher_id: str, lease_s: float, *, own: bool, now: float | None = None
    ) -> list[SessionRecord]: ...
    # --- webhook outbox -----------------------------------------------------------------
    def add_event(self, session_id: str, type: str, data: dict[str, Any]) -> str | None: ...
    def due_events(self, launcher_id: str, now: float, limit: int = 50) -> list[OutboxEvent]: ...
    def event_result(
        self, n: int, *, delivered: bool, error: str | None = None, retry_at: float | None = None
    ) -> None: ...
    def webhook_state(self, session_id: str) -> WebhookState: ...
    def webhook_counts(self) -> dict[str, int]: ...
    # --- the candidate's consent ----------------------------------------------------------
    def record_consent(self, session_id: str, consent: ConsentRecord) -> ConsentRecord: ...
    def consent(self, session_id: str) -> ConsentRecord | None: ...
    # --- worker hosts (dispatch mode) ---------------------------------------------------
    def beat_worker(self, host: HostBeat) -> None: ...
    def workers(self) -> list[HostBeat]: ...
    def remove_worker(self, host_id: str) -> None: ...
    # --- review pages: keyset pagination ------------------------------------------------
    def list_page(
        self,
        *,
        status: SessionStatus | None = None,
        persona: str | None = None,
        before: tuple[float | str, str] | None = None,
        limit: int = 100,
    ) -> list[SessionRecord]: ...
    def close(self) -> None: ...


class SessionTranscriptSink:
    """The ``TranscriptSink`` a bot writes to: every turn lands in the store as it ends."""

    def __init__(self, store: SessionStore, session_id: str):
        self.store = store
        self.session_id = session_id

    def append(self, turn: Turn) -> None:
        self.store.append_turn(self.session_id, turn)


def read_record(row: Row) -> SessionRecord:
    """Never raises: a row another writer (or an older launcher) damaged is read with stand-ins
    and ``damaged`` saying why, so one bad row cannot take ``GET /sessions`` down."""
    damaged: dict[str, str] = {}
    metadata: dict[str, Any] | None = None
    if row["metadata"]:
        try:
            loaded = json.loads(_str(row["metadata"]))
        except (ValueError, RecursionError) as exc:
            damaged["metadata"] = f"stored metadata is not readable JSON ({type(exc).__name__})"
        else:
            if isinstance(loaded, dict):
                metadata = loaded
            else:
                damaged["metadata"] = "stored metadata is not a JSON object"
    status, known = read_status(row["status"])
    if not known:
        damaged["status"] = f"stored status {_text(row['status'])!r} is unknown; served as failed"
    return SessionRecord(
        id=_str(row["id"]),
        room=_str(row["room"]),
        persona=_str(row["persona"]),
        candidate_name=_str(row["candidate_name"]),
        candidate_email=_text(row["candidate_email"]),
        candidate_identity=_str(row["candidate_identity"]),
        metadata=metadata,
        status=status,
        reason=_text(row["reason"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        bot_joined_at=row["bot_joined_at"],
        candidate_joined_at=row["candidate_joined_at"],
        ended_at=row["ended_at"],
        owner=_text(row["owner"]),
        webhook=_text(row["webhook"]),
        damaged=damaged,
    )


def read_turn(row: Row) -> StoredTurn:
    """A stored turn; like ``read_record``, it never raises on a damaged row."""
    return StoredTurn(
        seq=row["seq"],
        turn=Turn(
            speaker=cast(Speaker, _str(row["speaker"])),
            text=_str(row["text"]),
            start=row["start"],
            end=row["end"],
            question_id=_text(row["question_id"]),
            interrupted=bool(row["interrupted"]),
            kind=_str(row["kind"]),
            meta=_turn_meta(row["meta"]),
        ),
        written_at=row["written_at"],
    )


def read_consent(row: Row) -> ConsentRecord:
    return ConsentRecord(_str(row["version"]), _str(row["text_sha256"]), row["accepted_at"])


def read_status(value: object) -> tuple[SessionStatus, bool]:
    """The stored status, or (failed, False) for one this launcher does not know."""
    try:
        return SessionStatus(_str(value)), True
    except ValueError:
        return SessionStatus.FAILED, False


def _text(value: object) -> str | None:
    """A TEXT column as str: a BLOB (or a number another writer stored) becomes text too."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return lenient_text(value)
    return str(value)


def _str(value: object) -> str:
    return _text(value) or ""


def lenient_text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def _turn_meta(raw: object) -> dict[str, Any]:
    """A turn's meta is diagnostics only: unreadable meta reads as empty, never as an error."""
    if not raw:
        return {}
    try:
        meta = json.loads(_str(raw))
    except (ValueError, RecursionError):
        return {}
    return meta if isinstance(meta, dict) else {}


def event_body(
    event_id: str, type: str, session_id: str, created_at: float, data: dict[str, Any]
) -> str:
    """The JSON a webhook delivers: the same shape for every event type."""
    envelope = {
        "id": event_id,
        "type": type,
        "created_at": created_at,
        "session_id": session_id,
        "data": data,
    }
    return json.dumps(envelope, separators=(",", ":"), default=str)


def open_store(settings: Settings) -> SessionStore:
    """The store the settings name: Postgres when ``INTERVIEW_DATABASE_URL`` is set, else the
    SQLite file (the single-machine default). Launcher and bots both open it this way."""
    dsn = settings.resolved_database_url()
    if dsn is not None:
        from interview_pipeline.launcher.store_postgres import PostgresSessionStore

        return PostgresSessionStore(dsn)
    from interview_pipeline.launcher.store_sqlite import SqliteSessionStore

    return SqliteSessionStore(settings.resolved_store_path())


def __getattr__(name: str) -> Any:
    """``SqliteSessionStore`` is still importable from here (it lived here before the split)."""
    if name == "SqliteSessionStore":
        from interview_pipeline.launcher.store_sqlite import SqliteSessionStore

        return SqliteSessionStore
    raise AttributeError(name)
