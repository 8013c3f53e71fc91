"""Property-based tests of the launcher API: random bodies (hypothesis) and the OpenAPI schema
(schemathesis), on a bounded, derandomised budget so the suite stays fast and repeatable.

LiveKit is unreachable here (``ws://127.0.0.1:9``): a body the launcher accepts ends in 503 at
room creation, so no bot process is ever started and each example costs milliseconds. Whether
an accepted body is also servable is checked by storing what was accepted and reading it back.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from schemathesis.specs.openapi import checks
from starlette.types import ASGIApp, Receive, Scope, Send

from interview_pipeline.launcher.app import create_app
from interview_pipeline.launcher.models import CreateSession
from interview_pipeline.launcher.store import SessionRecord

from .conftest import AUTH, make_settings, recording

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

BUDGET = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def launcher_app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    tmp = tmp_path_factory.mktemp("fuzz")
    return create_app(make_settings(tmp, None, pool_size=0, max_body_bytes=16 * 1024 + 2048))


@pytest.fixture(scope="module")
def client(launcher_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(recording(launcher_app), headers=AUTH, raise_server_exceptions=False) as c:
        yield c


# --- random bodies for POST /sessions ---------------------------------------------------------
#: Every code point, surrogates and controls included: json.dumps escapes them, so the launcher
#: sees exactly what a hostile client could send.
any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)
scalars = st.none() | st.booleans() | st.integers() | st.floats() | any_text
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=25,
)


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


metadata = (
    json_values
    | st.integers(1, 40).map(_nested)
    | st.builds(lambda n: {"blob": "x" * n}, st.integers(0, 20_000))
)
names = any_text | st.sampled_from(["Sam", "  José  ", "李小龙", "Sam\x00", "Sam\u2028"])
candidates = (
    st.fixed_dictionaries(
        {"name": names},
        optional={
            "email": any_text | st.just("sam@example.com"),
            "identity": any_text | st.sampled_from(["candidate", "interviewer", "a@b"]),
            "extra": json_values,
        },
    )
    | json_values
)
bodies = (
    st.fixed_dictionaries(
        {
            "persona": st.sampled_from(["maya", "alex", "nobody"]) | any_text,
            "candidate": candidates,
        },
        optional={
            "room": any_text | st.sampled_from(["panel-1", "a" * 65, "../x"]),
            "metadata": metadata,
            "colour": json_values,
        },
    )
    | json_values
)


#: Bodies a real backend might send: printable names in any script, JSON-only metadata near
#: the limits. Random bodies above are almost all refused; these reach the accepting path.
printable = st.characters(exclude_categories=["Cc", "Cs", "Zl", "Zp"])
json_only = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(printable, max_size=30),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=40,
)  # fmt: skip
plausible_bodies = st.fixed_dictionaries(
    {
        "persona": st.sampled_from(["maya", "alex"]),
        "candidate": st.fixed_dictionaries(
            {"name": st.text(printable, min_size=1, max_size=120)},
            optional={"email": st.emails(), "identity": st.from_regex(r"\A[a-z][a-z0-9_.-]{0,20}\Z")},
        ),
    },
    optional={
        "metadata": st.dictionaries(st.text(max_size=10), json_only, max_size=6)
        | st.integers(1, 9).map(_nested)
    },
)  # fmt: skip


def check_post(client: TestClient, app: FastAPI, body: Any) -> None:
    """Never a 500; every 4xx names a field; the HTTP answer agrees with the model; whatever is
    accepted is stored and served back unchanged by every read."""
    raw = json.dumps(body).encode()  # NaN and Infinity too, as Python's json writes them
    r = client.post("/sessions", content=raw, headers={"content-type": "application/json"})
    assert r.status_code in (404, 413, 422, 503), (r.status_code, r.text[:300])
    event(f"status {r.status_code}")  # pytest --hypothesis-show-statistics shows the mix
    problem = r.json()
    if r.status_code < 500:
        assert problem.get("field"), problem
        assert AUTH["Authorization"].split()[1] not in r.text
    try:
        accepted = CreateSession.model_validate(body)
    except ValidationError:
        assert r.status_code in (413, 422), (r.status_code, r.text[:300])
        return
    assert r.status_code in (404, 413, 503), (r.status_code, r.text[:300])
    sid = uuid.uuid4().hex
    app.state.launcher.store.create(
        SessionRecord(
            id=sid, room=f"fuzz-{sid[:8]}", persona=accepted.persona,
            candidate_name=accepted.candidate.name, candidate_email=accepted.candidate.email,
            candidate_identity=accepted.candidate.identity or "candidate",
            metadata=accepted.metadata,
        )
    )  # fmt: skip
    for url in (f"/sessions/{sid}", "/sessions?limit=1"):
        served = client.get(url).json()
        served = served["sessions"][0] if "sessions" in served else served
        assert served["session_id"] == sid and served["withheld"] is None
        assert served["metadata"] == accepted.metadata
        assert served["candidate_name"] == accepted.candidate.name
    assert client.delete(f"/sessions/{sid}").status_code == 200


@BUDGET
@given(body=bodies)
def test_random_session_bodies(client: TestClient, launcher_app: FastAPI, body: Any) -> None:
    check_post(client, launcher_app, body)


@settings(BUDGET, max_examples=200)
@given(body=plausible_bodies)
def test_plausible_session_bodies(client: TestClient, launcher_app: FastAPI, body: Any) -> None:
    check_post(client, launcher_app, body)


# --- the OpenAPI schema (schemathesis) ----------------------------------------------------------
def without_lifespan(app: ASGIApp) -> ASGIApp:
    """``app`` with its lifespan answered here and never run.

    Schemathesis ends an ASGI app's lifespan after every test and starts it again for the next;
    the launcher's runs once per process (its shutdown closes the store). With no pool and no
    live sessions the launcher's lifespan has nothing to do here anyway.
    """

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    return wrapped


#: A launcher of its own, built at import: schemathesis' fixture-based loader does not work with
#: pytest 9 (it sets ``request.node._nodeid``, which pytest 9 removed); the eager one does.
_SCHEMA_DIR = Path(tempfile.mkdtemp(prefix="launcher-schema-"))
_SCHEMA_APP = create_app(make_settings(_SCHEMA_DIR, None, pool_size=0))
schema = schemathesis.openapi.from_asgi("/openapi.json", without_lifespan(recording(_SCHEMA_APP)))


@pytest.fixture(scope="module", autouse=True)
def _remove_schema_dir() -> Iterator[None]:
    yield
    _SCHEMA_APP.state.launcher.store.close()
    shutil.rmtree(_SCHEMA_DIR, ignore_errors=True)


@schema.parametrize()
@settings(max_examples=50, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_openapi_schema(case: Any) -> None:
    """Every operation, with generated valid and invalid inputs: the status is documented, the
    body matches its documented schema, and nothing is a 5xx except LiveKit's documented 503."""
    response = case.call_and_validate(
        headers=AUTH,
        checks=[
            checks.status_code_conformance,
            checks.content_type_conformance,
            checks.response_headers_conformance,
            checks.response_schema_conformance,
        ],
    )
    assert response.status_code != 500, response.text[:300]
    if response.status_code >= 500:
        assert (case.method, case.path, response.status_code) in {
            ("POST", "/sessions", 503),
            ("GET", "/readyz", 503),
        }, (case.method, case.path, response.text[:300])
