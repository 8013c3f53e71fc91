"""A real Postgres for the tests: ``initdb`` into a temporary folder, ``postgres`` on a free
loopback port, one server per test session and a fresh database per test.

Debian's ``postgresql`` package (installed by scripts/setup.sh) provides the binaries under
/usr/lib/postgresql/<version>/bin. Postgres refuses to run as root: as root the server runs as
the ``postgres`` user the package creates (``setpriv`` execs it in place, so the pid we hold is
the server's own and stopping it needs no second process to forward the signal).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg

from interview_pipeline.launcher.store import SessionStore
from interview_pipeline.launcher.store_postgres import PostgresSessionStore
from interview_pipeline.launcher.store_sqlite import SqliteSessionStore

NO_POSTGRES = (
    "Postgres server binaries not found: apt-get install postgresql "
    "(scripts/setup.sh does), or put initdb and postgres on PATH"
)


@dataclass
class LocalPostgres:
    port: int
    user: str
    log: Path

    def dsn(self, db: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{db}"

    def new_database(self) -> str:
        """A fresh, empty database; its DSN."""
        name = f"t_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.dsn(name)


def open_location(location: str) -> SessionStore:
    """A store by where it is: a postgresql:// DSN or an SQLite file path."""
    if location.startswith("postgresql://"):
        return PostgresSessionStore(location)
    return SqliteSessionStore(Path(location))


def find_bin_dir() -> Path | None:
    found = shutil.which("postgres")
    if found and shutil.which("initdb"):
        return Path(os.path.realpath(found)).parent
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    return versions[-1].parent if versions else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def local_postgres() -> Iterator[LocalPostgres]:
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise RuntimeError(NO_POSTGRES)
    as_user: list[str] = []
    root = tempfile.mkdtemp(prefix="interview-pg-")
    user = pwd.getpwuid(os.getuid()).pw_name
    if os.getuid() == 0:
        try:
            pg = pwd.getpwnam("postgres")
        except KeyError:
            raise RuntimeError("running as root needs a `postgres` user: " + NO_POSTGRES) from None
        os.chown(root, pg.pw_uid, pg.pw_gid)
        as_user = ["setpriv", f"--reuid={pg.pw_uid}", f"--regid={pg.pw_gid}", "--init-groups", "--"]
        user = "postgres"
    data, log = Path(root) / "data", Path(root) / "postgres.log"
    subprocess.run(
        [*as_user, str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", user,
         "-E", "UTF8", "--no-sync", "--no-instructions"],
        check=True, capture_output=True, cwd=root,
    )  # fmt: skip
    port = free_port()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [*as_user, str(bin_dir / "postgres"), "-D", str(data), "-p", str(port),
             "-k", root, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
             "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
             "-c", "max_connections=200"],
            stdout=out, stderr=subprocess.STDOUT, cwd=root,
        )  # fmt: skip
    server = LocalPostgres(port=port, user=user, log=log)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                psycopg.connect(server.dsn(), connect_timeout=2).close()
                break
            except psycopg.OperationalError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"postgres did not start: {log.read_text(errors='replace')[-2000:]}"
                    ) from None
                time.sleep(0.05)
        yield server
    finally:
        proc.send_signal(signal.SIGINT)  # fast shutdown: ends sessions, no checkpoint wait
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(root, ignore_errors=True)
