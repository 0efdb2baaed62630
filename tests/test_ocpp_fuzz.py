"""Hypothesis-generated OCPP frames for every action, 1.6 and 2.0.1, over real sockets.

Each frame must get its own answer (CALLRESULT or CALLERROR), the connection must stay open,
and another box on the same server must keep working. Payloads are built from the `ocpp`
library's JSON schemas, mostly well-shaped with wrong types, absurd numbers and junk mixed in,
so the handlers behind the schema check are reached too.
"""

from __future__ import annotations

import asyncio
import functools
import json
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ocpp.v16 import call as call16
from ocpp.v16.enums import Action as Action16
from ocpp.v201 import call as call201
from ocpp.v201.enums import Action as Action201
from test_ocpp_support import WAIT_S, connect, raw_client, running_server
from test_ocpp_support import evse as support_evse

pytestmark = pytest.mark.slow

#: examples per version (1-3 frames each); the module takes about 15-30 s on 2 cores
EXAMPLES = 800

JSON_LEAF = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from(["1e308", "-1e308", "NaN", "", "L1", "kWh", "Charging"])
    | st.text(max_size=20)
)
JSON_SMALL = (
    JSON_LEAF
    | st.lists(JSON_LEAF, max_size=2)
    | st.dictionaries(st.text(max_size=4), JSON_LEAF, max_size=2)
)
JSON_ANY = st.recursive(
    JSON_LEAF,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def _schema(version: str, action: str) -> dict[str, Any] | None:
    folder = files("ocpp") / ("v16" if version == "1.6" else "v201") / "schemas"
    name = f"{action}.json" if version == "1.6" else f"{action}Request.json"
    try:
        return json.loads((folder / name).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def _mostly(shaped: st.SearchStrategy[Any], wild: st.SearchStrategy[Any], odds: int = 4) -> Any:
    """The shaped value `odds` times out of `odds + 1`, else anything."""
    return st.integers(0, odds).flatmap(lambda n: wild if n == 0 else shaped)


def _from(schema: dict[str, Any], root: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """Mostly what the schema says, sometimes anything at all."""
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/definitions/"):
        schema = root.get("definitions", {}).get(ref.split("/")[-1], {})
    wild = JSON_ANY if depth < 3 else JSON_SMALL
    kind = schema.get("type")
    if "enum" in schema:
        shaped: st.SearchStrategy[Any] = st.sampled_from(schema["enum"])
    elif kind == "object" and depth < 6:
        props = schema.get("properties", {})
        required = [k for k in schema.get("required", []) if k in props]
        optional = [k for k in props if k not in required]
        shaped = st.fixed_dictionaries(
            {k: _from(props[k], root, depth + 1) for k in required},
            optional={k: _from(props[k], root, depth + 1) for k in optional},
        )
        return _mostly(shaped, wild, 9)
    elif kind == "array" and depth < 6:
        shaped = st.lists(_from(schema.get("items", {}), root, depth + 1), min_size=1, max_size=3)
        return _mostly(shaped, wild, 9)
    elif kind == "integer":
        shaped = st.integers(-3, 40) | st.integers(-(2**40), 2**40)
    elif kind == "number":
        shaped = st.floats(-1e6, 1e6) | st.sampled_from([1e308, -1e308, 0.0])
    elif kind == "boolean":
        shaped = st.booleans()
    elif kind == "string" and schema.get("format") == "date-time":
        shaped = st.sampled_from(["2026-03-01T10:00:00Z", "2026-03-01T10:00:00", "yesterday"])
    elif kind == "string":
        shaped = st.text(max_size=min(schema.get("maxLength", 30) or 30, 40))
    else:
        return wild
    return _mostly(shaped, wild)


#: what boxes send all the time, and what reaches the most code: drawn more often
HOT = (
    "MeterValues",
    "StatusNotification",
    "TransactionEvent",
    "StartTransaction",
    "StopTransaction",
    "BootNotification",
    "Authorize",
)


@functools.cache
def frames(version: str) -> st.SearchStrategy[tuple[str, Any]]:
    """(action, payload) for any action of the version, plus ("", junk text) frames."""
    actions = sorted(a.value for a in (Action16 if version == "1.6" else Action201))
    payloads = {}
    for action in actions:
        schema = _schema(version, action) or {"type": "object"}
        payloads[action] = _from(schema, schema)
    pool = actions + [a for a in HOT if a in payloads] * 10
    call = st.sampled_from(pool).flatmap(lambda a: payloads[a].map(lambda p: (a, p)))
    junk = st.sampled_from(["[2]", "{}", "null", "[3,1,{}]", '[2,"x"]', "\u0000", "[" * 200])
    return _mostly(call, junk.map(lambda j: ("", j)), 19)


class Site:
    """A server with one healthy box and two fuzzed connections (configured and unknown),
    running in its own event loop thread so hypothesis can drive it synchronously."""

    def __init__(self, tmp: Path, version: str) -> None:
        self.version = version
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.seq = 0
        self.run(self._start(tmp))

    def run(self, coro: Any, timeout: float = 30.0) -> Any:
        fut: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return fut.result(timeout)

    async def _start(self, tmp: Path) -> None:
        self._server_cm = running_server(tmp, response_timeout_s=0.3)
        self.server, self.hooks = await self._server_cm.__aenter__()
        support_evse(self.server, "FUZZK")
        self._good_cm = connect(self.server.port, "GOOD", version=self.version)
        self.good = await self._good_cm.__aenter__()
        proto = "ocpp1.6" if self.version == "1.6" else "ocpp2.0.1"
        self.clients = {
            "FUZZK": await raw_client(self.server.port, "FUZZK", proto),
            "FUZZU": await raw_client(self.server.port, "FUZZU", proto),
        }

    async def _stop(self) -> None:
        for ws in self.clients.values():
            await ws.close()
        await self._good_cm.__aexit__(None, None, None)
        await self._server_cm.__aexit__(None, None, None)

    def close(self) -> None:
        try:
            self.run(self._stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()

    async def exchange(self, who: str, action: str, text: str) -> list[Any]:
        ws = self.clients[who]
        self.seq += 1
        uid = f"f{self.seq}"
        if action:
            text = json.dumps([2, uid, action, json.loads(text)])
        else:
            uid = "-1"
        await ws.send(text)
        async with asyncio.timeout(WAIT_S):
            while True:
                msg = json.loads(await ws.recv())
                if isinstance(msg, list) and msg and msg[0] == 2:
                    continue  # the server's own requests: never answered here
                if not action or msg[1] == uid:
                    return msg

    async def healthy(self) -> None:
        if self.version == "1.6":
            await self.good.call(call16.Heartbeat())
        else:
            await self.good.call(call201.Heartbeat())


@pytest.fixture(params=["1.6", "2.0.1"], scope="module")
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    s = Site(tmp_path_factory.mktemp("fuzz"), request.param)
    try:
        yield s
    finally:
        s.close()


def _encode(item: tuple[str, Any]) -> tuple[str, str]:
    action, payload = item
    if not action:
        return "", payload
    return action, json.dumps(payload)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=True,
)
@given(data=st.data())
def test_fuzzed_frames_keep_every_connection(site: Site, data: st.DataObject) -> None:
    who = data.draw(st.sampled_from(["FUZZK", "FUZZU"]))
    batch = data.draw(st.lists(frames(site.version), min_size=1, max_size=3))
    for item in batch:
        action, text = _encode(item)
        reply = site.run(site.exchange(who, action, text))
        assert reply[0] in (3, 4), (action, text, reply)
        if action:
            assert reply[1] is not None
    site.run(site.healthy())
    for ws in site.clients.values():
        assert ws.state.name == "OPEN"
