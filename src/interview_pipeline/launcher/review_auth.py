"""Short-lived signed links to the review pages, and the cookie they turn into.

A browser cannot send the API key with a page or an ``<audio>`` request, so the API hands out
links (``GET /sessions/{id}/review-link``, ``GET /review-link``) carrying a token in the URL
*fragment*, which browsers never send to a server (no access log sees it). The page posts it
once to ``POST /review/session`` as a bearer token and gets it back as an HttpOnly,
SameSite=Strict cookie, which its data and recording requests then carry.

A token is ``base64url(json {"s": scope, "e": expiry}) "." base64url(HMAC-SHA256)``; scope is
one session id, or ``*`` for the session list and every review. The signing key is derived
from the launcher's API keys and LiveKit secret (so launchers sharing those accept each other's
links, and rotating the API keys voids every link); it is never logged, stored or sent.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import time
from dataclasses import dataclass

from interview_pipeline.config import Settings

ALL = "*"
#: Cookie names: one for the whole review area (path /), one per session (its path).
COOKIE_ALL = "review_all"
COOKIE_SESSION = "review_session"
DEFAULT_TTL_S = 3600
MAX_TTL_S = 7 * 24 * 3600
_LABEL = b"interview_pipeline review links v1"


@dataclass(frozen=True)
class Grant:
    scope: str
    expires_at: float

    def covers(self, session_id: str | None) -> bool:
        """Whether this grant opens ``session_id`` (``None``: the session list)."""
        return self.scope == ALL or (session_id is not None and self.scope == session_id)

    def cookie(self) -> tuple[str, str]:
        """(cookie name, cookie path) for this grant."""
        if self.scope == ALL:
            return COOKIE_ALL, "/"
        return COOKIE_SESSION, f"/sessions/{self.scope}"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class ReviewSigner:
    def __init__(self, settings: Settings):
        material = b""
        for secret in (settings.api_keys, settings.livekit_api_secret):
            if secret is not None:
                material += secret.get_secret_value().encode() + b"\0"
        # No API key configured: nothing can ask for a link, and no token is accepted.
        self._key = hmac.new(_LABEL, material, hashlib.sha256).digest() if material else None

    def __repr__(self) -> str:
        return "ReviewSigner(<key hidden>)"

    def sign(self, scope: str, ttl_s: float, now: float | None = None) -> tuple[str, Grant]:
        if self._key is None:
            raise RuntimeError("no API keys configured: review links cannot be signed")
        grant = Grant(scope=scope, expires_at=round((now or time.time()) + ttl_s, 3))
        body = _b64(json.dumps({"s": grant.scope, "e": grant.expires_at}).encode())
        mac = hmac.new(self._key, body.encode(), hashlib.sha256).digest()
        return f"{body}.{_b64(mac)}", grant

    def verify(self, token: str | None, now: float | None = None) -> Grant | None:
        """The grant of a genuine, unexpired token; ``None`` for anything else."""
        if self._key is None or not token or len(token) > 1024 or token.count(".") != 1:
            return None
        body, _, mac = token.partition(".")
        expected = hmac.new(self._key, body.encode(), hashlib.sha256).digest()
        try:
            if not hmac.compare_digest(_unb64(mac), expected):
                return None
            data = json.loads(_unb64(body))
        except (ValueError, binascii.Error, RecursionError):
            return None
        if not isinstance(data, dict):
            return None
        scope, expires = data.get("s"), data.get("e")
        if not isinstance(scope, str) or not isinstance(expires, int | float):
            return None
        if not math.isfinite(expires) or expires <= (now or time.time()):
            return None
        return Grant(scope=scope, expires_at=float(expires))
