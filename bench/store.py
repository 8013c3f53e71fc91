"""Session store operations, SQLite against Postgres: what one store call costs the launcher
(its event loop waits for each) and a bot (one ``append_turn`` per turn).

Prints p50/p95 per operation; never passes or fails. Postgres is a DSN given with ``--dsn``, or
a throwaway local server started as the tests start theirs (Debian's ``postgresql``), on
loopback TCP: a database on another host adds its network round trip to every call.

    python bench/store.py                  # 300 sessions, 8 turns each, both backends
    python bench/store.py --dsn postgresql://user:pw@db/interviews --sessions 100
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from interview_pipeline.launcher.models import SessionStatus  # noqa: E402
from interview_pipeline.launcher.store import SessionRecord, SessionStore  # noqa: E402
from interview_pipeline.launcher.store_postgres import PostgresSessionStore  # noqa: E402
from interview_pipeline.launcher.store_sqlite import SqliteSessionStore  # noqa: E402
from interview_pipeline.transcript import Turn  # noqa: E402


def run(store: SessionStore, sessions: int, turns: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {}

    def timed(name: str, call: Callable[..., object], *args: object) -> None:
        started = time.perf_counter()
        call(*args)
        times.setdefault(name, []).append(time.perf_counter() - started)

    for i in range(sessions):
        sid = f"bench-{i}"
        rec = SessionRecord(sid, f"room-{i}", "maya", "Sam", "candidate", owner="l", webhook="*")
        timed("create", store.create, rec)
        timed(
            "update status (+event)", partial(store.update, sid, status=SessionStatus.IN_PROGRESS)
        )
        for n in range(turns):
            turn = Turn("candidate", f"answer {n} " * 20, float(n), n + 0.5, kind="answer")
            timed("append_turn", store.append_turn, sid, turn)
        timed("get", store.get, sid)
        timed("turns", store.turns, sid)
        timed("webhook_state", store.webhook_state, sid)
        timed("due_events", store.due_events, "l", time.time())
    timed("list_sessions(100)", store.list_sessions, None, 100)
    timed("count_by_status", store.count_by_status)
    return times


@contextlib.contextmanager
def postgres(dsn: str | None) -> Iterator[str]:
    if dsn:
        yield dsn
        return
    from tests.launcher.pg import local_postgres

    with local_postgres() as server:
        yield server.new_database()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", help="a Postgres to use (default: start a local one)")
    parser.add_argument("--sessions", type=int, default=300)
    parser.add_argument("--turns", type=int, default=8)
    args = parser.parse_args()
    results: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = SqliteSessionStore(Path(tmp) / "bench.sqlite3")
        results["sqlite"] = run(sqlite, args.sessions, args.turns)
        sqlite.close()
    with postgres(args.dsn) as dsn:
        pg = PostgresSessionStore(dsn)
        results["postgres"] = run(pg, args.sessions, args.turns)
        pg.close()
    print(f"{args.sessions} sessions x {args.turns} turns; ms p50 / p95")
    print(f"{'operation':26} {'sqlite':>15} {'postgres':>15}")
    for op in results["sqlite"]:
        cells = []
        for backend in ("sqlite", "postgres"):
            xs = sorted(results[backend][op])
            p95 = xs[min(len(xs) - 1, int(0.95 * len(xs)))]
            cells.append(f"{statistics.median(xs) * 1e3:6.2f} / {p95 * 1e3:6.2f}")
        print(f"{op:26} {cells[0]:>15} {cells[1]:>15}")


if __name__ == "__main__":
    main()
