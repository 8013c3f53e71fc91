"""What a request may carry: the body cap (413), and metadata and text fields (422 naming them).

No LiveKit here (``ws://127.0.0.1:9``): a request that passes every limit gets as far as creating
the room and answers 503, which is how these tests tell "accepted" from "refused" in seconds.
test_api.py serves accepted values back through a real server.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from interview_pipeline.launcher.models import (
    MAX_METADATA_BYTES,
    MAX_METADATA_DEPTH,
    CreateSession,
)

from .conftest import API_KEY, body, make_settings, running_launcher

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


def nested(depth: int) -> dict[str, Any]:
    """An object ``depth`` levels deep ({"a": {"a": ... {}}})."""
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


async def post_raw(client: httpx.AsyncClient, content: bytes | AsyncIterator[bytes]) -> Any:
    return await client.post(
        "/sessions", content=content, headers={"content-type": "application/json"}
    )


async def test_body_cap_413_declared_and_chunked(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, None, pool_size=0, max_body_bytes=4096)
    async with running_launcher(settings) as (app, client):
        big = json.dumps(body(metadata={"blob": "x" * 10_000})).encode()
        r = await post_raw(client, big)  # Content-Length declared: refused before reading
        assert r.status_code == 413, r.text
        assert r.json()["field"] == "body" and "4096" in r.json()["detail"]
        assert r.headers["content-type"] == "application/json"

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
            for i in range(0, len(big), 1000):
                yield big[i : i + 1000]

        r = await post_raw(client, chunks())
        assert r.status_code == 413, r.text
        assert r.json()["field"] == "body"

        # Before auth: an unauthenticated 20 MB body is not read to find out it has no key.
        r = await client.post(
            "/sessions", content=b"x" * 20_000_000, headers={"Authorization": "Bearer nope"}
        )
        assert r.status_code == 413
        assert "nope" not in r.text and API_KEY not in r.text
        # Any route: a GET declaring a body over the cap is refused too (documented app-wide).
        r = await client.request("GET", "/sessions", content=b"x" * 5000)
        assert r.status_code == 413

        small = json.dumps(body(metadata={"blob": "x" * 3000})).encode()
        assert (await post_raw(client, small)).status_code == 503  # under the cap: accepted
        assert app.state.launcher.store.list_sessions() == []


async def test_default_cap_is_64_kib(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, None, pool_size=0)
    assert settings.max_body_bytes == 64 * 1024
    async with running_launcher(settings) as (_, client):
        for size in (1_000_000, 20_000_000):  # the sizes once accepted and echoed back
            r = await post_raw(client, json.dumps(body(metadata={"x": "y" * size})).encode())
            assert r.status_code == 413


async def test_metadata_depth_and_size(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, None, pool_size=0)
    async with running_launcher(settings) as (_, client):
        ok = nested(MAX_METADATA_DEPTH)
        assert (await client.post("/sessions", json=body(metadata=ok))).status_code == 503
        for bad in (nested(MAX_METADATA_DEPTH + 1), nested(900)):  # 900: the reported case
            r = await client.post("/sessions", json=body(metadata=bad))
            assert r.status_code == 422, r.text[:300]
            assert r.json()["field"] == "metadata"
            assert "deeper than" in r.json()["detail"]

        r = await client.post("/sessions", json=body(metadata={"x": "y" * MAX_METADATA_BYTES}))
        assert r.status_code == 422 and r.json()["field"] == "metadata"
        assert "bytes" in r.json()["detail"]

        for literal in (
            b"NaN",
            b"Infinity",
            b"-Infinity",
        ):  # Python's json takes them; JSON doesn't
            raw = b'{"persona":"maya","candidate":{"name":"Sam"},"metadata":{"x":' + literal + b"}}"
            r = await post_raw(client, raw)
            assert r.status_code == 422 and r.json()["field"] == "metadata", r.text

        r = await post_raw(client, b'{"persona":"maya","candidate":{"name":"Sam"},"metadata":[1]}')
        assert r.status_code == 422 and r.json()["field"] == "metadata"


async def test_unparseable_bodies_name_body(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, None, pool_size=0)
    async with running_launcher(settings) as (_, client):
        bodies = [
            b"{not json",
            b"[" * 60_000,  # deeper than json.loads can go: once a 400 with no field
            b'{"persona":"maya","candidate":{"name":"Sam"},"metadata":{"n":' + b"1" * 5000 + b"}}",
            b"[]",
            b'"just a string"',
        ]
        for raw in bodies:
            r = await post_raw(client, raw)
            assert r.status_code == 422, (raw[:40], r.text)
            assert r.json()["field"] == "body", (raw[:40], r.text)


@pytest.mark.parametrize(
    ("candidate", "field"),
    [
        ({"name": "Sam\x00"}, "candidate.name"),  # the reported case: Piper failed on it
        ({"name": "Sa\x07m"}, "candidate.name"),
        ({"name": "Sam\tWise"}, "candidate.name"),
        ({"name": "Sa\x9bm"}, "candidate.name"),  # C1 (CSI)
        ({"name": "Sam\u2028Wise"}, "candidate.name"),  # line separator
        ({"name": "Sam\x7f"}, "candidate.name"),
        ({"name": "   "}, "candidate.name"),  # empty once stripped
        ({"name": "Sam", "email": "s\x00@x.io"}, "candidate.email"),
    ],
)
async def test_text_fields_refuse_control_characters(
    tmp_path: Path, candidate: dict[str, str], field: str
) -> None:
    settings = make_settings(tmp_path, None, pool_size=0)
    async with running_launcher(settings) as (app, client):
        r = await client.post("/sessions", json={"persona": "maya", "candidate": candidate})
        assert r.status_code == 422, r.text
        assert r.json()["field"] == field
        assert "\x00" not in r.json()["detail"]
        assert app.state.launcher.store.list_sessions() == []


def test_names_people_have_are_accepted() -> None:
    """Refusing controls must not refuse real names: accents, CJK, RTL, ZWJ/ZWNJ, emoji."""
    for name in [
        "José Ñúñez",
        "李小龙",
        "محمد",
        "नमस्ते\u200d",
        "می\u200cخواهم",
        "O'Brien-Smith 👩‍💻",
    ]:
        assert CreateSession.model_validate(body(name=name)).candidate.name == name
    # Surrounding whitespace is stripped rather than refused (a form's trailing space).
    assert CreateSession.model_validate(body(name="  Sam \n")).candidate.name == "Sam"
