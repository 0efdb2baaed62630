"""Hostile clients and odd devices against a real `ampshare serve`: never a 500, never a bypass.

Deep JSON, wrong types, methods a path does not have, a device that reports infinity, a login
throttle fooled by X-Forwarded-For, logouts and password changes across a restart.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from manager_process import PASSWORD, ManagerProcess
from ports import free_port

from manager.app import Options, build_manager
from manager.state import State
from web.app import create_app

pytestmark = pytest.mark.slow

DEEP_LIST = "[" * 1000 + "]" * 1000
DEEP_OBJECT = '{"a":' * 1000 + "1" + "}" * 1000


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ManagerProcess]:
    proc = ManagerProcess("serve", data_dir=tmp_path_factory.mktemp("hard") / "data")
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop()


def json_operations(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """(method, path) of every operation that takes a JSON body."""
    ops = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            content = op.get("requestBody", {}).get("content", {}) if isinstance(op, dict) else {}
            if "application/json" in content:
                ops.append((method.upper(), path.replace("{id}", "nonexistent")))
    return ops


def test_deep_json_is_a_422_on_every_json_endpoint(serve: ManagerProcess) -> None:
    ops = json_operations(serve.api.get("/api/openapi.json").json())
    assert len(ops) >= 8
    for method, path in ops:
        for body in (DEEP_LIST, DEEP_OBJECT):
            resp = serve.api.request(
                method, path, content=body, headers={"content-type": "application/json"}
            )
            assert resp.status_code in (400, 422), (method, path, resp.status_code, resp.text)
            (error,) = resp.json()["errors"]
            assert error["field"] == "body" and "nested" in error["message"]


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_numbers_json_cannot_carry_are_a_422(serve: ManagerProcess, number: str) -> None:
    body = '{"site": {"max_power_w": NUMBER}}'.replace("NUMBER", number)
    resp = serve.api.patch(
        "/api/settings", content=body, headers={"content-type": "application/json"}
    )
    assert resp.status_code == 422, resp.text
    assert serve.api.get("/api/settings").json()["site"]["max_power_w"] is None


@pytest.mark.parametrize(
    "body",
    [
        {"id": [None, None]},
        {"id": {}},
        {"id": 5},
        {"kind": "evse", "driver": "sim-evse", "address": ["x"]},
        {"kind": ["evse"], "name": "x"},
        {"kind": "evse", "driver": {"a": 1}, "name": "x"},
        {"kind": "meter", "driver": "sdm630", "name": "x", "address": [1]},
    ],
)
def test_wrong_types_in_a_device_test_are_a_422(serve: ManagerProcess, body: Any) -> None:
    resp = serve.api.post("/api/devices/test", json=body)
    assert resp.status_code == 422, resp.text
    assert resp.json()["errors"] and all("field" in e for e in resp.json()["errors"])


def test_a_method_a_path_does_not_have_is_a_405_with_allow(serve: ManagerProcess) -> None:
    doc = serve.api.get("/api/openapi.json").json()
    verbs = ("get", "post", "patch", "put", "delete")
    for path in doc["paths"]:
        concrete = path.replace("{id}", "x")
        declared = {  # /api/devices/test also matches /api/devices/{id}
            m.upper()
            for template, item in doc["paths"].items()
            if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", template), concrete)
            for m in item
            if m in verbs
        }
        for method in {v.upper() for v in verbs} - declared:
            resp = serve.api.request(method, concrete)
            assert resp.status_code == 405, (method, path, resp.status_code)
            allowed = {m.strip() for m in resp.headers["allow"].split(",")}
            assert declared & allowed, (method, path, allowed)


# -- a device that reports infinity --------------------------------------------------------


def numbers(data: Any) -> Iterator[float]:
    if isinstance(data, dict):
        for v in data.values():
            yield from numbers(v)
    elif isinstance(data, list):
        for v in data:
            yield from numbers(v)
    elif isinstance(data, float):
        yield data


def strict_json(text: str) -> Any:
    def refuse(name: str) -> None:
        raise AssertionError(f"{name} in JSON")

    return json.loads(text, parse_constant=refuse)


def poisoned(state: State) -> State:
    """The state as built when a device reported 1e308 kW (x 1000 = inf) and garbage."""
    snapshot = state.model_dump()
    site = {**snapshot["site"], "grid_w": math.inf, "pv_w": -math.inf, "charge_w": math.nan}
    site["grid_a"] = [math.inf, math.nan, 1.0]
    evses = [{**e, "power_w": math.inf, "session_wh": math.nan} for e in snapshot["evses"]]
    return State.model_validate({**snapshot, "site": site, "evses": evses})


async def test_infinite_readings_never_break_state_page_or_sse(tmp_path: Path) -> None:
    """The real app on a real socket, fed snapshots holding inf and nan wherever numbers go."""
    manager = build_manager(
        Options(data_dir=tmp_path, host="127.0.0.1", ocpp_port=free_port(), demo=True)
    )
    await manager.start()
    service = manager.service
    service.set_admin_password_now(PASSWORD)
    snapshot = service.state
    service.state = lambda: poisoned(snapshot())  # type: ignore[method-assign]

    async def subscribe() -> AsyncIterator[State]:
        while True:
            yield poisoned(snapshot())
            await asyncio.sleep(0.05)

    service.subscribe = subscribe  # type: ignore[method-assign]
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(service), host="127.0.0.1", port=port, log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", auth=("admin", PASSWORD), timeout=10
        ) as client:
            for _ in range(100):
                if server.started:
                    break
                await asyncio.sleep(0.05)
            resp = await client.get("/api/state")
            assert resp.status_code == 200, resp.text
            state = strict_json(resp.text)
            assert state["site"]["grid_w"] is None and state["site"]["grid_a"][2] == 1.0
            assert all(math.isfinite(x) for x in numbers(state))
            assert (await client.get("/")).status_code == 200
            async with client.stream("GET", "/api/events") as stream:
                assert stream.status_code == 200
                async for line in stream.aiter_lines():
                    if line.startswith("data:"):
                        data = strict_json(line[5:])
                        assert data["site"]["grid_w"] is None
                        assert all(math.isfinite(x) for x in numbers(data))
                        break
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        await manager.close()


# -- login ---------------------------------------------------------------------------------


def login_form(proc: ManagerProcess, client: httpx.Client, password: str) -> httpx.Response:
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    return client.post("/login", data={"password": password, "csrf_token": token.group(1)})


def browser(proc: ManagerProcess, cookies: httpx.Cookies | None = None) -> httpx.Client:
    return httpx.Client(base_url=proc.url, timeout=10.0, cookies=cookies)


def logged_in(proc: ManagerProcess, password: str = PASSWORD) -> httpx.Client:
    client = browser(proc)
    assert login_form(proc, client, password).status_code == 303
    return client


def csrf(client: httpx.Client) -> str:
    found = re.search(r'<meta name="csrf-token" content="([^"]+)">', client.get("/").text)
    assert found
    return found.group(1)


def test_forwarded_for_does_not_escape_the_throttle_and_the_owner_gets_in(
    tmp_path: Path,
) -> None:
    proc = ManagerProcess("serve", data_dir=tmp_path / "data")
    try:
        proc.wait_for_port()
        statuses = []
        with httpx.Client(base_url=proc.url, timeout=20.0) as client:
            for n in range(8):
                resp = client.get(
                    "/api/state",
                    auth=("admin", f"guess-{n}"),
                    headers={"x-forwarded-for": f"198.51.100.{n}"},
                )
                statuses.append(resp.status_code)
        assert 429 in statuses, statuses  # the throttle holds whatever the header says
        with browser(proc) as owner:  # the right password still works from that address
            assert login_form(proc, owner, PASSWORD).status_code == 303
            assert owner.get("/api/state").status_code == 200
        with browser(proc) as guesser:  # a wrong one is still refused
            assert login_form(proc, guesser, "wrong-again").status_code in (401, 429)
    finally:
        proc.stop()


def with_cookie(proc: ManagerProcess, cookie: str) -> httpx.Client:
    return browser(proc, httpx.Cookies({"ampshare_session": cookie}))


def test_logout_and_password_change_hold_across_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    proc = ManagerProcess("serve", data_dir=data)
    try:
        proc.wait_ready()
        with closing(logged_in(proc)) as leaving, closing(logged_in(proc)) as staying:
            left = leaving.cookies["ampshare_session"]
            stays = staying.cookies["ampshare_session"]
            assert leaving.post("/logout", data={"csrf_token": csrf(leaving)}).status_code == 303
        with with_cookie(proc, left) as replay:
            assert replay.get("/api/state").status_code == 401
    finally:
        proc.stop()

    proc = ManagerProcess("serve", data_dir=data)
    try:
        proc.wait_ready()
        with with_cookie(proc, left) as replay, with_cookie(proc, stays) as other:
            assert replay.get("/api/state").status_code == 401  # logged out stays out
            assert other.get("/api/state").status_code == 200  # only that session ended
            resp = proc.api.post(
                "/api/admin/password",
                json={"old_password": PASSWORD, "new_password": "new-pw-123"},
            )
            assert resp.status_code == 200, resp.text
            assert other.get("/api/state").status_code == 401
    finally:
        proc.stop()

    proc = ManagerProcess("serve", data_dir=data)
    try:
        proc.wait_for_port()
        with with_cookie(proc, stays) as other:
            assert other.get("/api/state").status_code == 401  # still void after a restart
        with closing(logged_in(proc, "new-pw-123")) as fresh:
            assert fresh.get("/api/state").status_code == 200
    finally:
        proc.stop()


def test_events_survive_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    proc = ManagerProcess("serve", data_dir=data)
    try:
        proc.wait_ready()
        box = {"name": "Box", "kind": "evse", "driver": "sim-evse", "car": "3p16"}
        created = proc.api.post("/api/devices", json=box)
        assert created.status_code == 201, created.text
        resp = proc.api.patch(f"/api/devices/{created.json()['id']}", json={"enabled": False})
        assert resp.status_code == 200, resp.text
        before = proc.api.get("/api/events/log").json()
        assert any(e["kind"] == "deactivated" for e in before)
    finally:
        proc.stop()
    proc = ManagerProcess("serve", data_dir=data)
    try:
        proc.wait_ready()
        after = proc.api.get("/api/events/log").json()
        assert [e for e in after if e["kind"] == "deactivated"] == [
            e for e in before if e["kind"] == "deactivated"
        ]
    finally:
        proc.stop()


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1.0)
        return s.connect_ex(("127.0.0.1", port)) == 0
