"""The review routes without a browser: signed links and their cookie, the recording's range
requests, what the review data says is missing, and keyset pagination of ``GET /sessions``."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from interview_pipeline.launcher.models import SessionStatus
from interview_pipeline.launcher.review_auth import ReviewSigner
from interview_pipeline.launcher.store import SessionRecord

from .conftest import API_KEY, make_settings, running_launcher
from .review_fixtures import finished_session

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
NO_KEY = {"Authorization": ""}


async def wait_report(client: httpx.AsyncClient, sid: str) -> None:
    deadline = time.monotonic() + 60
    while (await client.get(f"/sessions/{sid}/report")).status_code != 200:
        assert time.monotonic() < deadline, "no report"
        await asyncio.sleep(0.05)


def token_of(link: dict[str, Any]) -> str:
    url: str = link["url"]
    assert "#token=" in url and "?" not in url  # in the fragment: never sent, never logged
    return url.split("#token=", 1)[1]


async def test_review_link_cookie_and_data(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, None, pool_size=0)
    async with running_launcher(settings) as (app, client):
        launcher = app.state.launcher
        finished_session(launcher.store, settings.data_dir, "s1")
        finished_session(launcher.store, settings.data_dir, "s2", recording_s=None)
        await wait_report(client, "s1")

        assert (await client.get("/sessions/s1/review-link", headers=NO_KEY)).status_code == 401
        assert (await client.get("/sessions/nope/review-link")).status_code == 404
        bad = await client.get("/sessions/s1/review-link", params={"ttl_s": 5})
        assert bad.status_code == 422 and bad.json()["field"] == "ttl_s"
        link = (await client.get("/sessions/s1/review-link", params={"ttl_s": 600})).json()
        assert link["url"].startswith("http://127.0.0.1:8080/sessions/s1/review#token=")
        assert link["scope"] == "s1" and link["expires_at"] == pytest.approx(time.time() + 600, 5)
        token = token_of(link)
        assert API_KEY not in token

        # The page itself is a static shell; its data needs a credential.
        page = await client.get("/sessions/s1/review", headers=NO_KEY)
        assert page.status_code == 200 and "review.js" in page.text
        assert (await client.get("/sessions/nope/review", headers=NO_KEY)).status_code == 404
        assert (await client.get("/sessions/s1/review/data", headers=NO_KEY)).status_code == 401

        async with httpx.AsyncClient(
            transport=client._transport, base_url="http://launcher"
        ) as browser:  # no API key: what a recruiter's browser has
            assert (
                await browser.post("/review/session", headers={"Authorization": "Bearer x.y"})
            ).status_code == 401
            r = await browser.post("/review/session", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 200 and r.json()["scope"] == "s1"
            cookie = r.headers["set-cookie"].lower()
            assert "httponly" in cookie and "samesite=strict" in cookie
            assert "path=/sessions/s1" in cookie
            data = (await browser.get("/sessions/s1/review/data")).json()
            assert [t["seq"] for t in data["turns"]] == list(range(1, 9))
            assert data["recording"] == {
                "available": True, "url": "/sessions/s1/recording", "duration_s": 53.0,
            }  # fmt: skip
            assert data["notes"] == []
            assert data["report"]["overall"]["recommendation"]
            quotes = [e for c in data["report"]["criteria"] for e in c["evidence"]]
            assert quotes and all(
                data["turns"][e["seq"] - 1]["speaker"] == "candidate" for e in quotes
            )
            assert (
                data["timeline_svg"].startswith("<svg") and 'data-seq="2"' in data["timeline_svg"]
            )
            # The cookie opens this session's recording (range requests) and report, nothing else.
            ranged = await browser.get("/sessions/s1/recording", headers={"Range": "bytes=44-1043"})
            assert ranged.status_code == 206 and len(ranged.content) == 1000
            assert ranged.headers["content-range"].startswith("bytes 44-1043/")
            html = await browser.get("/sessions/s1/report", params={"format": "html"})
            assert html.status_code == 200 and "<svg" in html.text and "Timeline" in html.text
            assert (await browser.get("/sessions/s2/review/data")).status_code == 401
            assert (await browser.get("/review/sessions")).status_code == 401  # not the list
            assert (await browser.get("/sessions/s1/transcript")).status_code == 401  # key only

        # A bearer review token works without the cookie too; a token for s1 does not open s2.
        assert (
            await client.get(
                "/sessions/s1/review/data", headers={"Authorization": f"Bearer {token}"}
            )
        ).status_code == 200
        assert (
            await client.get(
                "/sessions/s2/review/data", headers={"Authorization": f"Bearer {token}"}
            )
        ).status_code == 401
        absent = (await client.get("/sessions/s2/review/data")).json()
        assert absent["recording"]["available"] is False
        assert any("No recording was made" in n for n in absent["notes"])
        beyond = await client.get("/sessions/s1/recording", headers={"Range": "bytes=999999999-"})
        assert beyond.status_code == 416


async def test_list_link_expiry_and_forgery(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, None, pool_size=0)
    signer = ReviewSigner(settings)
    assert "key" in repr(signer) and API_KEY not in repr(signer)
    expired, _ = signer.sign("*", 60, now=time.time() - 120)
    assert signer.verify(expired) is None
    good, _ = signer.sign("*", 60)
    body, mac = good.split(".")
    assert signer.verify(good) is not None
    assert signer.verify(f"{body}.{mac[:-2]}AA") is None
    other = ReviewSigner(make_settings(tmp_path, None, api_keys="another-key"))
    assert other.verify(good) is None  # rotating the API keys voids every link
    async with running_launcher(settings) as (_, client):
        assert (await client.get("/review-link", headers=NO_KEY)).status_code == 401
        link = (await client.get("/review-link")).json()
        assert link["scope"] == "*" and "/review#token=" in link["url"]
        list_token = {"Authorization": f"Bearer {token_of(link)}"}
        assert (await client.get("/review/sessions", headers=list_token)).status_code == 200
        expired_token = {"Authorization": f"Bearer {expired}"}
        assert (await client.get("/review/sessions", headers=expired_token)).status_code == 401
        assert (await client.post("/review/session", headers=expired_token)).status_code == 401
        # The API key itself may be traded for a cookie (the page's key form); the cookie holds
        # a signed token, never the key.
        r = await client.post("/review/session")
        assert r.status_code == 200 and API_KEY not in r.headers["set-cookie"]
        assert "path=/;" in r.headers["set-cookie"].lower()


async def test_sessions_api_paginates_by_cursor(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, None, pool_size=0)
    async with running_launcher(settings) as (app, client):
        store = app.state.launcher.store
        for i in range(23):
            store.create(
                SessionRecord(
                    id=f"p{i:02d}", room=f"r{i}", persona="maya" if i % 2 else "alex",
                    candidate_name="Sam", candidate_identity="candidate",
                    created_at=1000.0 + (i // 2),  # pairs share a created_at: ids break ties
                )
            )  # fmt: skip
        store.update("p05", status=SessionStatus.COMPLETED)
        everything = (await client.get("/sessions")).json()  # no limit: as before, newest first
        ids = [s["session_id"] for s in everything["sessions"]]
        assert len(ids) == 23 and everything["next_cursor"] is None
        assert ids[:3] == ["p22", "p21", "p20"]
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 5}
            if cursor:
                params["cursor"] = cursor
            page = (await client.get("/sessions", params=params)).json()
            seen += [s["session_id"] for s in page["sessions"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == ids  # every session once, in the same order
        maya = (await client.get("/sessions", params={"persona": "maya", "limit": 100})).json()
        assert {s["persona"] for s in maya["sessions"]} == {"maya"} and len(maya["sessions"]) == 11
        done = (await client.get("/sessions", params={"status": "completed"})).json()
        assert [s["session_id"] for s in done["sessions"]] == ["p05"]
        for bad in ("garbage!", "WzEsMl0", "bnVsbA", "x" * 600):
            r = await client.get("/sessions", params={"cursor": bad})
            assert r.status_code == 422 and r.json()["field"] == "cursor", (bad, r.text)
        for limit in (0, 1001, "many"):
            r = await client.get("/sessions", params={"limit": limit})
            assert r.status_code == 422 and r.json()["field"] == "limit"
        # A row another writer damaged (created_at as text) does not break the pages after it.
        db = store._db
        db.execute("UPDATE sessions SET created_at = 'yesterday' WHERE id = 'p10'")
        walked, cursor = [], None
        while True:
            params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
            r = await client.get("/sessions", params=params)
            assert r.status_code == 200, r.text
            walked += [s["session_id"] for s in r.json()["sessions"]]
            if (cursor := r.json()["next_cursor"]) is None:
                break
        assert sorted(walked) == sorted(ids) and walked[0] == "p10"
        rows = (await client.get("/review/sessions", params={"limit": 4})).json()
        assert len(rows["sessions"]) == 4 and rows["next_cursor"]
        assert rows["personas"] == ["alex", "maya"] and "completed" in rows["statuses"]
        assert (await client.get("/review/sessions", params={"cursor": "%%"})).status_code == 422


def test_list_pages_use_an_index_whatever_the_filter(tmp_path: Path) -> None:
    """Keyset pages never scan or sort the table, so page 4 000 is as fast as page 1."""
    from interview_pipeline.launcher.store_sqlite import SqliteSessionStore

    store = SqliteSessionStore(tmp_path / "s.sqlite3")
    queries = [
        ("", []),
        (" WHERE status = ?", ["failed"]),
        (" WHERE persona = ?", ["maya"]),
        (" WHERE status = ? AND persona = ?", ["failed", "maya"]),
    ]
    for where, args in queries:
        for keyset in (False, True):
            sql = "SELECT * FROM sessions" + where
            params: list[Any] = list(args)
            if keyset:
                sql += (" AND" if where else " WHERE") + " (created_at, id) < (?, ?)"
                params += [1.0, "x"]
            sql += " ORDER BY created_at DESC, id DESC LIMIT 26"
            plan = " ".join(
                str(r[3]) for r in store._db.execute("EXPLAIN QUERY PLAN " + sql, params)
            )
            assert "USING INDEX" in plan and "TEMP B-TREE" not in plan, (sql, plan)
    store.close()


def test_list_page_walks_every_session_once_on_each_backend(store_location: str) -> None:
    """Keyset pages on SQLite and Postgres: ties on created_at broken by id, filters kept."""
    from .pg import open_location

    store = open_location(store_location)
    try:
        for i in range(17):
            store.create(
                SessionRecord(
                    id=f"k{i:02d}", room=f"r{i}", persona=("maya", "alex")[i % 2],
                    candidate_name="Sam", candidate_identity="candidate",
                    created_at=500.0 + i // 3,
                )
            )  # fmt: skip
        store.update("k04", status=SessionStatus.FAILED)
        store.update("k09", status=SessionStatus.FAILED)
        newest_first = [f"k{i:02d}" for i in range(16, -1, -1)]
        walked: list[str] = []
        before = None
        while True:
            rows = store.list_page(before=before, limit=4)
            walked += [r.id for r in rows]
            if len(rows) < 4:
                break
            before = (rows[-1].created_at, rows[-1].id)
        assert walked == newest_first
        assert [r.id for r in store.list_page(persona="alex", limit=100)] == [
            s for s in newest_first if int(s[1:]) % 2
        ]
        assert [r.id for r in store.list_page(status=SessionStatus.FAILED, limit=1)] == ["k09"]
        assert [
            r.id
            for r in store.list_page(status=SessionStatus.FAILED, before=(501.0, "k04"), limit=9)
        ] == []
        assert [
            r.id
            for r in store.list_page(status=SessionStatus.FAILED, before=(503.0, "k09"), limit=9)
        ] == ["k04"]
    finally:
        store.close()
