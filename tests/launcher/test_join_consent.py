"""``/join/{id}/consent``: the candidate's acceptance of the notice, with their own token."""

from __future__ import annotations

from pathlib import Path

import pytest

from interview_pipeline.launcher.livekit import LocalLiveKitServer

from .conftest import body, make_settings, running_launcher

pytestmark = [
    pytest.mark.livekit,
    pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning"),
]


async def test_consent_is_stored_once_with_the_version_shown(
    tmp_path: Path, livekit_server: LocalLiveKitServer
) -> None:
    settings = make_settings(tmp_path, livekit_server, pool_size=0)
    async with running_launcher(settings) as (app, client):
        created = (await client.post("/sessions", json=body(name="Sam", persona="maya"))).json()
        sid, token = created["session_id"], created["candidate_token"]
        candidate = {"Authorization": f"Bearer {token}"}
        url = f"/join/{sid}/consent"

        info = (await client.get(f"/join/{sid}/session", headers=candidate)).json()
        notice = info["consent"]
        assert notice["version"] == "bluebird-2026-12" and notice["accepted"] is None
        assert "Bluebird Health" in notice["text"] and "{" not in notice["text"]
        assert info["end_screen"].startswith("Thank you, Sam.")
        assert info["reconnect_grace_s"] == settings.reconnect_grace_s

        version = {"version": notice["version"]}
        # The API key is not the candidate's token, and no token is no acceptance.
        assert (await client.post(url, json=version)).status_code == 401
        assert (
            await client.post(url, json=version, headers={"Authorization": ""})
        ).status_code == 401
        r = await client.post(url, json={"version": "old-1"}, headers=candidate)
        assert r.status_code == 409 and r.json()["field"] == "version"
        r = await client.post(url, json={}, headers=candidate)
        assert r.status_code == 422 and r.json()["field"] == "version"
        r = await client.post(url, json={**version, "extra": 1}, headers=candidate)
        assert r.status_code == 422
        assert app.state.launcher.store.consent(sid) is None

        first = (await client.post(url, json=version, headers=candidate)).json()["consent"]
        assert first["version"] == notice["version"] and len(first["text_sha256"]) == 64
        again = (await client.post(url, json=version, headers=candidate)).json()["consent"]
        assert again == first  # a reloaded page accepting again keeps the first time
        info = (await client.get(f"/join/{sid}/session", headers=candidate)).json()
        assert info["consent"]["accepted"] == first
        await client.delete(f"/sessions/{sid}")
