"""The OpenAPI document lists every status each route really answers.

Observed statuses come from two places: the calls below, which provoke each route's statuses
(so this file proves something on its own), and every answer a launcher gave in any test that ran
before it in this run (``conftest.OBSERVED``: test_api, test_limits, test_views and the fuzz
tests when the directory runs). Schemathesis checks the same for fuzzed requests (test_fuzz.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from interview_pipeline.launcher.livekit import LocalLiveKitServer
from tests.polling import until

from .conftest import OBSERVED, body, make_settings, running_launcher

pytestmark = [
    pytest.mark.livekit,
    pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning"),
]

#: Routes outside the document on purpose: the candidate's and recruiter's HTML pages, static files.
NOT_IN_SCHEMA = {"/join/{session_id}", "/static", "/sessions/{session_id}/review", "/review"}


def documented(app: FastAPI) -> dict[tuple[str, str], set[int]]:
    return {
        (method.upper(), path): {int(status) for status in op["responses"]}
        for path, ops in app.openapi()["paths"].items()
        for method, op in ops.items()
    }


def test_every_error_is_a_documented_problem(tmp_path: Path) -> None:
    from interview_pipeline.launcher.app import create_app

    app = create_app(make_settings(tmp_path, None, pool_size=0))
    doc = app.openapi()
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            responses = op["responses"]
            assert "413" in responses, (method, path)  # BodyLimit answers it on any route
            for status, response in responses.items():
                if int(status) < 400 or (path, status) == ("/readyz", "503"):
                    continue
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Problem"}, (method, path, status)
    assert "HTTPValidationError" not in doc["components"]["schemas"]  # our 422 is a Problem


async def test_observed_statuses_are_documented(
    tmp_path: Path, livekit_server: LocalLiveKitServer
) -> None:
    settings = make_settings(tmp_path / "up", livekit_server, pool_size=0, max_sessions=2)
    no_key = {"Authorization": ""}
    long_id = "x" * 200
    async with running_launcher(settings) as (app, client):

        async def expect(status: int, method: str, url: str, **kw: Any) -> Any:
            r = await client.request(method, url, **kw)
            assert r.status_code == status, (method, url, r.text[:300])
            return r

        await expect(401, "POST", "/sessions", json=body(), headers=no_key)
        await expect(404, "POST", "/sessions", json=body(persona="nobody"))
        await expect(422, "POST", "/sessions", json={"persona": "maya", "candidate": {}})
        a = (await expect(201, "POST", "/sessions", json=body(room="oa-1"))).json()
        await expect(409, "POST", "/sessions", json=body(room="oa-1"))
        b = (await expect(201, "POST", "/sessions", json=body())).json()
        await expect(429, "POST", "/sessions", json=body())
        sid = a["session_id"]
        token = {"Authorization": f"Bearer {a['candidate_token']}"}

        await expect(200, "GET", "/sessions")
        await expect(401, "GET", "/sessions", headers=no_key)
        await expect(422, "GET", "/sessions", params={"status": "sleeping"})
        for method in ("GET", "DELETE"):
            await expect(401, method, f"/sessions/{sid}", headers=no_key)
            await expect(404, method, "/sessions/nope")
            await expect(422, method, f"/sessions/{long_id}")
        await expect(200, "GET", f"/sessions/{sid}")
        for route, bad in (("transcript", {"format": "pdf"}), ("report", {"format": "pdf"})):
            await expect(401, "GET", f"/sessions/{sid}/{route}", headers=no_key)
            await expect(404, "GET", f"/sessions/nope/{route}")
            await expect(422, "GET", f"/sessions/{sid}/{route}", params=bad)
        await expect(200, "GET", f"/sessions/{sid}/transcript")
        await expect(202, "GET", f"/sessions/{sid}/report")
        await expect(401, "GET", f"/sessions/{sid}/recording", headers=no_key)
        await expect(404, "GET", f"/sessions/{sid}/recording")
        await expect(422, "GET", f"/sessions/{long_id}/recording")
        recordings = settings.data_dir / "recordings"
        recordings.mkdir(parents=True, exist_ok=True)
        (recordings / f"{sid}.wav").write_bytes(b"RIFF")
        await expect(200, "GET", f"/sessions/{sid}/recording")
        await expect(206, "GET", f"/sessions/{sid}/recording", headers={"Range": "bytes=0-1"})
        await expect(416, "GET", f"/sessions/{sid}/recording", headers={"Range": "bytes=9-20"})

        # The recruiter's review: links, their cookie, the pages' data.
        await expect(200, "GET", f"/sessions/{sid}/review-link")
        await expect(401, "GET", f"/sessions/{sid}/review-link", headers=no_key)
        await expect(404, "GET", "/sessions/nope/review-link")
        await expect(422, "GET", f"/sessions/{sid}/review-link", params={"ttl_s": 1})
        listing = (await expect(200, "GET", "/review-link")).json()
        await expect(401, "GET", "/review-link", headers=no_key)
        await expect(422, "GET", "/review-link", params={"ttl_s": "soon"})
        await expect(200, "GET", f"/sessions/{sid}/review/data")
        await expect(401, "GET", f"/sessions/{sid}/review/data", headers=no_key)
        await expect(404, "GET", "/sessions/nope/review/data")
        await expect(422, "GET", f"/sessions/{long_id}/review/data")
        await expect(200, "GET", "/review/sessions")
        await expect(401, "GET", "/review/sessions", headers=no_key)
        await expect(422, "GET", "/review/sessions", params={"cursor": "not-one"})
        await expect(422, "GET", "/sessions", params={"cursor": "not-one"})
        await expect(401, "POST", "/review/session", headers=no_key)
        review = {"Authorization": "Bearer " + listing["url"].split("#token=", 1)[1]}
        await expect(200, "POST", "/review/session", headers=review)
        client.cookies.clear()  # the cookie it set would open what the checks above refuse

        for route in ("session", "transcript"):
            await expect(200, "GET", f"/join/{sid}/{route}", headers=token)
            await expect(401, "GET", f"/join/{b['session_id']}/{route}", headers=token)
            await expect(422, "GET", f"/join/{long_id}/{route}", headers=token)
        await expect(422, "GET", f"/join/{sid}/transcript", params={"after": -1}, headers=token)
        consent = f"/join/{sid}/consent"
        await expect(401, "POST", consent, json={"version": "x"}, headers=no_key)
        await expect(422, "POST", consent, json={}, headers=token)
        await expect(409, "POST", consent, json={"version": "x"}, headers=token)
        await expect(200, "POST", consent, json={"version": "bluebird-2026-12"}, headers=token)

        await expect(200, "GET", "/healthz")
        await expect(200, "GET", "/metrics")
        await expect(503, "GET", "/readyz")  # at capacity
        for s in (a, b):
            await expect(200, "DELETE", f"/sessions/{s['session_id']}")
        await expect(200, "GET", "/readyz")

        async def reported() -> bool:
            return (await client.get(f"/sessions/{sid}/report")).status_code == 200

        await until(reported, 20, 0.1, what="the report")
        doc = documented(app)

    down = make_settings(tmp_path / "down", None, pool_size=0)  # LiveKit unreachable
    async with running_launcher(down) as (_, client):
        assert (await client.post("/sessions", json=body())).status_code == 503

    seen = {(m, p, s) for m, p, s in OBSERVED if p not in NOT_IN_SCHEMA}
    # A method a path does not have (schemathesis tries them) is no operation: 405, nothing else.
    assert {s for m, p, s in seen if (m, p) not in doc} <= {405}
    seen = {(m, p, s) for m, p, s in seen if (m, p) in doc}
    undocumented = sorted((m, p, s) for m, p, s in seen if s not in doc[(m, p)])
    assert undocumented == [], undocumented
    provoked = {(m, p) for m, p, _ in seen}
    assert provoked == set(doc), set(doc) ^ provoked  # every documented route was exercised
