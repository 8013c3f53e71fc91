"""Bearer-key auth for the company-facing routes.

Keys come from settings (comma-separated ``INTERVIEW_API_KEYS``) and are compared in constant
time. With no keys configured every call is refused: an open launcher would let anyone start
interviews on the company's bill, so "forgot to set keys" must fail closed.
"""

from __future__ import annotations

import hmac

from pydantic import SecretStr


class ApiKeys:
    def __init__(self, keys: SecretStr | None):
        raw = keys.get_secret_value() if keys is not None else ""
        self._keys = [k.strip().encode() for k in raw.split(",") if k.strip()]

    @property
    def configured(self) -> bool:
        return bool(self._keys)

    def accepts(self, presented: str | None) -> bool:
        if not presented or not self._keys:
            return False
        candidate = presented.strip().encode()
        # Check every key (no early exit) so timing does not reveal which one nearly matched.
        matched = False
        for key in self._keys:
            matched |= hmac.compare_digest(candidate, key)
        return matched

    def __repr__(self) -> str:
        return f"ApiKeys({len(self._keys)} configured)"


def bearer(header: str | None) -> str | None:
    """The token in ``Authorization: Bearer <token>``, or None."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()
