"""No stored record can make a read route fail: damaged rows are served with ``withheld``.

The rows are written straight into SQLite, as an older launcher (no limits) or another writer
would have left them; the launcher then has to serve every one of them without a 500.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from interview_pipeline.launcher.models import MAX_METADATA_DEPTH, SessionStatus
from interview_pipeline.launcher.store import SessionRecord, SqliteSessionStore, StoredTurn
from interview_pipeline.launcher.views import session_out
from interview_pipeline.transcript import Turn

from .conftest import make_settings, running_launcher

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


def deep_json(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


#: id -> (column overrides, the field `withheld` must name)
DAMAGED: dict[str, tuple[dict[str, object], str | None]] = {
    "deep": ({"metadata": deep_json(900)}, "metadata"),  # what the reported POST stored
    "deeper": ({"metadata": deep_json(100_000)}, "metadata"),  # past json.loads' recursion
    "notjson": ({"metadata": "{not json"}, "metadata"),
    "notobject": ({"metadata": "[1, 2]"}, "metadata"),
    "nan": ({"metadata": '{"x": NaN}'}, "metadata"),
    "huge": ({"metadata": json.dumps({"x": "y" * 100_000})}, "metadata"),
    "status": ({"status": "sleeping"}, "status"),
    "latin1": ({"candidate_name": b"Jos\xe9"}, None),  # a BLOB, not UTF-8: served replaced
    "time": ({"created_at": "yesterday", "ended_at": "later"}, "created_at"),
    "fine": ({}, None),
}


def write_damaged(path: Path) -> None:
    SqliteSessionStore(path).close()  # the schema
    db = sqlite3.connect(str(path))
    now = time.time()
    for sid, (overrides, _) in DAMAGED.items():
        row: dict[str, object] = {
            "id": sid, "room": f"room-{sid}", "persona": "maya", "candidate_name": "Sam",
            "candidate_identity": "candidate", "status": "completed", "created_at": now,
            "updated_at": now, "metadata": None,
        }  # fmt: skip
        row.update(overrides)
        cols = ",".join(row)
        db.execute(f"INSERT INTO sessions ({cols}) VALUES ({','.join('?' * len(row))})", [*row.values()])  # fmt: skip
    db.execute(
        'INSERT INTO turns (session_id, seq, speaker, text, start, "end", meta, written_at)'
        " VALUES ('fine', 1, 'interviewer', ?, 0, 'soon', '{bad', 0)",
        (b"caf\xe9",),
    )
    db.commit()
    db.close()


async def test_damaged_records_never_500(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, None, pool_size=0)
    write_damaged(settings.resolved_store_path())
    async with running_launcher(settings) as (_, client):
        r = await client.get("/sessions", params={"limit": 1000})
        assert r.status_code == 200, r.text[:300]
        listed = {s["session_id"]: s for s in r.json()["sessions"]}
        assert set(listed) == set(DAMAGED)
        for sid, (_, field) in DAMAGED.items():
            for method in ("GET", "DELETE"):
                r = await client.request(method, f"/sessions/{sid}")
                assert r.status_code == 200, (method, sid, r.text[:300])
                served = r.json()
                withheld = served["withheld"] or {}
                if field is None:
                    assert field not in withheld
                else:
                    assert field in withheld, (sid, withheld)
                    assert (listed[sid]["withheld"] or {}).keys() == withheld.keys()
            for route in ("transcript", "report"):
                r = await client.get(f"/sessions/{sid}/{route}")
                assert r.status_code < 500, (route, sid, r.text[:300])
            assert (await client.get(f"/join/{sid}/session")).status_code == 401
        assert listed["status"]["status"] == "failed"
        assert listed["latin1"]["candidate_name"] == "Jos\ufffd"
        assert listed["time"]["created_at"] == 0.0 and listed["time"]["ended_at"] is None
        # A turn the bot store could not read whole: text replaced, times withheld, not a 500.
        fine = (await client.get("/sessions/fine")).json()
        assert fine["withheld"] == {"transcript": fine["withheld"]["transcript"]}
        assert (await client.get("/sessions/fine/transcript")).json()["turns"][0][
            "text"
        ] == "caf\ufffd"
        assert (await client.get("/metrics")).status_code == 200
        r = await client.get("/sessions", params={"status": "failed"})
        assert r.status_code == 200


def test_metadata_at_the_limit_is_served_whole() -> None:
    deep: dict[str, object] = {"leaf": "é"}
    for _ in range(MAX_METADATA_DEPTH - 1):
        deep = {"a": deep}
    record = SessionRecord(
        id="s1", room="r", persona="maya", candidate_name="Sam", candidate_identity="candidate",
        metadata=deep, status=SessionStatus.COMPLETED,
    )  # fmt: skip
    turns = [StoredTurn(1, Turn("interviewer", "Hello", 0.0, 1.0, kind="opening"))]
    out = session_out(record, turns)
    assert out.withheld is None and out.metadata == deep
    assert out.transcript is not None and out.transcript[0].text == "Hello"
    json.loads(out.model_dump_json())
