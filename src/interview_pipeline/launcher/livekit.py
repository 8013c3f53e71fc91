"""LiveKit for the launcher: rooms and tokens (livekit-api), and a local dev server.

Only this module talks to livekit-api, so the rest of the launcher sees "create a room", "mint a
token", "delete a room" and one exception type whose message is safe to show a client.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from livekit import api

from interview_pipeline.config import Settings

#: The token attribute binding a candidate token to its session. Signed with the rest of the
#: token, so the launcher can trust it; LiveKit also shows it to the room as a participant
#: attribute, which the participant cannot change (no ``can_update_own_metadata``).
SESSION_ATTRIBUTE = "interview.session_id"
#: Interviewer, candidate, and room for one reconnecting or observing participant.
MAX_PARTICIPANTS = 3
_API_TIMEOUT_S = 5.0


class LiveKitUnavailable(Exception):
    """LiveKit could not be reached or refused the call; the message is safe for clients."""


@dataclass(frozen=True)
class LiveKitCredentials:
    url: str
    api_key: str
    api_secret: str

    def __repr__(self) -> str:  # never print the secret
        return f"LiveKitCredentials(url={self.url!r}, api_key=***, api_secret=***)"

    @classmethod
    def from_settings(cls, settings: Settings) -> LiveKitCredentials:
        if not settings.livekit_url:
            raise LiveKitUnavailable("LIVEKIT_URL is not configured")
        key = settings.livekit_api_key.get_secret_value() if settings.livekit_api_key else ""
        secret = (
            settings.livekit_api_secret.get_secret_value() if settings.livekit_api_secret else ""
        )
        if not key or not secret:
            raise LiveKitUnavailable("LIVEKIT_API_KEY and LIVEKIT_API_SECRET must be set")
        return cls(settings.livekit_url, key, secret)

    @property
    def http_url(self) -> str:
        """livekit-api speaks HTTP(S) to the same host the clients reach over ws(s)."""
        if self.url.startswith("ws://"):
            return "http://" + self.url[len("ws://") :]
        if self.url.startswith("wss://"):
            return "https://" + self.url[len("wss://") :]
        return self.url


def mint_token(
    creds: LiveKitCredentials,
    *,
    room: str,
    identity: str,
    name: str,
    ttl_s: int,
    agent: bool = False,
    session_id: str | None = None,
) -> str:
    """A token valid for one room only: join, publish, subscribe, data; nothing admin.

    With ``session_id`` the token is also bound to that session (``SESSION_ATTRIBUTE``), so it
    opens that session's page and no later session's that reuses the room name.
    """
    grants = api.VideoGrants(
        room_join=True,
        room=room,
        can_publish=True,
        can_subscribe=True,
        can_publish_data=True,
        hidden=False,
        agent=True if agent else None,
    )
    token = (
        api.AccessToken(creds.api_key, creds.api_secret)
        .with_identity(identity)
        .with_name(name)
        .with_grants(grants)
        .with_ttl(datetime.timedelta(seconds=ttl_s))
    )
    if session_id is not None:
        token = token.with_attributes({SESSION_ATTRIBUTE: session_id})
    return token.to_jwt()


def verify_session_token(
    creds: LiveKitCredentials, token: str, *, room: str, session_id: str
) -> str | None:
    """The identity in a valid token for ``room`` bound to ``session_id``, else None (the
    candidate page's auth). A token without the binding (minted before it existed, or for
    another session in the same room) is refused."""
    try:
        claims = api.TokenVerifier(creds.api_key, creds.api_secret).verify(token)
    except Exception:  # any malformed, expired or forged token is simply not accepted
        return None
    if claims.video is None or claims.video.room != room or not claims.video.room_join:
        return None
    if (claims.attributes or {}).get(SESSION_ATTRIBUTE) != session_id:
        return None
    return claims.identity


class LiveKitRooms:
    """Room lifecycle through the server API, with failures mapped to ``LiveKitUnavailable``."""

    def __init__(self, creds: LiveKitCredentials, *, empty_timeout_s: int):
        self.creds = creds
        self.empty_timeout_s = empty_timeout_s

    def _api(self) -> api.LiveKitAPI:
        # One client per call: the launcher makes few API calls, and a fresh aiohttp session
        # never outlives the event loop that made it (tests start and stop several).
        return api.LiveKitAPI(
            self.creds.http_url,
            self.creds.api_key,
            self.creds.api_secret,
            timeout=aiohttp.ClientTimeout(total=_API_TIMEOUT_S),
            failover=False,
        )

    async def create(self, room: str) -> None:
        request = api.CreateRoomRequest(
            name=room,
            empty_timeout=self.empty_timeout_s,
            departure_timeout=self.empty_timeout_s,
            max_participants=MAX_PARTICIPANTS,
        )
        await self._call("create the room", lambda lk: lk.room.create_room(request))

    async def delete(self, room: str) -> None:
        """Delete the room (disconnects everyone); a room already gone is not an error."""
        try:
            await self._call(
                "delete the room", lambda lk: lk.room.delete_room(api.DeleteRoomRequest(room=room))
            )
        except LiveKitUnavailable as exc:
            if "not found" in str(exc).lower() or "not_found" in str(exc).lower():
                return
            raise

    async def exists(self, room: str) -> bool:
        result = await self._call(
            "list rooms", lambda lk: lk.room.list_rooms(api.ListRoomsRequest(names=[room]))
        )
        return any(r.name == room for r in result.rooms)

    async def participants(self, room: str) -> list[str]:
        result = await self._call(
            "list participants",
            lambda lk: lk.room.list_participants(api.ListParticipantsRequest(room=room)),
        )
        return [p.identity for p in result.participants]

    async def dispatch(self, room: str, agent_name: str, metadata: str) -> str:
        """An explicit agent dispatch: LiveKit offers the job to the workers registered under
        ``agent_name`` and the first to accept runs it. The dispatch id."""
        request = api.CreateAgentDispatchRequest(
            agent_name=agent_name, room=room, metadata=metadata
        )
        result = await self._call(
            "dispatch an agent", lambda lk: lk.agent_dispatch.create_dispatch(request)
        )
        return str(result.id)

    async def undispatch(self, room: str, agent_name: str) -> int:
        """Delete the room's dispatches to ``agent_name``; the worker running one is told to
        end its job. How many there were."""
        found = await self._call(
            "list dispatches", lambda lk: lk.agent_dispatch.list_dispatch(room_name=room)
        )
        mine = [d.id for d in found if d.agent_name == agent_name]
        for dispatch_id in mine:
            await self._call(
                "delete a dispatch",
                lambda lk, d=dispatch_id: lk.agent_dispatch.delete_dispatch(d, room),
            )
        return len(mine)

    async def ping(self) -> None:
        await self._call("reach LiveKit", lambda lk: lk.room.list_rooms(api.ListRoomsRequest()))

    async def _call(self, what: str, fn):  # type: ignore[no-untyped-def]
        lk = self._api()
        try:
            return await fn(lk)
        except api.TwirpError as exc:
            raise LiveKitUnavailable(
                f"LiveKit refused to {what}: {exc.code} {exc.message}"
            ) from None
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            reason = type(exc).__name__ if not str(exc) else f"{type(exc).__name__}: {exc}"
            raise LiveKitUnavailable(
                f"LiveKit at {self.creds.url} is unreachable ({reason})"
            ) from None
        finally:
            await lk.aclose()


# --- local dev server -------------------------------------------------------------------------


def find_server_binary(settings: Settings | None = None) -> Path | None:
    """livekit-server from settings, ~/go/bin (``go install``), or PATH."""
    candidates: list[Path] = []
    if settings is not None and settings.livekit_server_binary:
        candidates.append(settings.livekit_server_binary)
    gopath = Path(os.environ.get("GOPATH", Path.home() / "go"))
    candidates.append(gopath / "bin" / "server")
    candidates.append(Path.home() / "go" / "bin" / "server")
    for name in ("livekit-server",):
        found = shutil.which(name)
        if found:
            candidates.append(Path(found))
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    return None


HOW_TO_GET_LIVEKIT = (
    "No LIVEKIT_URL is configured and no livekit-server binary was found.\n"
    "Either point the launcher at a server (LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET),\n"
    "or get a local dev server:\n"
    "  go install github.com/livekit/livekit-server/cmd/server@v1.13.5   (binary: ~/go/bin/server)\n"
    "  docker run --rm -p 7880:7880 -p 7881:7881 -p 7882:7882/udp livekit/livekit-server --dev\n"
    "or set INTERVIEW_LIVEKIT_SERVER_BINARY to the binary's path."
)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalLiveKitServer:
    """``livekit-server --dev`` on 127.0.0.1 with free ports, for tests and keyless local runs.

    Each instance picks its own HTTP, ICE/TCP and ICE/UDP ports, so several can run at once
    (parallel test sessions) without fighting over 7880/7881/7882.
    """

    API_KEY = "devkey"
    API_SECRET = "secret"

    def __init__(
        self,
        binary: Path,
        *,
        port: int | None = None,
        log_path: Path | None = None,
        redis: str | None = None,
    ):
        self.binary = binary
        #: ``host:port`` of a Redis shared with other nodes: LiveKit's multi-node mode.
        self.redis = redis
        self.port = port or free_port()
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_file: object | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def credentials(self) -> LiveKitCredentials:
        return LiveKitCredentials(self.url, self.API_KEY, self.API_SECRET)

    def _config(self) -> str:
        # One muxed UDP port (like the Docker image's 7882) rather than a range: any number of
        # peer connections share it, and parallel servers need only one free port each.
        return (
            f"port: {self.port}\n"
            "rtc:\n"
            f"  tcp_port: {free_port()}\n"
            f"  udp_port: {_free_udp_port()}\n"
            "  use_external_ip: false\n"
            "logging:\n"
            "  level: info\n"
        ) + (f"redis:\n  address: {self.redis}\n" if self.redis else "")

    def start(self, timeout_s: float = 20.0) -> LocalLiveKitServer:
        if self.log_path is None:
            self.log_path = Path(tempfile.mkstemp(prefix="livekit-", suffix=".log")[1])
        log = self.log_path.open("ab")
        self._log_file = log
        self.proc = subprocess.Popen(
            [
                str(self.binary),
                "--dev",
                "--bind",
                "127.0.0.1",
                "--node-ip",
                "127.0.0.1",
                "--config-body",
                self._config(),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            # Dies with whoever started it (launcher or test run), even on SIGKILL.
            preexec_fn=_die_with_parent,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"livekit-server exited with code {self.proc.returncode}; see {self.log_path}"
                )
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"livekit-server did not answer within {timeout_s:.0f} s")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._log_file is not None:
            with contextlib.suppress(Exception):
                self._log_file.close()  # type: ignore[attr-defined]
            self._log_file = None

    def __enter__(self) -> LocalLiveKitServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
