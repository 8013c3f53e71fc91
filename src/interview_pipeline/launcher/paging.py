"""Opaque cursors for ``GET /sessions`` and the review list: keyset pagination, newest first.

A cursor is the key (created_at, id) of the last session on the page before, as base64url
JSON. It is opaque to clients (only the API makes them) but carries nothing secret; one the API
did not make is a 422 naming ``cursor``, never a 500 or an empty page. A damaged row whose
``created_at`` is text (another writer's) still makes a cursor that works: SQLite orders text
after every number, so newest first such rows come first and the pages go on past them.
"""

from __future__ import annotations

import base64
import binascii
import json
import math

from interview_pipeline.launcher.models import SessionStatus
from interview_pipeline.launcher.sessions import Rejected
from interview_pipeline.launcher.store import SessionRecord, SessionStore

MAX_CURSOR_CHARS = 512


def encode_cursor(record: SessionRecord) -> str:
    created: object = record.created_at
    if not isinstance(created, int | float | str) or (
        isinstance(created, float) and not math.isfinite(created)
    ):
        created = str(created)  # a BLOB or worse from another writer: never a 500
    raw = json.dumps([created, record.id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float | str, str]:
    bad = Rejected(422, "cursor: not a cursor this API handed out", field="cursor")
    if len(cursor) > MAX_CURSOR_CHARS:
        raise bad
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, session_id = json.loads(raw)
    except (ValueError, TypeError, binascii.Error, RecursionError):
        raise bad from None
    if isinstance(created_at, str) and isinstance(session_id, str):
        return created_at, session_id
    if (
        not isinstance(created_at, int | float)
        or isinstance(created_at, bool)
        or not math.isfinite(created_at)
        or not isinstance(session_id, str)
    ):
        raise bad
    return float(created_at), session_id


def page(
    store: SessionStore,
    *,
    limit: int,
    cursor: str | None = None,
    status: SessionStatus | None = None,
    persona: str | None = None,
) -> tuple[list[SessionRecord], str | None]:
    """One page and the cursor of the next (``None`` on the last page)."""
    before = decode_cursor(cursor) if cursor else None
    rows = store.list_page(status=status, persona=persona, before=before, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1]) if more and rows else None
