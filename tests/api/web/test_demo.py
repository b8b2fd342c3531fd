"""Demo mode: demo users and action list; the ground-truth replay raises flags (labelled as replay)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi.testclient import TestClient

from api.app import create_app
from api.db import repository as repo
from api.db.session import session_scope
from api.demo import DEMO_USERS, load_ground_truth, replay_passage
from api.settings import ServerSettings, Settings


def test_demo_creates_users_imports_the_list_and_says_no_runner(settings: Settings, caplog: Any) -> None:
    demo = settings.model_copy(update={"server": ServerSettings(demo=True, demo_lane_runner="")})
    with TestClient(create_app(demo)) as client:
        r = client.post("/v1/auth/login", json={"name": "officer", "password": "officer-demo"})
        assert r.status_code == 200 and r.json()["role"] == "officer"
        state = client.app.state.lane  # type: ignore[attr-defined]
        assert len(state.passage_recorder().matcher) == 5
    assert "no demo lane runner registered" in caplog.text
    with TestClient(create_app(demo)):  # a restart changes nothing
        pass
    with session_scope(state.engine) as s:
        assert len(repo.list_versions(s)) == 1
        assert {u.name for u in repo.list_users(s)} == {name for name, _p, _r in DEMO_USERS}


def test_a_registered_demo_lane_runner_starts_with_the_state(settings: Settings) -> None:
    started: list[Any] = []

    async def runner(state: Any) -> None:
        started.append(state)
        await asyncio.sleep(3600)

    demo = settings.model_copy(update={"server": ServerSettings(demo=True, demo_lane_runner="")})
    with TestClient(create_app(demo, demo_lane=runner)) as client:
        for _ in range(100):
            if started:
                break
            asyncio.run(asyncio.sleep(0.01))
        assert started and started[0] is client.app.state.lane  # type: ignore[attr-defined]


def test_ground_truth_replay_passages_raise_the_demo_flags(settings: Settings) -> None:
    vehicles = load_ground_truth()
    assert [v.plates[0].text for v in vehicles] == ["EM59PPL", "NFS369L"]
    assert all(v.body_crop_jpeg.startswith(b"\xff\xd8") for v in vehicles)
    assert all(p.crop_jpeg.startswith(b"\xff\xd8") for v in vehicles for p in v.plates)
    demo = settings.model_copy(update={"server": ServerSettings(demo=True, demo_lane_runner="")})
    with TestClient(create_app(demo)) as client:
        state = client.app.state.lane  # type: ignore[attr-defined]
        outcomes = [
            state.passage_recorder().record(
                replay_passage(v, lane_id="demo-1", run="t", n=i, now_ms=1_750_000_000_000)
            )
            for i, v in enumerate(vehicles)
        ]
        assert [o.action.value for o in outcomes] == ["created", "created"]
        login = client.post("/v1/auth/login", json={"name": "officer", "password": "officer-demo"}).json()
        flags = client.get("/v1/flags").json()["items"]
        assert {f["vehicle_mark"] for f in flags} == {"EM59PPL", "NFS369L"}
        detail = client.get(f"/v1/flags/{outcomes[1].flag_id}").json()
        assert detail["matches"][0]["mark"] == "NF5369L" and detail["matches"][0]["match_type"] == "lookalike"
        assert detail["passages"][0]["passage_uid"].startswith("replay-")
        assert login["csrf_token"]
